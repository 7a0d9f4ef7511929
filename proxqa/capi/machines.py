"""What a ProxmoxMachine says about its VM, and the provisioning phases read from its conditions."""
from __future__ import annotations

from dataclasses import dataclass

# CAPMOX VMProvisioned condition reasons -> the phase of VM creation they belong to.
PHASE_OF_REASON = {
    "Cloning": "clone",
    "WaitingForDiskReconcilation": "config", "WaitingForStaticIPAllocation": "config",
    "WaitingForBootstrapReady": "config", "WaitingForBootstrapData": "config",
    "PoweringOn": "power-on", "WaitingForVMPowerUp": "power-on",
}
PHASES = ("machine", "clone", "config", "power-on", "ip")     # "machine": until CAPI made the ProxmoxMachine
FAILED_REASONS = ("CloningFailed", "VMProvisionFailed")


@dataclass(frozen=True)
class MachineState:
    name: str
    ready: bool
    vmid: int | None
    provider_id: str
    reason: str                 # reason of the VMProvisioned condition ("" once it is True)
    failure: str                # failureReason: failureMessage, or a failed condition's message
    proxmox_node: str = ""      # where the VM runs (status.proxmoxNode)

    @property
    def phase(self) -> str:
        return "done" if self.ready else PHASE_OF_REASON.get(self.reason, "ip" if self.vmid else "clone")


def machine_state(obj: dict) -> MachineState:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    cond = next((c for c in status.get("conditions", []) if c.get("type") == "VMProvisioned"), {})
    reason = "" if cond.get("status") == "True" else cond.get("reason", "")
    failure = ""
    if status.get("failureReason") or status.get("failureMessage"):
        failure = f"{status.get('failureReason', '')}: {status.get('failureMessage', '')}"
    elif reason in FAILED_REASONS:
        failure = f"{reason}: {cond.get('message', '')}"
    return MachineState(obj["metadata"]["name"], bool(status.get("ready")), spec.get("virtualMachineID"),
                        spec.get("providerID", ""), reason, failure, status.get("proxmoxNode", ""))


def phase_durations(observed: list[tuple[float, str]], started: float) -> dict[str, float]:
    """Seconds spent per phase, from (time, phase) observations in time order, the first phase from started.

    A phase seen only in passing between two polls gets the time up to the next observation."""
    durations = {phase: 0.0 for phase in PHASES}
    previous_time, previous_phase = started, observed[0][1] if observed else "machine"
    for when, phase in observed:
        if previous_phase in durations:
            durations[previous_phase] += when - previous_time
        previous_time, previous_phase = when, phase
    return durations
