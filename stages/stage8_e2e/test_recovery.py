"""Fault tolerance: a worker VM destroyed in Proxmox is replaced through the MachineHealthCheck (destructive, opt-in)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import allure
import pytest

from proxqa import cozystack
from proxqa.capi.machines import MachineState
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import is_ready
from proxqa.safety import destructive_refusal

from .conftest import WORKERS, Workers, machines, node_condition, proxmox_machines, tenant_kube, \
    wait_workers, workers_watched

CAPI_API = "cluster.x-k8s.io/v1beta1"


@pytest.fixture(scope="session")
def destructive_allowed(pytestconfig, settings) -> None:
    """Skips before the stage makes anything unless the run opted in; session scope sets it up first."""
    refusal = destructive_refusal(flag=pytestconfig.getoption("destructive"),
                                  allowed=settings.test.allow_destructive, production=settings.test.production)
    if refusal:
        pytest.skip(refusal)


@dataclass(frozen=True)
class Victim:
    """The worker destroyed: its ProxmoxMachine, Machine and VM."""
    vm: MachineState
    machine: str
    node: str
    vm_name: str

    def __str__(self) -> str:
        return f"VM {self.vm.vmid} ({self.vm_name}) on {self.node}, Machine {self.machine}"


@dataclass(frozen=True)
class Recovery:
    """The node group after the destruction, as seen at one moment."""
    workers: Workers
    ready_replicas: tuple[int, int]         # the MachineDeployment's readyReplicas, replicas
    victim_machine: dict | None
    nodes: dict[str, dict | None]           # the joined machines' Nodes in the tenant cluster
    health_check: dict | None

    def replaced(self, victim: Victim) -> bool:
        w = self.workers
        return (self.victim_machine is None and victim.vm.name not in {vm.name for vm in w.vms}
                and len(w.vms) == WORKERS and all(vm.ready for vm in w.vms) and len(w.machines) == WORKERS
                and len(w.joined) == WORKERS and self.ready_replicas == (WORKERS, WORKERS)
                and all(is_ready(node) for node in self.nodes.values()))

    def others_failed(self, victim: Victim) -> str | None:
        """A failure of the replacement (the destroyed machine's own troubles are expected)."""
        return Workers([m for m in self.workers.machines if m["metadata"]["name"] != victim.machine],
                       [vm for vm in self.workers.vms if vm.name != victim.vm.name]).failure()

    def show(self, victim: Victim) -> str:
        return "; ".join([
            f"destroyed Machine {victim.machine}: {remediation(self.victim_machine)}", str(self.workers),
            f"MachineDeployment {self.ready_replicas[0]} of {self.ready_replicas[1]} ready",
            *(f"Node {name}: {node_condition(node)}" for name, node in self.nodes.items()),
            health_check_status(self.health_check)])


def remediation(machine: dict | None) -> str:
    """What the MachineHealthCheck made of a machine: unhealthy or not, remediated or not."""
    if machine is None:
        return "gone (remediated)"
    health = cozystack.condition(machine, "HealthCheckSucceeded")
    remediated = cozystack.condition(machine, "OwnerRemediated")
    verdict = (f"HealthCheckSucceeded={health.get('status', 'not set')} {health.get('reason', '')}".rstrip()
               if health else "not checked by a MachineHealthCheck (no HealthCheckSucceeded)")
    deleting = ", being deleted" if machine["metadata"].get("deletionTimestamp") else ""
    return f"{verdict}, {'OwnerRemediated ' + remediated.get('reason', '') if remediated else 'not remediated'}" \
           f"{deleting}"


def health_check_status(check: dict | None) -> str:
    if check is None:
        return "no MachineHealthCheck"
    status = check.get("status") or {}
    allowed = cozystack.condition(check, "RemediationAllowed")
    return (f"MachineHealthCheck {check['metadata']['name']}: {status.get('currentHealthy', '?')} of "
            f"{status.get('expectedMachines', '?')} healthy, remediationsAllowed {status.get('remediationsAllowed', '?')}"
            f", RemediationAllowed={allowed.get('status', 'not set')} {allowed.get('message', '')}".rstrip())


@pytest.mark.check("S8.6")
def test_s8_6_destroyed_worker_vm_is_replaced(destructive_allowed, mgmt_kube, tenant_cluster, pve, capmox_pve,
                                              deadline, sla):
    """One worker VM stopped and destroyed (purged) in Proxmox: the MachineHealthCheck has its Machine replaced, the
    MachineDeployment's readyReplicas equal its replicas again, the new machine's VM runs in Proxmox and its Node is
    Ready in the tenant cluster, all within the recovery SLA."""
    namespace = tenant_cluster.namespace
    before = wait_workers(mgmt_kube, tenant_cluster, WORKERS, deadline("kubernetes-ready"))
    tenant = tenant_kube(mgmt_kube, tenant_cluster)
    victim_vm = before.vms[0]
    in_proxmox = {vm.vmid: vm for vm in pve.vm_resources()}
    assert victim_vm.vmid in in_proxmox, f"worker VM {victim_vm.vmid} of {victim_vm.name} is not in Proxmox"
    machine = next(m["metadata"]["name"] for m in before.machines
                   if m["spec"].get("infrastructureRef", {}).get("name") == victim_vm.name)
    victim = Victim(victim_vm, machine, in_proxmox[victim_vm.vmid].node, in_proxmox[victim_vm.vmid].name)
    allure.attach(str(victim), name="destroyed worker", attachment_type=allure.attachment_type.TEXT)

    started = time.monotonic()
    capmox_pve.wait_task(victim.node, capmox_pve.stop_vm(victim.node, victim.vm.vmid), f"stop task of {victim}",
                         deadline("task"))
    capmox_pve.wait_task(victim.node, capmox_pve.destroy_vm(victim.node, victim.vm.vmid),
                         f"destroy task of {victim}", deadline("task"))

    def state() -> Recovery:
        workers = Workers(machines(mgmt_kube, tenant_cluster), proxmox_machines(mgmt_kube, tenant_cluster))
        md = (mgmt_kube.get(CAPI_API, "MachineDeployment", tenant_cluster.machine_deployment, namespace) or {})
        status = md.get("status") or {}
        return Recovery(workers, (status.get("readyReplicas") or 0, status.get("replicas") or 0),
                        mgmt_kube.get(CAPI_API, "Machine", victim.machine, namespace),
                        {name: tenant.get("v1", "Node", name) for name in workers.joined},
                        mgmt_kube.get(CAPI_API, "MachineHealthCheck", tenant_cluster.machine_deployment, namespace))

    watched = [*workers_watched(mgmt_kube, tenant_cluster), Watched(tenant, "v1", "Node"),
               Watched(mgmt_kube, CAPI_API, "MachineDeployment", namespace, tenant_cluster.machine_deployment)]
    recovered = wait_watching(watched, f"{victim} destroyed in Proxmox: the MachineHealthCheck has the machine "
                              f"replaced and {tenant_cluster.machine_deployment} Ready with a new VM", state,
                              done=lambda r: r.replaced(victim), failed=lambda r: r.others_failed(victim),
                              deadline=deadline("recovery"), show=lambda r: r.show(victim))
    sla.expect("recovery", time.monotonic() - started, threshold="recovery")

    listed = pve.vm_resources()
    assert (victim.vm.vmid, victim.vm_name) not in {(vm.vmid, vm.name) for vm in listed}, (
        f"the destroyed {victim} is in Proxmox again")
    status = {vm.vmid: vm.status for vm in listed}
    not_running = {vm.vmid: status.get(vm.vmid, "absent") for vm in recovered.workers.vms
                   if status.get(vm.vmid) != "running"}
    assert not not_running, f"replacement worker VM(s) of {tenant_cluster.cluster} in Proxmox: {not_running}"
