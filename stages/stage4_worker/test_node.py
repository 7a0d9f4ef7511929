"""The worker's Node: Ready and schedulable, and identified as its Proxmox VM."""
import pytest

from proxqa.kube.watching import Watched, wait_watching

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
TOPOLOGY = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone")


def _ready(node: dict) -> str:
    return next((c["status"] for c in node["status"].get("conditions") or [] if c["type"] == "Ready"), "Unknown")


def _blocking_taints(node: dict) -> list[str]:
    return [f"{t['key']}:{t['effect']}" for t in node["spec"].get("taints") or [] if t["effect"] in BLOCKING_EFFECTS]


@pytest.mark.check("S4.2")
def test_s4_2_worker_is_ready_and_schedulable(worker, deadline):
    """Ready=True and no NoSchedule/NoExecute taint (node.cilium.io/agent-not-ready, ...uninitialized, not-ready)."""
    wait_watching([Watched(worker.kube, "v1", "Node", name=worker.node)],
                  f"node {worker.node} Ready without blocking taints",
                  lambda: worker.kube.get("v1", "Node", worker.node),
                  done=lambda node: node is not None and _ready(node) == "True" and not _blocking_taints(node),
                  deadline=deadline("node-ready"),
                  show=lambda node: "gone" if node is None else
                  f"Ready={_ready(node)}, taints: {', '.join(_blocking_taints(node)) or 'none'}")


@pytest.mark.check("S4.3")
def test_s4_3_worker_identity_matches_its_vm(worker):
    """Node.spec.providerID equals the infrastructure's (ProxmoxMachine spec.providerID); the topology labels are
    set and the zone is the Proxmox node the VM runs on."""
    node = worker.kube.get("v1", "Node", worker.node)
    assert node is not None, f"node {worker.node} is gone"
    labels = node["metadata"].get("labels") or {}
    problems = []
    if worker.provider_id and node["spec"].get("providerID") != worker.provider_id:
        problems.append(f"providerID {node['spec'].get('providerID') or '(none)'}, the ProxmoxMachine says "
                        f"{worker.provider_id}")
    problems += [f"no label {key}" for key in TOPOLOGY if not labels.get(key)]
    zone = labels.get(TOPOLOGY[1])
    if zone and zone != worker.proxmox_node:
        problems.append(f"zone {zone}, but its VM runs on Proxmox node {worker.proxmox_node}")
    assert not problems, f"node {worker.node}: " + "; ".join(problems)
