"""Backup and restore: what a guest wrote survives a vzdump backup and a restore into a new VM."""
from __future__ import annotations

import secrets

import allure
import pytest

from proxqa.pve import backup
from proxqa.pve.backup import DrillVm
from proxqa.pve.client import PveClient
from proxqa.pve.records import template_named
from proxqa.sla import Phases
from proxqa.waits import wait_for

MARKER_PATH = "/var/tmp/proxqa-backup-marker"


@pytest.mark.check("S8.7")
@pytest.mark.mutates("creates, backs up and restores a VM")
def test_s8_7_backup_restores_what_the_guest_wrote(settings, backup_pve, names, deadline, request):
    """A test VM cloned from the template writes a random marker through the guest agent; vzdump backs it up; the
    backup restored as a new VM boots and its guest reads the same marker back."""
    if backup_pve is None:
        pytest.skip("backup drill not configured (proxmox.identities.backup: PROXMOX_BACKUP_TOKEN_ID and "
                    "PROXMOX_BACKUP_TOKEN_SECRET)")
    pve, test = backup_pve, settings.test
    template = template_named(pve.vm_resources(), test.vm_template)
    assert template is not None, f"template {test.vm_template} (TEST_VM_TEMPLATE) is not in /cluster/resources"
    assert test.storage_pool, "no disk storage configured (TEST_STORAGE_POOL) for the test VM"
    storage = backup.backup_storage(pve.storages(template.node), template.node, test.backup_storage)
    keep = settings.keep_test_resources
    phases, marker = Phases(), secrets.token_hex(16)

    original = DrillVm(template.node, backup.free_vmid(pve), names.new("backup"))
    if not keep:
        request.addfinalizer(lambda: backup.remove_vm(pve, original, deadline("task")))
    names.intend_vm(original.node, original.vmid, original.name)
    with phases.phase("clone"):
        pve.wait_task(original.node, backup.clone_template(pve, template.vmid, original, test.storage_pool),
                      f"clone of template {template.vmid} to {original}", deadline("task"))
        pve.wait_task(original.node, backup.tag_vm(pve, original, names.vm_tag), f"tagging {original}",
                      deadline("task"))
    boot(pve, original, phases, deadline)
    backup.write_guest_file(pve, original, MARKER_PATH, marker)
    assert backup.read_guest_file(pve, original, MARKER_PATH) == marker, \
        f"the guest of {original} does not read back the marker it was given at {MARKER_PATH}"

    with phases.phase("backup"):
        pve.wait_task(original.node, backup.back_up(pve, original, storage, f"{names.vm_tag} {{{{guestname}}}}"),
                      f"vzdump of {original} to {storage}", deadline("backup"))
    archives = backup.backups_of(pve, original, storage)
    assert archives, f"vzdump of {original} ended OK but {storage} lists no backup of VM {original.vmid}"
    if not keep:
        for volid in archives:
            request.addfinalizer(lambda volid=volid: backup.delete_backup(pve, original.node, volid, deadline("task")))

    restored = DrillVm(original.node, backup.free_vmid(pve), original.name)
    if not keep:
        request.addfinalizer(lambda: backup.remove_vm(pve, restored, deadline("task")))
    names.intend_vm(restored.node, restored.vmid, restored.name)
    with phases.phase("restore"):
        pve.wait_task(restored.node, backup.restore(pve, archives[-1], restored, test.storage_pool),
                      f"restore of {archives[-1]} to VM {restored.vmid}", deadline("restore"))
    boot(pve, restored, phases, deadline)
    found = backup.read_guest_file(pve, restored, MARKER_PATH)
    allure.attach("\n".join(f"{name}: {seconds:.1f} s" for name, seconds in phases.durations.items()),
                  name="backup drill phases", attachment_type=allure.attachment_type.TEXT)
    assert found == marker, (f"{restored}, restored from {archives[-1]}, does not hold what the guest wrote before "
                             f"the backup: {MARKER_PATH} reads {found[:40]!r}, expected {marker!r}")


def boot(pve: PveClient, vm: DrillVm, phases: Phases, deadline) -> None:
    """Start the VM and wait until its guest agent answers."""
    with phases.phase(f"boot {vm.vmid}"):
        pve.wait_task(vm.node, backup.start_vm(pve, vm), f"start of {vm}", deadline("task"))
        wait_for(f"guest agent of {vm}", lambda: backup.agent_state(pve, vm), done=lambda state: state == "answers",
                 deadline=deadline("vm-ready"))
