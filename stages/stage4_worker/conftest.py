"""Stage 4: the worker under test, and the real names of the node agents.

capi mode (default): a Proxmox VM made through Cluster API joins the workload cluster, whose kubeconfig Cluster API
keeps in Secret <cluster>-kubeconfig. host mode: the Proxmox host, joined to the management cluster by CozyStack's
proxmox-worker chart, is the worker.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from fixtures.capi import chains_with_cleanup
from proxqa.capi.chain import ChainSpec
from proxqa.capi.factory import CapiChains, Chain
from proxqa.config import Settings
from proxqa.kube.client import KubeClient
from proxqa.naming import Names
from proxqa.waits import Deadline

# (namespace, DaemonSet) of the agents every worker runs in CozyStack
NODE_AGENTS = (("cozy-cilium", "cilium"), ("cozy-kubeovn", "kube-ovn-cni"), ("cozy-kubeovn", "ovs-ovn"))
HOST_LABELS = {"node-role.kubernetes.io/worker": None, "node.kubernetes.io/instance-type": "proxmox"}


@dataclass(frozen=True)
class Worker:
    node: str
    kube: KubeClient            # the cluster the worker joined
    provider_id: str            # the infrastructure's providerID for it (ProxmoxMachine spec.providerID); "" on a host
    proxmox_node: str           # the Proxmox node its VM runs on, or the host itself


@pytest.fixture(scope="package")
def stage_chains(mgmt_kube: KubeClient, names: Names, settings: Settings, request: pytest.FixtureRequest) -> CapiChains:
    """Chains shared by the stage's checks, removed when the stage is done."""
    return chains_with_cleanup(mgmt_kube, names, settings, request)


@pytest.fixture(scope="package")
def worker_chain(settings: Settings, stage_chains: CapiChains, chain_spec: ChainSpec) -> Chain:
    """capi mode: a MachineDeployment of one Proxmox worker, created once for the stage."""
    if settings.test.worker_mode != "capi":
        pytest.skip("worker mode is host")
    return stage_chains.create(chain_spec)


def wait_joined(chains: CapiChains, chain: Chain, deadline: Deadline) -> dict:
    """The chain's Machine once it is Running with a nodeRef; stops at once when the machine or its VM failed."""
    def probe() -> tuple[list[dict], list]:
        return chains.cluster_machines(chain), chains.machines(chain)

    def failed(state) -> str | None:
        machines, proxmox_machines = state
        broken = [f"{m.name}: {m.failure}" for m in proxmox_machines if m.failure]
        broken += [f"Machine {m['metadata']['name']} phase Failed: {m['status'].get('failureMessage', '')}"
                   for m in machines if (m.get("status") or {}).get("phase") == "Failed"]
        return "; ".join(broken) or None

    def show(state) -> str:
        machines, proxmox_machines = state
        shown = [f"Machine {m['metadata']['name']} {(m.get('status') or {}).get('phase', 'no phase')}, nodeRef "
                 f"{((m.get('status') or {}).get('nodeRef') or {}).get('name', 'none')}" for m in machines]
        shown += [f"{m.name}: {'ready' if m.ready else m.reason or 'no condition'}" for m in proxmox_machines]
        return "; ".join(shown) or "no Machine yet"

    machines, _ = chains.wait(chain, ["Machine", "ProxmoxMachine"],
                              f"the Machine of {chain.name} Running with a nodeRef", probe,
                              done=lambda state: len(state[0]) == 1 and _joined(state[0][0]), failed=failed,
                              deadline=deadline, show=show)
    return machines[0]


def _joined(machine: dict) -> bool:
    status = machine.get("status") or {}
    return status.get("phase") == "Running" and bool((status.get("nodeRef") or {}).get("name"))


@pytest.fixture(scope="package")
def worker(settings: Settings, request: pytest.FixtureRequest, mgmt_kube: KubeClient) -> Worker:
    """The joined worker (S4.1 proves the join; the checks that need it are blocked when S4.1 failed)."""
    if settings.test.worker_mode == "host":
        node = next(iter(host_workers(mgmt_kube)), None)
        if node is None:
            pytest.fail("no Proxmox host joined as a worker (see S4.1)")
        zone = node["metadata"]["labels"].get("topology.kubernetes.io/zone", node["metadata"]["name"])
        return Worker(node["metadata"]["name"], mgmt_kube, node["spec"].get("providerID", ""), zone)
    chains: CapiChains = request.getfixturevalue("stage_chains")
    chain: Chain = request.getfixturevalue("worker_chain")
    machine = wait_joined(chains, chain, Deadline(settings.wait_seconds("stage4", "node-ready")))
    vm = chains.machines(chain)[0]
    workload = KubeClient(chains.workload_kubeconfig(chain), f"workload cluster of {chain.name}")
    return Worker(machine["status"]["nodeRef"]["name"], workload, vm.provider_id, vm.proxmox_node)


def host_workers(kube: KubeClient) -> list[dict]:
    """Nodes that are Proxmox hosts joined as workers: a pve kernel and the proxmox-worker chart's labels."""
    selector = ",".join(key if value is None else f"{key}={value}" for key, value in HOST_LABELS.items())
    return [node for node in kube.list("v1", "Node", selector=selector)
            if "pve" in node["status"].get("nodeInfo", {}).get("kernelVersion", "")]
