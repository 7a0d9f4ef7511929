"""The StorageClass of the Proxmox CSI plugin on a cluster: the one the settings name, else the driver's."""
from __future__ import annotations

from proxqa.kube.client import KubeClient

DRIVER = "csi.proxmox.sinextra.dev"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def storage_classes_of_driver(kube: KubeClient) -> list[dict]:
    """The driver's StorageClasses, the default one first."""
    return sorted((sc for sc in kube.list("storage.k8s.io/v1", "StorageClass") if sc.get("provisioner") == DRIVER),
                  key=lambda sc: (sc["metadata"].get("annotations", {}).get(DEFAULT_CLASS) != "true",
                                  sc["metadata"]["name"]))


def proxmox_storage_class(kube: KubeClient, named: str | None) -> dict:
    """StorageClass named (test.storage_class), else the driver's; LookupError saying what is missing."""
    if named:
        found = kube.get("storage.k8s.io/v1", "StorageClass", named)
        if found is None:
            raise LookupError(f"StorageClass {named} (TEST_STORAGE_CLASS) does not exist on the {kube.name}")
        return found
    classes = storage_classes_of_driver(kube)
    if not classes:
        raise LookupError(f"no StorageClass on the {kube.name} has provisioner {DRIVER}")
    return classes[0]
