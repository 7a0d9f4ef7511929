"""Provisioning: a MachineDeployment of one replica becomes a running, correctly configured VM in Proxmox."""
import re
import time

import pytest

from proxqa.capi.machines import phase_durations


def _size_gib(drive: str) -> float:
    found = re.search(r"size=(\d+(?:\.\d+)?)([KMGT])", drive)
    scale = {"K": 1 / 1024 ** 2, "M": 1 / 1024, "G": 1, "T": 1024}
    return float(found[1]) * scale[found[2]] if found else 0.0


@pytest.mark.check("S3.6")
def test_s3_6_machine_becomes_running_vm_within_sla(capi_chains, chain_spec, pve, pve_as, deadline,
                                                    sla):
    """Create the full chain; pass when ProxmoxMachine status.ready is true, its VM is in /cluster/resources on an
    allowed node, running, configured as specified, with a guest-agent IP from the pool. SLA: created -> ready."""
    started = time.perf_counter()
    chain = capi_chains.create(chain_spec)
    observed: list[tuple[float, str]] = []

    def probe():
        machines = capi_chains.machines(chain)
        observed.append((time.perf_counter(), machines[0].phase if machines else "machine"))
        return machines[0] if machines else None

    machine = capi_chains.wait(chain, ["ProxmoxMachine"], f"ProxmoxMachine of {chain.name} ready", probe,
                               done=lambda m: m is not None and m.ready, failed=lambda m: m.failure if m else None,
                               deadline=deadline("vm-ready"),
                               show=lambda m: f"{m.name}: {m.reason or 'no condition yet'}" if m
                               else "no ProxmoxMachine yet")
    elapsed = time.perf_counter() - started
    vm = next((v for v in pve.vm_resources() if v.vmid == machine.vmid), None)
    assert vm is not None, f"{machine.name} says VMID {machine.vmid}; /cluster/resources does not list it"
    config = pve.vm_config(vm.node, vm.vmid)
    problems = []
    if vm.node not in chain_spec.allowed_nodes:
        problems.append(f"on node {vm.node}, not among allowedNodes {', '.join(chain_spec.allowed_nodes)}")
    if vm.status != "running":
        problems.append(f"status {vm.status}, not running")
    wanted = {"cores": str(chain_spec.cores), "memory": str(chain_spec.memory_mib)}
    problems += [f"{key}={config.get(key)}, spec says {value}" for key, value in wanted.items()
                 if config.get(key) != value]
    if f"bridge={chain_spec.bridge}" not in (config.get("net0") or ""):
        problems.append(f"net0={config.get('net0')}, spec says bridge {chain_spec.bridge}")
    if _size_gib(config.get("scsi0") or "") != chain_spec.disk_gib:
        problems.append(f"scsi0={config.get('scsi0')}, spec says {chain_spec.disk_gib} GiB")
    address = pve_as("ccm").guest_ipv4(vm.node, vm.vmid)
    if not chain_spec.in_pool(address):
        problems.append(f"guest agent reports {address or 'no IPv4'}, not an address of {chain_spec.ip_range}")
    assert not problems, f"VM {vm.vmid} of {machine.name}: " + "; ".join(problems)
    sla.expect("vm-created-to-ready", elapsed, threshold="vm_create",
               phases=phase_durations(observed + [(time.perf_counter(), "done")], started))
