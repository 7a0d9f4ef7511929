"""Join: the worker becomes a Node of the cluster (capi: Machine Running with a nodeRef, all replicas ready)."""
import pytest

from .conftest import HOST_LABELS, host_workers, wait_joined


@pytest.mark.check("S4.1")
def test_s4_1_worker_joins_the_cluster(settings, request, mgmt_kube, deadline):
    """capi: the Machine is Running with status.nodeRef and the MachineDeployment's readyReplicas equals replicas.
    host: a Node with a pve kernel carries the proxmox-worker chart's labels."""
    if settings.test.worker_mode == "host":
        labels = ", ".join(key if value is None else f"{key}={value}" for key, value in HOST_LABELS.items())
        assert host_workers(mgmt_kube), f"no Node of the management cluster has a pve kernel and labels {labels}"
        return
    chains, chain = request.getfixturevalue("stage_chains"), request.getfixturevalue("worker_chain")
    machine = wait_joined(chains, chain, deadline("node-ready"))

    def counts() -> tuple[int, int]:
        status = chains.machine_deployment(chain).get("status") or {}
        return status.get("readyReplicas") or 0, status.get("replicas") or 0

    chains.wait(chain, ["MachineDeployment"], f"MachineDeployment of {chain.name}: readyReplicas == replicas", counts,
                done=lambda c: c[1] > 0 and c[0] == c[1], deadline=deadline("node-ready"),
                show=lambda c: f"{c[0]} of {c[1]} ready; node {machine['status']['nodeRef']['name']} joined")
