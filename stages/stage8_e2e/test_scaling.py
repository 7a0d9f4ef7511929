"""Scaling: the tenant cluster's node group grows by a Proxmox VM and a Ready Node, and shrinks by one VM."""
import time

import pytest

from proxqa import cozystack
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import is_ready
from proxqa.waits import wait_for

from .conftest import WORKERS, node_condition, tenant_kube, wait_workers


@pytest.mark.check("S8.4")
def test_s8_4_node_group_scales_with_proxmox_vms(mgmt_kube, tenant_cluster, pve, deadline, sla):
    """minReplicas +1: a new VM runs in Proxmox and its Node is Ready in the tenant cluster within the VM creation
    SLA; minReplicas -1: the VM of the machine scaled away is gone from /cluster/resources."""
    name, namespace = tenant_cluster.name, tenant_cluster.namespace
    before = wait_workers(mgmt_kube, tenant_cluster, WORKERS, deadline("kubernetes-ready"))
    tenant = tenant_kube(mgmt_kube, tenant_cluster)

    started = time.monotonic()
    cozystack.scale_node_group(mgmt_kube, name, namespace, WORKERS + 1)
    grown = wait_workers(mgmt_kube, tenant_cluster, WORKERS + 1, deadline("node-ready"))
    new_nodes = sorted(set(grown.joined) - set(before.joined))
    wait_watching([Watched(tenant, "v1", "Node")], f"new Node(s) {', '.join(new_nodes)} Ready in the tenant cluster",
                  lambda: {node: tenant.get("v1", "Node", node) for node in new_nodes},
                  done=lambda seen: all(is_ready(node) for node in seen.values()), deadline=deadline("node-ready"),
                  show=lambda seen: "; ".join(f"{name}: {node_condition(node)}" for name, node in seen.items()))
    sla.expect("scale-up-node-ready", time.monotonic() - started, threshold="vm_create")
    added = [vm.vmid for vm in grown.vms if vm.vmid not in {old.vmid for old in before.vms}]
    status = {vm.vmid: vm.status for vm in pve.vm_resources()}
    assert [status.get(vmid, "absent") for vmid in added] == ["running"], (
        f"scaled to {WORKERS + 1}: new VM(s) {added} in Proxmox: {[status.get(v, 'absent') for v in added]}")

    cozystack.scale_node_group(mgmt_kube, name, namespace, WORKERS)
    shrunk = wait_workers(mgmt_kube, tenant_cluster, WORKERS, deadline("delete"))
    removed = {vm.vmid for vm in grown.vms} - {vm.vmid for vm in shrunk.vms}
    assert len(removed) == 1, f"scaled from {WORKERS + 1} to {WORKERS}: VMs {sorted(removed)} left the node group"
    wait_for(f"VM(s) {sorted(removed)} of the machine scaled away gone from /cluster/resources",
             lambda: sorted(removed & {vm.vmid for vm in pve.vm_resources()}), done=lambda left: not left,
             deadline=deadline("delete"), show=lambda left: f"still listed: {left}")
