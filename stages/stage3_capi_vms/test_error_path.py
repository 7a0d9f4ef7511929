"""Error path: a machine whose template does not exist shows why, instead of hanging silently."""
import dataclasses

import pytest



@pytest.mark.check("S3.8")
def test_s3_8_missing_template_shows_a_failure_condition(capi_chains, chain_spec, pve, deadline):
    """A ProxmoxMachineTemplate naming a VMID that is no template makes the machine fail visibly (CloningFailed or
    failureReason) within the wait."""
    missing = max((vm.vmid for vm in pve.vm_resources()), default=100) + 100000
    chain = capi_chains.create(dataclasses.replace(chain_spec, template_id=missing))

    def first_machine():
        machines = capi_chains.machines(chain)
        return machines[0] if machines else None

    machine = capi_chains.wait(chain, ["ProxmoxMachine"], f"a failure condition on the machine of {chain.name} "
                               f"(template {missing} does not exist)", first_machine,
                               done=lambda m: m is not None and bool(m.failure), deadline=deadline("machine-failed"),
                               show=lambda m: f"{m.name}: {m.reason or 'no condition'}, no failure shown" if m
                               else "no ProxmoxMachine")
    assert not machine.ready, f"{machine.name} is ready although template {missing} does not exist"
