"""The backup drill of S8.7 on Proxmox: a test VM cloned from the template writes a marker file through the guest
agent, is backed up with vzdump, restored as a new VM, and the restored guest reads the marker back.

Every call returns what Proxmox answered (a task's UPID where the API starts one); waiting and cleanup are the
caller's, so each step is timed and each VM is registered for removal before it is made.
"""
from __future__ import annotations

from dataclasses import dataclass

from proxqa.pve.client import PveClient
from proxqa.pve.errors import PveError
from proxqa.pve.records import StorageStatus
from proxqa.waits import Deadline


@dataclass(frozen=True)
class DrillVm:
    node: str
    vmid: int
    name: str

    def __str__(self) -> str:
        return f"VM {self.vmid} {self.name} on {self.node}"


def backup_storage(storages: list[StorageStatus], node: str, wanted: str | None) -> str:
    """The storage the drill writes its backup to: the configured one, else the first active storage taking
    backups; AssertionError listing what the node offers when there is none."""
    takes_backups = [s.name for s in storages if s.active and s.enabled and "backup" in s.content]
    offered = "; ".join(f"{s.name} ({','.join(sorted(s.content)) or 'no content'})" for s in storages)
    if wanted:
        assert wanted in takes_backups, \
            f"test.backup_storage {wanted} (TEST_BACKUP_STORAGE) takes no backups on node {node}; it offers {offered}"
        return wanted
    assert takes_backups, (f"no active storage on node {node} takes backups (content backup); it offers {offered}; "
                           "enable content backup on one, or name one in test.backup_storage (TEST_BACKUP_STORAGE)")
    return takes_backups[0]


def free_vmid(pve: PveClient) -> int:
    return int(pve.get("cluster/nextid"))


def clone_template(pve: PveClient, template: int, vm: DrillVm, storage: str) -> str:
    """A full clone on the template's node, its disks on `storage`."""
    return str(pve.post(f"nodes/{vm.node}/qemu/{template}/clone", newid=vm.vmid, name=vm.name, full=1,
                        storage=storage))


def tag_vm(pve: PveClient, vm: DrillVm, tag: str) -> str:
    return str(pve.post(f"nodes/{vm.node}/qemu/{vm.vmid}/config", tags=tag))


def start_vm(pve: PveClient, vm: DrillVm) -> str:
    return str(pve.post(f"nodes/{vm.node}/qemu/{vm.vmid}/status/start"))


def agent_state(pve: PveClient, vm: DrillVm) -> str:
    """'answers' once the guest agent answers a ping, else what Proxmox said."""
    try:
        pve.post(f"nodes/{vm.node}/qemu/{vm.vmid}/agent/ping")
    except PveError as err:
        return err.message
    return "answers"


def write_guest_file(pve: PveClient, vm: DrillVm, path: str, text: str) -> None:
    pve.post(f"nodes/{vm.node}/qemu/{vm.vmid}/agent/file-write", file=path, content=text)


def read_guest_file(pve: PveClient, vm: DrillVm, path: str) -> str:
    return str(pve.get(f"nodes/{vm.node}/qemu/{vm.vmid}/agent/file-read", file=path).get("content", ""))


def back_up(pve: PveClient, vm: DrillVm, storage: str, notes: str) -> str:
    """vzdump in snapshot mode (the guest keeps running; the agent freezes its file systems), zstd, keeping every
    other backup of the VM (remove=0). The notes start with the VM's run tag: the janitor finds the backup by it."""
    return str(pve.post(f"nodes/{vm.node}/vzdump", vmid=vm.vmid, storage=storage, mode="snapshot", compress="zstd",
                        remove=0, **{"notes-template": notes}))


def backups_of(pve: PveClient, vm: DrillVm, storage: str) -> list[str]:
    """Volume IDs of the VM's backups on the storage, oldest first."""
    found = pve.get(f"nodes/{vm.node}/storage/{storage}/content", content="backup", vmid=vm.vmid)
    return [item["volid"] for item in sorted(found, key=lambda item: item.get("ctime", 0))]


def restore(pve: PveClient, archive: str, vm: DrillVm, storage: str) -> str:
    """qmrestore into a new VMID with fresh MAC addresses (unique), its disks on `storage`."""
    return str(pve.post(f"nodes/{vm.node}/qemu", vmid=vm.vmid, archive=archive, storage=storage, unique=1))


def delete_backup(pve: PveClient, node: str, volid: str, deadline: Deadline) -> None:
    if upid := pve.delete_volume(node, volid.split(":", 1)[0], volid):
        pve.wait_task(node, upid, f"removal of backup {volid}", deadline)


def remove_vm(pve: PveClient, vm: DrillVm, deadline: Deadline) -> None:
    """Stop (if running) and destroy the VM with its disks; nothing if it is gone."""
    listed = {found.vmid: found for found in pve.vm_resources()}
    if vm.vmid not in listed or listed[vm.vmid].name != vm.name:
        return
    if listed[vm.vmid].status == "running":
        pve.wait_task(vm.node, pve.stop_vm(vm.node, vm.vmid), f"stop of {vm}", deadline)
    pve.wait_task(vm.node, pve.destroy_vm(vm.node, vm.vmid), f"removal of {vm}", deadline)
