"""Lifecycle: CAPMOX starts a VM stopped behind its back, follows the MachineDeployment's scale, and removes the
VMs and their cloud-init ISOs when the chain is deleted."""
import pytest

from proxqa.pve.client import PveClient
from proxqa.waits import wait_for


def _vm_status(pve: PveClient, vmid: int) -> str:
    """The VM's status in /cluster/resources, or "absent"."""
    return next((vm.status for vm in pve.vm_resources() if vm.vmid == vmid), "absent")


def _node_of(pve: PveClient, vmid: int) -> str:
    vm = next((vm for vm in pve.vm_resources() if vm.vmid == vmid), None)
    assert vm is not None, f"VM {vmid} is not in /cluster/resources"
    return vm.node


def _cloud_init_iso(pve: PveClient, vmid: int) -> tuple[str, str]:
    """(node, volid) of the ISO image attached to the VM as a CD-ROM (CAPMOX's cloud-init ISO)."""
    node = _node_of(pve, vmid)
    config = pve.vm_config(node, vmid)
    isos = config.cdrom_isos()
    assert isos, f"VM {vmid} has no ISO attached as CD-ROM; config: {config.values}"
    return node, isos[0]


def _iso_present(pve: PveClient, node: str, volid: str) -> bool:
    storage = volid.split(":", 1)[0]
    return volid in pve.storage_volumes(node, storage, "iso")


@pytest.mark.check("S3.7")
def test_s3_7_vm_lifecycle_follows_the_machines(capi_chains, chain_spec, pve, capmox_pve, deadline):
    """A VM stopped in Proxmox runs again; scaling 1->2->1 adds and removes a VM; deleting the chain removes the
    VMs and their cloud-init ISOs."""
    chain = capi_chains.create(chain_spec)
    first = capi_chains.wait_ready(chain, 1, deadline("vm-ready"))[0]

    node = _node_of(pve, first.vmid)
    capmox_pve.wait_task(node, capmox_pve.stop_vm(node, first.vmid), f"stop task of VM {first.vmid}", deadline("task"))
    wait_for(f"VM {first.vmid}, stopped in Proxmox, running again through CAPMOX",
             lambda: _vm_status(pve, first.vmid), done=lambda status: status == "running",
             deadline=deadline("vm-restarted"))

    capi_chains.scale(chain, 2)
    both = capi_chains.wait_ready(chain, 2, deadline("vm-ready"))
    added = next(m for m in both if m.name != first.name)
    assert _vm_status(pve, added.vmid) == "running", \
        f"scaled to 2: {added.name} is ready, its VM {added.vmid} is {_vm_status(pve, added.vmid)} in Proxmox"
    isos = {m.vmid: _cloud_init_iso(pve, m.vmid) for m in both}

    capi_chains.scale(chain, 1)
    kept = capi_chains.wait_ready(chain, 1, deadline("delete"))[0]
    removed = next(m for m in both if m.name != kept.name)
    wait_for(f"VM {removed.vmid} of the machine scaled away gone from /cluster/resources",
             lambda: _vm_status(pve, removed.vmid), done=lambda status: status == "absent", deadline=deadline("delete"))

    capi_chains.delete(chain)
    left = [f"VM {vmid} ({_vm_status(pve, vmid)})" for vmid in isos if _vm_status(pve, vmid) != "absent"]
    left += [f"ISO {volid} on {node}" for node, volid in isos.values() if _iso_present(pve, node, volid)]
    assert not left, f"after deleting {chain.name} Proxmox still holds: {', '.join(left)}"
