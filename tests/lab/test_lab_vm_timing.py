"""Clones, boots and the storage lock take Proxmox seconds on the lab's time scale.

Only lower bounds on time are asserted: a slow machine makes things later, never earlier.
"""

import time

import pytest

from lab_helpers import Cluster, error_of, running_lab, status_of, wait_until

SCALE = 0.05                     # real seconds per Proxmox second
FULL_CLONE = 10 + 20             # Proxmox seconds for a full clone of the standard seed's 20 GiB template
BOOT = 2 + 20                    # the start task, then the guest until its agent answers


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    for lab in running_lab(tmp_path_factory, '--time-scale', str(SCALE)):
        yield Cluster.of(lab)


def test_a_full_clone_holds_the_clone_lock_for_its_copy_time(cluster, clones):
    started = time.perf_counter()
    vmid, upid = clones.begin()
    assert cluster.vm(vmid).config.get()['lock'] == 'clone'
    assert [r['lock'] for r in cluster.vm_resources(vmid)] == ['clone']
    assert cluster.run(cluster.vm(vmid).resize.put(disk='scsi0', size='+1G')) == 'VM is locked (clone)'
    assert cluster.run(upid) == 'OK'
    elapsed = time.perf_counter() - started
    assert elapsed >= FULL_CLONE * SCALE, elapsed
    assert 'lock' not in cluster.vm(vmid).config.get()


def test_the_guest_agent_answers_only_once_the_guest_booted(cluster, clones):
    vmid, exit_status = clones.make(full=0)
    assert exit_status == 'OK'
    started = time.perf_counter()
    assert cluster.run(cluster.vm(vmid).status.start.post()) == 'OK'
    agent = cluster.vm(vmid).agent('network-get-interfaces')
    assert error_of(agent.get) == (500, 'QEMU guest agent is not running')
    wait_until('the guest agent of VM {0} answers'.format(vmid), lambda: status_of(agent.get) == 200)
    elapsed = time.perf_counter() - started
    assert elapsed >= BOOT * SCALE, elapsed
    assert len(cluster.ipv4(vmid)) == 1


def test_clone_slow_stretches_a_linked_clone(cluster, clones):
    cluster.lab.set_fault('clone-slow=20')
    started = time.perf_counter()
    _vmid, exit_status = clones.make(full=0)
    elapsed = time.perf_counter() - started
    assert exit_status == 'OK' and elapsed >= 20 * SCALE, (exit_status, elapsed)


def test_storage_lock_timeout_fails_the_clone_beyond_the_limit(cluster, clones):
    cluster.lab.set_fault('storage-lock-timeout=1')
    first, first_task = clones.begin()
    second, second_task = clones.begin()
    assert cluster.run(second_task) == \
        "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"
    assert cluster.run(first_task) == 'OK'
    assert (cluster.vmids().count(first), cluster.vmids().count(second), cluster.volumes(second)) == (1, 0, {})

