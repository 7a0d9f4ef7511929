"""Performance: PERF_VM_COUNT VMs requested through Cluster API at once, each timed from its request to a ready
ProxmoxMachine, with at most perf.clone_concurrency clones running at a time."""
from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field

import allure
import pytest

from proxqa.capi.chain import ChainSpec
from proxqa.capi.factory import CapiChains, Chain
from proxqa.capi.machines import MachineState, phase_durations
from proxqa.kube.watching import RESYNC

MIN_SUCCESS_PERCENT = 95.0  # STAGES.md S8.5: at least this share of the VMs must be created
SHOWN = 10                  # failed VMs named in a message; the rest are counted


@dataclass
class VmRun:
    """One requested VM: when it was asked for, the phases seen, and how it ended."""
    requested: float
    ended: float | None = None
    failure: str = ""
    observed: list[tuple[float, str]] = field(default_factory=list)     # (time, phase) from the request on

    def __post_init__(self):
        self.observed.append((self.requested, "machine"))

    @property
    def cloning(self) -> bool:
        """Waiting for or running its clone."""
        return self.ended is None and self.observed[-1][1] in ("machine", "clone")

    @property
    def seconds(self) -> float:
        return self.ended - self.requested

    def phases(self) -> dict[str, float]:
        return phase_durations(self.observed + [(self.ended, "done")], self.requested)


class Fleet:
    """The VMs of one chain, requested by raising its MachineDeployment's replicas whenever fewer than
    `concurrency` of them are waiting for or running their clone: one chain keeps one cleanup and one view of
    the machines, and the steps keep Proxmox's storage locks from timing out."""

    def __init__(self, chains: CapiChains, count: int, concurrency: int, wait: float):
        self._chains, self.count, self._concurrency, self._wait = chains, count, concurrency, wait
        self.vms: dict[str, VmRun] = {}
        self.unseen: deque[float] = deque()      # request times of replicas whose ProxmoxMachine is not there yet
        self.replicas = 0
        self.chain: Chain | None = None

    def start(self, spec: ChainSpec) -> None:
        self.replicas = min(self.count, self._concurrency)
        self.unseen.extend([time.perf_counter()] * self.replicas)
        self.chain = self._chains.create(dataclasses.replace(spec, replicas=self.replicas))

    def poll(self) -> None:
        now = time.perf_counter()
        for machine in self._chains.machines(self.chain):
            vm = self.vms.get(machine.name)
            if vm is None:
                vm = self.vms[machine.name] = VmRun(self.unseen.popleft() if self.unseen else now)
            if vm.ended is None:
                self._observe(vm, machine, now)
        self._time_out(now)
        self._request_more(now)

    def _observe(self, vm: VmRun, machine: MachineState, now: float) -> None:
        vm.observed.append((now, machine.phase))
        if machine.ready:
            vm.ended = now
        elif machine.failure:
            vm.ended, vm.failure = now, machine.failure
        elif now - vm.requested > self._wait:
            vm.ended, vm.failure = now, f"not ready within {self._wait:g} s (phase {machine.phase})"

    def _time_out(self, now: float) -> None:
        while self.unseen and now - self.unseen[0] > self._wait:
            requested = self.unseen.popleft()
            self.vms[f"replica #{len(self.vms) + 1}"] = VmRun(requested, ended=now, failure=(
                f"no ProxmoxMachine within {self._wait:g} s of raising replicas"))

    def _request_more(self, now: float) -> None:
        cloning = len(self.unseen) + sum(vm.cloning for vm in self.vms.values())
        more = min(self.count - self.replicas, self._concurrency - cloning)
        if more > 0:
            self.replicas += more
            self.unseen.extend([now] * more)
            self._chains.scale(self.chain, self.replicas)

    def next_timeout(self) -> float:
        """Seconds until the first VM still waited for (or replica not yet seen) runs out of time."""
        waiting = [vm.requested for vm in self.vms.values() if vm.ended is None] + list(self.unseen)
        return min(waiting, default=time.perf_counter()) + self._wait - time.perf_counter()

    @property
    def finished(self) -> bool:
        return (self.replicas == self.count and not self.unseen
                and all(vm.ended is not None for vm in self.vms.values()))

    def failed(self) -> dict[str, VmRun]:
        return {name: vm for name, vm in self.vms.items() if vm.failure}


def creation_table(fleet: Fleet, wall: float) -> str:
    """Each VM's creation time with its phases, and how far the VMs' waits overlapped: the fleet's wall time against
    its slowest VM and against the sum of all VMs' times."""
    rows = [f"{name}: {vm.seconds:.1f} s " + (f"FAILED {vm.failure}" if vm.failure else "(" + ", ".join(
        f"{phase} {seconds:.1f}" for phase, seconds in vm.phases().items()) + ")")
        for name, vm in sorted(fleet.vms.items(), key=lambda item: item[1].requested)]
    slowest, total = max(vm.seconds for vm in fleet.vms.values()), sum(vm.seconds for vm in fleet.vms.values())
    return "\n".join(rows + [f"wall {wall:.1f} s for {len(fleet.vms)} VMs: {wall / slowest:.2f} x the slowest VM "
                              f"({slowest:.1f} s), {wall / total:.2f} x the sum of all ({total:.1f} s)"])


def failures(failed: dict[str, VmRun]) -> str:
    shown = "; ".join(f"{name}: {vm.failure}" for name, vm in list(failed.items())[:SHOWN])
    return shown + (f"; and {len(failed) - SHOWN} more" if len(failed) > SHOWN else "")


@pytest.mark.check("S8.5")
def test_s8_5_vms_created_in_parallel_within_sla(capi_chains, chain_spec, settings, deadline, sla):
    """PERF_VM_COUNT VMs through one MachineDeployment, at most perf.clone_concurrency cloning at once; pass when
    at least 95 % become ready ProxmoxMachines and each did so within sla.vm_create (p50/p95/max and the slowest
    VM's phases reported)."""
    perf = settings.perf
    fleet = Fleet(capi_chains, perf.vm_count, perf.clone_concurrency, deadline("vm-ready").seconds)
    started = time.perf_counter()
    fleet.start(chain_spec)
    with capi_chains.changes(fleet.chain, ["ProxmoxMachine"]) as changes:
        fleet.poll()
        while not fleet.finished:
            changes.wait(min(RESYNC, max(fleet.next_timeout(), 0.0)))    # each change is seen as it happens
            fleet.poll()
    table = creation_table(fleet, time.perf_counter() - started)
    print(table)
    allure.attach(table, name="VM creation times and phases", attachment_type=allure.attachment_type.TEXT)
    failed, total = fleet.failed(), len(fleet.vms)
    percent = 100.0 * (total - len(failed)) / total
    assert percent >= MIN_SUCCESS_PERCENT, (
        f"{total - len(failed)} of {total} VMs created ({percent:.1f} %), below {MIN_SUCCESS_PERCENT:g} %: "
        f"{failures(failed)}")
    created = [vm for vm in fleet.vms.values() if not vm.failure]
    slowest = max(created, key=lambda vm: vm.seconds)
    sla.expect("vm-created-to-ready", slowest.seconds, threshold="vm_create", samples=[vm.seconds for vm in created],
               phases=slowest.phases(), detail=f"{len(created)} VMs, at most {perf.clone_concurrency} cloning at once")
