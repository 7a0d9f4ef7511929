"""vzdump backups and restores in the twin, with what the guest wrote through its agent, as the backup drill
(S8.7) drives them with the suite's backup token."""

import pytest

from lab_helpers import Cluster, error_of, task_exit

MARKER = '/var/tmp/marker'


@pytest.fixture(scope='module')
def cluster(lab):
    return Cluster.of(lab)


@pytest.fixture(scope='module')
def backup_api(lab):
    return lab.token_api('PROXMOX_BACKUP')


class Drill(object):
    """VMs and backups the backup token made, removed after the test whatever happened."""

    def __init__(self, cluster, api):
        self.cluster, self.api = cluster, api
        self.node = api.nodes(cluster.node)
        self.vmids, self.backups = [], []

    def run(self, upid):
        return task_exit(self.api, self.cluster.node, upid)

    def running_clone(self):
        vmid = int(self.api.cluster.nextid.get())
        self.vmids.append(vmid)
        assert self.run(self.node.qemu(self.cluster.template).clone.post(
            newid=vmid, name='qa-drill-{0}'.format(vmid), full=1, storage=self.cluster.disk)) == 'OK'
        assert self.run(self.node.qemu(vmid).status.start.post()) == 'OK'
        return vmid

    def back_up(self, vmid):
        """(exit status, the VM's backups on the ISO storage)."""
        status = self.run(self.node.vzdump.post(vmid=vmid, storage=self.cluster.iso, mode='snapshot',
                                                compress='zstd', remove=0, **{'notes-template': 'drill {{vmid}}'}))
        listed = self.node.storage(self.cluster.iso).content.get(content='backup', vmid=vmid)
        self.backups += [item['volid'] for item in listed]
        return status, listed

    def restore(self, archive):
        vmid = int(self.api.cluster.nextid.get())
        self.vmids.append(vmid)
        assert self.run(self.node.qemu.post(vmid=vmid, archive=archive, storage=self.cluster.disk, unique=1)) == 'OK'
        assert self.run(self.node.qemu(vmid).status.start.post()) == 'OK'
        return vmid

    def remove(self):
        for volid in self.backups:
            self.run(self.node.storage(self.cluster.iso).content(volid).delete())
        for vmid in reversed(self.vmids):
            for vm in self.cluster.vm_resources(vmid):
                if vm['status'] == 'running':
                    self.run(self.node.qemu(vmid).status.stop.post())
                self.run(self.node.qemu(vmid).delete(purge=1))


@pytest.fixture
def drill(cluster, backup_api):
    made = Drill(cluster, backup_api)
    yield made
    cluster.lab.clear_faults()
    made.remove()


def test_a_restored_vm_holds_what_the_guest_wrote_and_nothing_stays(cluster, drill):
    volumes_before = cluster.volumes()
    original = drill.running_clone()
    drill.node.qemu(original).agent('file-write').post(file=MARKER, content='written before the backup')
    status, [listed] = drill.back_up(original)
    assert status == 'OK'
    assert listed['volid'].startswith('{0}:backup/vzdump-qemu-{1}-'.format(cluster.iso, original))
    assert listed['volid'].endswith('.vma.zst') and listed['notes'] == 'drill {0}'.format(original)

    restored = drill.restore(listed['volid'])
    config, source = drill.node.qemu(restored).config.get(), drill.node.qemu(original).config.get()
    assert config['scsi0'].startswith('{0}:vm-{1}-disk-0,'.format(cluster.disk, restored))
    assert config['scsi0'].split(',', 1)[1] == source['scsi0'].split(',', 1)[1]     # same size and options
    assert config['ide2'] == '{0}:vm-{1}-cloudinit,media=cdrom'.format(cluster.disk, restored)
    assert config['net0'] != source['net0'] and 'lock' not in config                # unique: a new MAC
    assert drill.node.qemu(restored).agent('file-read').get(file=MARKER)['content'] == 'written before the backup'

    drill.remove()
    assert cluster.volumes() == volumes_before
    assert drill.node.storage(cluster.iso).content.get(content='backup') == []


def test_restore_data_lost_gives_an_empty_disk(cluster, drill):
    original = drill.running_clone()
    drill.node.qemu(original).agent('file-write').post(file=MARKER, content='lost')
    cluster.lab.set_fault('restore-data-lost')
    _status, [listed] = drill.back_up(original)
    restored = drill.restore(listed['volid'])
    assert drill.node.qemu(restored).agent('file-read').get(file=MARKER)['content'] == ''


def test_backup_storage_missing_fails_the_vzdump_task(cluster, drill):
    original = drill.running_clone()
    cluster.lab.set_fault('backup-storage-missing')
    status, listed = drill.back_up(original)
    assert (status, listed) == ("can't use storage '{0}' for backups - wrong content type".format(cluster.iso), [])


def test_capmox_token_may_not_back_up(cluster, drill):
    original = drill.running_clone()
    assert error_of(lambda: cluster.capmox.nodes(cluster.node).vzdump.post(vmid=original, storage=cluster.iso)) == \
        (403, 'Permission check failed (/vms/{0}, VM.Backup)'.format(original))
