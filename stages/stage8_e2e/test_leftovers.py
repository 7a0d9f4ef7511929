"""Nothing left behind: once the stage's objects are deleted, neither cluster nor Proxmox holds anything of the
run."""
from __future__ import annotations

import pytest

from proxqa import cozystack
from proxqa.kube.client import KubeClient
from proxqa.naming import Names
from proxqa.pve.client import PveClient

from .conftest import Stage

# (apiVersion, kind, plural) of what the suite makes in the management cluster, all carrying the run label
LABELLED_KINDS = (
    ("v1", "Namespace", "namespaces"), ("v1", "Pod", "pods"), ("v1", "Service", "services"),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims"), ("v1", "ConfigMap", "configmaps"),
    ("v1", "Secret", "secrets"), ("apps/v1", "Deployment", "deployments"), ("apps/v1", "StatefulSet", "statefulsets"),
    ("apps/v1", "DaemonSet", "daemonsets"), ("batch/v1", "Job", "jobs"),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    ("cluster.x-k8s.io/v1beta1", "Cluster", "clusters"),
    ("cluster.x-k8s.io/v1beta1", "MachineDeployment", "machinedeployments"),
    ("cluster.x-k8s.io/v1beta1", "Machine", "machines"),
    ("infrastructure.cluster.x-k8s.io/v1alpha1", "ProxmoxCluster", "proxmoxclusters"),
    ("infrastructure.cluster.x-k8s.io/v1alpha1", "ProxmoxMachine", "proxmoxmachines"),
    (cozystack.APPS_API, "Tenant", "tenants"), (cozystack.APPS_API, "Kubernetes", "kuberneteses"),
)
APP_LABEL_PREFIX = "apps.cozystack.io-"     # an app's own labels, as its HelmRelease carries them


def labelled_leftovers(kube: KubeClient, names: Names, working_namespace: str) -> list[str]:
    """"Kind namespace/name" of every object with the labels of the run and of this worker (other workers of a
    parallel run may still be busy with theirs; the suite's working namespace itself stays until the session
    ends), and of every HelmRelease made for such an app."""
    selector = ",".join(f"{key}={value}" for key, value in names.labels.items())
    served: dict[str, set[str]] = {}
    found = []
    for api_version, kind, plural in LABELLED_KINDS:
        if plural not in served.setdefault(api_version, kube.served_resources(api_version)):
            continue
        found += [f"{kind} {_where(obj)}" for obj in kube.list(api_version, kind, selector=selector)
                  if not (kind == "Namespace" and obj["metadata"]["name"] == working_namespace)]
    app_selector = ",".join(f"{APP_LABEL_PREFIX}{key}={value}" for key, value in names.labels.items())
    found += [f"HelmRelease {_where(hr)}" for hr in kube.list(cozystack.HELM_API, "HelmRelease", selector=app_selector)]
    return found


def _where(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def proxmox_leftovers(pve: PveClient, names: Names, stage: Stage) -> list[str]:
    """VMs named after the run (test VMs qa-<run>-..., tenant workers kubernetes-qa-<run>-...), and the stage's
    worker VMs and their cloud-init ISOs."""
    prefix = names.prefix
    vms = {vm.vmid: vm for vm in pve.vm_resources()}
    found = [f"VM {vm.vmid} {vm.name} on {vm.node}" for vm in vms.values()
             if vm.name.startswith((prefix, "kubernetes-" + prefix))]
    found += [f"VM {worker.vmid} on {vms[worker.vmid].node}" for worker in stage.worker_vms
              if worker.vmid in vms and not vms[worker.vmid].name.startswith((prefix, "kubernetes-" + prefix))]
    for worker in stage.worker_vms:
        found += [f"ISO {volid} on {worker.node}" for volid in worker.isos
                  if volid in pve.storage_volumes(worker.node, volid.split(":", 1)[0], "iso")]
    return found


@pytest.mark.check("S8.10")
def test_s8_10_nothing_left_behind(settings, stage, mgmt_kube, pve, names):
    """After the stage's Kubernetes app and Tenant are deleted (and waited for), no object of the run remains in
    the management cluster, the stage's tenant namespaces are gone, and Proxmox holds no VM of the run and none of
    the stage's worker VMs or their cloud-init ISOs."""
    if settings.keep_test_resources:
        pytest.skip("KEEP_TEST_RESOURCES is set: the run keeps what it made")
    stage.tear_down()
    left = labelled_leftovers(mgmt_kube, names, settings.test.namespace)
    left += [f"Namespace {cozystack.tenant_namespace(name)}" for name in stage.tenants
             if mgmt_kube.get("v1", "Namespace", cozystack.tenant_namespace(name)) is not None]
    left += proxmox_leftovers(pve, names, stage)
    assert not left, f"after the stage, {len(left)} object(s) of run {names.label_value} remain: {'; '.join(left)}"
