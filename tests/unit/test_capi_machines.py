"""Reading ProxmoxMachine state and provisioning phases."""
from proxqa.capi.chain import ChainSpec
from proxqa.capi.machines import machine_state, phase_durations


def _machine(status, spec=None):
    return {"metadata": {"name": "m1"}, "spec": spec or {}, "status": status}


def test_cloning_machine_is_in_the_clone_phase():
    state = machine_state(_machine({"conditions": [{"type": "VMProvisioned", "status": "False",
                                                     "reason": "Cloning"}]}))
    assert (state.phase, state.ready, state.failure) == ("clone", False, "")


def test_ready_machine_carries_vmid_and_provider_id():
    state = machine_state(_machine({"ready": True, "conditions": [{"type": "VMProvisioned", "status": "True"}]},
                                   {"virtualMachineID": 123, "providerID": "proxmox://abc"}))
    assert (state.phase, state.vmid, state.provider_id) == ("done", 123, "proxmox://abc")


def test_clone_failure_is_named_with_its_message():
    state = machine_state(_machine({"conditions": [{"type": "VMProvisioned", "status": "False",
                                                     "reason": "CloningFailed", "message": "no template 9999"}]}))
    assert state.failure == "CloningFailed: no template 9999"


def test_phase_durations_add_up_per_phase():
    observed = [(1.0, "machine"), (2.0, "clone"), (5.0, "config"), (6.0, "power-on"), (9.0, "ip"), (10.0, "done")]
    assert phase_durations(observed, started=0.0) == {"machine": 2.0, "clone": 3.0, "config": 1.0, "power-on": 3.0,
                                                      "ip": 1.0}


def test_pool_membership_of_a_range():
    spec = ChainSpec("pve1", 9000, ("pve1",), "vmbr0", 2, 2048, 20, "10.10.10.100-10.10.10.150", 24, "10.10.10.1",
                     ("10.10.10.1",), "10.10.10.10", 6443, 9900, 9999)
    assert [spec.in_pool(a) for a in ("10.10.10.100", "10.10.10.150", "10.10.10.151", None)] == [
        True, True, False, False]
