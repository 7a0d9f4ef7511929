"""Stage 5: the Proxmox CSI plugin on the CozyStack management cluster (whose nodes are Proxmox VMs).

Real names from the plugin's Helm chart: driver csi.proxmox.sinextra.dev, Deployment proxmox-csi-plugin-controller,
DaemonSet proxmox-csi-plugin-node. A volume handle reads <region>/<zone>/<storage>/<disk>.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from proxqa.config import Settings
from proxqa.kube import manifests
from proxqa.kube.client import KubeClient
from proxqa.kube.storage_classes import proxmox_storage_class
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import Workspace, is_ready, pod_summary
from proxqa.pve.client import PveClient
from proxqa.waits import Deadline, wait_for

CONTROLLER = "proxmox-csi-plugin-controller"
NODE_PLUGIN = "proxmox-csi-plugin-node"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
TOPOLOGY = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone")


@dataclass(frozen=True)
class Volume:
    claim: str
    namespace: str
    node: str               # where its consumer runs
    pv: str
    storage: str
    disk: str
    zone: str               # the Proxmox node whose storage lists the disk (on shared storage: the consumer's)
    phases: dict            # scheduled / provisioned / attached -> seconds

    @property
    def volid(self) -> str:
        return f"{self.storage}:{self.disk}"


@pytest.fixture(scope="package")
def storage_class(settings: Settings, mgmt_kube: KubeClient) -> dict:
    """The StorageClass under test: test.storage_class, else the driver's (the default one first)."""
    try:
        return proxmox_storage_class(mgmt_kube, settings.test.storage_class)
    except LookupError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="package")
def volume_reader(pve_as) -> PveClient:
    """Who lists the plugin's disks: the CSI token when configured (Proxmox shows a volume of a VMID only to who
    may see that VMID's disks, and the plugin's disks belong to no VM), else the suite's own identity."""
    return pve_as("csi")


def parse_handle(handle: str) -> tuple[str, str, str]:
    """(zone, storage, disk) of a volume handle <region>/<zone>/<storage>/<disk>."""
    parts = handle.split("/")
    assert len(parts) == 4, f"volume handle {handle!r} is not <region>/<zone>/<storage>/<disk>"
    return parts[1], parts[2], parts[3]


def vm_of_node(pve: PveClient, node: dict) -> tuple[str, int]:
    """(Proxmox node, VMID) of a Kubernetes node's VM: from a proxmox://<region>/<vmid> providerID, else by name."""
    provider = node["spec"].get("providerID", "")
    vmid = provider.rsplit("/", 1)[-1] if provider.startswith("proxmox://") else ""
    for vm in pve.vm_resources():
        if (vmid.isdigit() and vm.vmid == int(vmid)) or (not vmid.isdigit() and vm.name == node["metadata"]["name"]):
            return vm.node, vm.vmid
    raise AssertionError(f"node {node['metadata']['name']} (providerID {provider or 'none'}) has no VM in Proxmox")


def claim_phase(kube: KubeClient, name: str, namespace: str) -> dict:
    return kube.get("v1", "PersistentVolumeClaim", name, namespace) or {}


def bound_volume(kube: KubeClient, space: Workspace, settings: Settings, storage_class: dict, deadline, names,
                 consumer_image: str | None = None) -> Volume:
    """A claim of the class with a consuming pod (under WaitForFirstConsumer it never binds without one), timed:
    created -> scheduled (the scheduler picked a node) -> provisioned (Bound) -> attached (the pod Ready)."""
    namespace = space.namespace("csi")
    claim, pod = names.new("pvc"), names.new("consumer")
    started = time.perf_counter()
    space.create(manifests.claim(claim, namespace, storage_class["metadata"]["name"], settings.perf.volume_size))
    space.create(manifests.pod(pod, namespace, consumer_image or settings.test.pod_image, claims={claim: "/data"}))
    seen: dict[str, float] = {}

    def observe() -> dict:
        pvc = claim_phase(kube, claim, namespace)
        now = time.perf_counter()
        if SELECTED_NODE in (pvc.get("metadata", {}).get("annotations") or {}):
            seen.setdefault("scheduled", now)
        if (pvc.get("status") or {}).get("phase") == "Bound":
            seen.setdefault("scheduled", now)
            seen.setdefault("provisioned", now)
        return pvc

    pvc = wait_watching([Watched(kube, "v1", "PersistentVolumeClaim", namespace, claim)],
                        f"claim {claim} Bound (with consumer {pod})", observe,
                        done=lambda p: (p.get("status") or {}).get("phase") == "Bound", deadline=deadline("pvc-bound"),
                        show=lambda p: f"{_claim_summary(kube, p)}; {_pod_text(kube, pod, namespace)}")
    running = wait_watching([Watched(kube, "v1", "Pod", namespace, pod)], f"consumer {pod} of {claim} Ready",
                            lambda: kube.get("v1", "Pod", pod, namespace), done=is_ready,
                            deadline=deadline("pod-running"), show=lambda p: _pod_text(kube, pod, namespace))
    attached = time.perf_counter()
    pv = kube.get("v1", "PersistentVolume", pvc["spec"]["volumeName"])
    assert pv is not None, f"claim {claim} is Bound to {pvc['spec']['volumeName']}, which does not exist"
    zone, storage, disk = parse_handle(pv["spec"]["csi"]["volumeHandle"])
    node = running["spec"]["nodeName"]
    phases = {"scheduled": seen["scheduled"] - started, "provisioned": seen["provisioned"] - seen["scheduled"],
              "attached": attached - seen["provisioned"]}
    return Volume(claim, namespace, node, pv["metadata"]["name"], storage, disk, zone or _zone_of(kube, node), phases)


def _zone_of(kube: KubeClient, node: str) -> str:
    """The Proxmox node a Kubernetes node runs on (its zone label): where a disk on shared storage is read, since
    its volume handle names no zone."""
    labels = ((kube.get("v1", "Node", node) or {}).get("metadata") or {}).get("labels") or {}
    zone = labels.get(TOPOLOGY[1], "")
    assert zone, (f"the volume is on shared storage (its handle names no zone) and node {node} has no label "
                  f"{TOPOLOGY[1]}: no Proxmox node to read the disk from")
    return zone


def _pod_text(kube: KubeClient, name: str, namespace: str) -> str:
    pod = kube.get("v1", "Pod", name, namespace)
    return pod_summary(pod) if pod else f"pod {name} gone"


def _claim_summary(kube: KubeClient, pvc: dict) -> str:
    if not pvc:
        return "claim gone"
    events = kube.events_of(pvc)
    warnings = [event for event in events if event.type == "Warning"]
    shown = f"last warning {warnings[-1]}" if warnings else f"last event {events[-1]}" if events else "no events"
    return f"claim {(pvc.get('status') or {}).get('phase', 'no phase')}, {shown}"


def await_disk_gone(pve: PveClient, volume: Volume, deadline: Deadline) -> None:
    wait_for(f"disk {volume.volid} removed from storage {volume.storage} on {volume.zone}",
             lambda: volume.volid in pve.storage_volumes(volume.zone, volume.storage, "images"),
             done=lambda present: not present, deadline=deadline, show=lambda present: "still listed")
