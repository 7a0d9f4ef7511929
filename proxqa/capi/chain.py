"""The full CAPI chain for test VMs: Cluster -> ProxmoxCluster, MachineDeployment -> ProxmoxMachineTemplate.

Never a bare ProxmoxMachine: without an owner Machine it waits forever. Pure data here; creating and
deleting is the factory's job.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched

CAPI = ("cluster.x-k8s.io", "v1beta1")
CAPMOX = ("infrastructure.cluster.x-k8s.io", "v1alpha1")
BOOTSTRAP = ("bootstrap.cluster.x-k8s.io", "v1beta1")

# kind -> (group, version, plural)
KINDS = {
    "Cluster": (*CAPI, "clusters"),
    "MachineDeployment": (*CAPI, "machinedeployments"),
    "Machine": (*CAPI, "machines"),
    "ProxmoxCluster": (*CAPMOX, "proxmoxclusters"),
    "ProxmoxMachineTemplate": (*CAPMOX, "proxmoxmachinetemplates"),
    "ProxmoxMachine": (*CAPMOX, "proxmoxmachines"),
    "KubeadmConfigTemplate": (*BOOTSTRAP, "kubeadmconfigtemplates"),
}


def watched(kube: KubeClient, kind: str, namespace: str, selector: str) -> Watched:
    """A watch on the objects of a CAPI kind that match the selector: a wait on them looks again when one changes."""
    group, version, _ = KINDS[kind]
    return Watched(kube, f"{group}/{version}", kind, namespace, selector=selector)


@dataclass(frozen=True)
class ChainSpec:
    """What the test VMs look like and where they go; every value comes from the settings or discovery."""
    source_node: str
    template_id: int
    allowed_nodes: tuple[str, ...]
    bridge: str
    cores: int
    memory_mib: int
    disk_gib: int
    ip_range: str                       # "10.10.10.100-10.10.10.150"
    ip_prefix: int
    gateway: str
    dns_servers: tuple[str, ...]
    control_plane_host: str
    control_plane_port: int
    vmid_start: int
    vmid_end: int
    replicas: int = 1

    def in_pool(self, address: str | None) -> bool:
        """True when address lies in ip_range ("first-last", or a single address)."""
        if not address:
            return False
        first, _, last = self.ip_range.partition("-")
        low, high = ipaddress.ip_address(first.strip()), ipaddress.ip_address((last or first).strip())
        return low <= ipaddress.ip_address(address) <= high


def _ref(kind: str, name: str) -> dict:
    group, version, _ = KINDS[kind]
    return {"apiVersion": f"{group}/{version}", "kind": kind, "name": name}


def _object(kind: str, name: str, namespace: str, labels: dict, spec: dict) -> dict:
    group, version, _ = KINDS[kind]
    return {"apiVersion": f"{group}/{version}", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}, "spec": spec}


def manifests(name: str, namespace: str, spec: ChainSpec, labels: dict[str, str]) -> list[dict]:
    """The chain's objects in creation order."""
    cluster_labels = {**labels, "cluster.x-k8s.io/cluster-name": name}
    return [
        _object("ProxmoxCluster", name, namespace, cluster_labels, {
            "controlPlaneEndpoint": {"host": spec.control_plane_host, "port": spec.control_plane_port},
            "ipv4Config": {"addresses": [spec.ip_range], "prefix": spec.ip_prefix, "gateway": spec.gateway},
            "dnsServers": list(spec.dns_servers), "allowedNodes": list(spec.allowed_nodes)}),
        _object("Cluster", name, namespace, cluster_labels, {
            "infrastructureRef": {**_ref("ProxmoxCluster", name), "namespace": namespace}}),
        _object("KubeadmConfigTemplate", f"{name}-workers", namespace, cluster_labels, {"template": {"spec": {}}}),
        _object("ProxmoxMachineTemplate", f"{name}-workers", namespace, cluster_labels, {"template": {"spec": {
            "sourceNode": spec.source_node, "templateID": spec.template_id, "full": True,
            "numSockets": 1, "numCores": spec.cores, "memoryMiB": spec.memory_mib,
            "disks": {"bootVolume": {"disk": "scsi0", "sizeGb": spec.disk_gib}},
            "network": {"default": {"bridge": spec.bridge, "model": "virtio"}},
            "vmIDRange": {"start": spec.vmid_start, "end": spec.vmid_end}}}}),
        _object("MachineDeployment", f"{name}-workers", namespace, cluster_labels, {
            "clusterName": name, "replicas": spec.replicas,
            "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": name}},
            "template": {"metadata": {"labels": cluster_labels}, "spec": {
                "clusterName": name, "version": "v1.30.0",
                "bootstrap": {"configRef": _ref("KubeadmConfigTemplate", f"{name}-workers")},
                "infrastructureRef": _ref("ProxmoxMachineTemplate", f"{name}-workers")}}}),
    ]
