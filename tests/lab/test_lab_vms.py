"""What CAPMOX and CSI controllers do through the Proxmox API, against each seed at time scale 0.

CAPMOX's token clones, configures, starts and reads the guest agent; CSI's token makes, attaches and
deletes volumes. Every name comes from the lab's settings, as the suite reads them.
"""

import ipaddress
import uuid

import pytest

from lab_helpers import GiB, Cluster, error_of, failure


@pytest.fixture(scope='module')
def cluster(seeded_lab):
    return Cluster.of(seeded_lab)


def test_clone_resize_start_ip_stop_delete_leaves_nothing(cluster, clones):
    volumes_before, vms_before = cluster.volumes(), cluster.lab.inventory()['vms']
    vmid, exit_status = clones.make()
    assert exit_status == 'OK'
    config = cluster.vm(vmid).config.get()
    assert config['scsi0'].startswith('{0}:vm-{1}-disk-0,'.format(cluster.disk, vmid)) and 'lock' not in config
    assert config['ide2'] == '{0}:vm-{1}-cloudinit,media=cdrom'.format(cluster.disk, vmid)

    grown = cluster.template_gib + 10
    assert cluster.run(cluster.vm(vmid).resize.put(disk='scsi0', size='+10G')) == 'OK'
    assert 'size={0}G'.format(grown) in cluster.vm(vmid).config.get()['scsi0']
    assert cluster.volumes(vmid)['{0}:vm-{1}-disk-0'.format(cluster.disk, vmid)] == grown * GiB

    assert cluster.run(cluster.vm(vmid).status.start.post()) == 'OK'
    first, last = (ipaddress.ip_address(end) for end in cluster.lab.inventory()['expected']['dhcp_range'])
    [(address, _prefix)] = cluster.ipv4(vmid)
    assert first <= ipaddress.ip_address(address) <= last, (address, first, last)

    assert cluster.run(cluster.vm(vmid).status.stop.post()) == 'OK'
    assert error_of(cluster.vm(vmid).agent('network-get-interfaces').get) == \
        (500, 'VM {0} is not running'.format(vmid))
    assert cluster.run(cluster.vm(vmid).delete(purge=1, **{'destroy-unreferenced-disks': 1})) == 'OK'
    assert vmid not in cluster.vmids()
    assert cluster.volumes() == volumes_before
    assert cluster.lab.inventory()['vms'] == vms_before


def test_static_ipconfig_is_what_the_agent_reports_and_leases_differ(cluster, clones):
    static, _ = clones.make()
    cluster.vm(static).config.put(ipconfig0='ip=10.66.0.5/24,gw=10.66.0.1')
    leased = [clones.make()[0] for _ in range(2)]
    for vmid in [static] + leased:
        assert cluster.run(cluster.vm(vmid).status.start.post()) == 'OK'
    assert cluster.ipv4(static) == [('10.66.0.5', 24)]
    addresses = [cluster.ipv4(vmid)[0][0] for vmid in leased]
    assert len(set(addresses)) == 2, addresses


def test_a_taken_vmid_is_refused_by_nextid_and_clone(cluster):
    assert failure(lambda: cluster.capmox.cluster.nextid.get(vmid=cluster.template)) == \
        (400, 'Parameter verification failed.', {'vmid': 'VM {0} already exists'.format(cluster.template)})
    assert error_of(lambda: cluster.vm(cluster.template).clone.post(newid=cluster.template, full=1)) == \
        (500, 'unable to create VM {0}: config file already exists'.format(cluster.template))


@pytest.mark.parametrize('disk, size, message', [
    ('scsi0', '1G', 'shrinking disks is not supported'),
    ('ide2', '+1G', "you can't resize a cdrom"),
    ('scsi7', '+1G', "disk 'scsi7' does not exist"),
])
def test_resize_refuses_with_pves_wording(cluster, clones, disk, size, message):
    vmid, _ = clones.make()
    assert cluster.run(cluster.vm(vmid).resize.put(disk=disk, size=size)) == message


def test_cloudinit_iso_upload_is_listed_and_deleted(cluster, tmp_path):
    iso = tmp_path / 'user-data-{0}.iso'.format(uuid.uuid4().hex[:8])
    iso.write_bytes(b'\0' * 4096)
    storage = cluster.capmox.nodes(cluster.node).storage(cluster.iso)
    with iso.open('rb') as data:
        assert cluster.run(storage.upload.post(content='iso', filename=data)) == 'OK'
    volid = '{0}:iso/{1}'.format(cluster.iso, iso.name)
    assert volid in [item['volid'] for item in storage.content.get(content='iso')]
    assert cluster.run(storage.content(volid).delete()) == 'OK'
    assert volid not in [item['volid'] for item in storage.content.get(content='iso')]


def test_csi_volume_attaches_to_a_running_vm_grows_detaches_and_goes(cluster, running):
    csi_vm = cluster.vm(running, cluster.csi)
    volid = cluster.csi.nodes(cluster.node).storage(cluster.disk).content.post(
        vmid=9999, filename='vm-9999-pvc-{0}'.format(uuid.uuid4()), size='10G')
    assert cluster.volumes(9999) == {volid: 10 * GiB}
    csi_vm.config.put(scsi1=volid + ',size=10G')
    assert csi_vm.config.get()['scsi1'] == volid + ',size=10G'        # hotplugged, not pending
    assert cluster.run(csi_vm.resize.put(disk='scsi1', size='+5G'), cluster.csi) == 'OK'
    assert (csi_vm.config.get()['scsi1'], cluster.volumes(9999)) == (volid + ',size=15G', {volid: 15 * GiB})
    csi_vm.config.put(delete='scsi1')
    config = csi_vm.config.get()
    assert [key for key in config if key in ('scsi1', 'unused0')] == []   # not the VM's own volume: no unused0
    assert cluster.run(cluster.csi.nodes(cluster.node).storage(cluster.disk).content(volid).delete(),
                       cluster.csi) == 'OK'
    assert cluster.volumes(9999) == {}


def test_a_detached_own_disk_stays_as_unused_until_deleted(cluster, running):
    vm = cluster.vm(running)
    disk = vm.config.get()['scsi0'].split(',')[0]
    vm.config.put(delete='scsi0')
    assert vm.config.get()['unused0'] == disk and disk in cluster.volumes(running)
    vm.config.put(delete='unused0')
    assert disk not in cluster.volumes(running)


def test_tags_show_in_cluster_resources(cluster, clones):
    vmid, _ = clones.make()
    cluster.vm(vmid).config.put(tags='qa-run7,qa')
    assert [r.get('tags') for r in cluster.vm_resources(vmid)] == ['qa;qa-run7']


def test_clone_to_another_node_needs_shared_storage(cluster, clones):
    other = next(n for n in cluster.lab.settings['PROXMOX_NODES'].split(',') if n != cluster.node)
    if cluster.seed == 'standard':       # local-lvm is not shared
        message = "can't clone VM to node '{0}' (VM uses local storage)".format(other)
        assert error_of(lambda: clones.make(target=other)) == (500, message)
    else:                                # ceph-vm is
        vmid, exit_status = clones.make(target=other)
        assert (exit_status, [r['node'] for r in cluster.vm_resources(vmid)]) == ('OK', [other])


# ------------------------------------------------------------------------------------------------ faults

def test_clone_fails_ends_the_task_with_a_copy_error_and_leaves_nothing(cluster, clones):
    cluster.lab.set_fault('clone-fails')
    vmid, exit_status = clones.make()
    assert exit_status.startswith("clone failed: copy failed: command '/usr/bin/qemu-img convert -p -n -f raw "), \
        exit_status
    assert exit_status.endswith("' failed: exit code 1"), exit_status
    assert (vmid in cluster.vmids(), cluster.volumes(vmid)) == (False, {})


def test_agent_no_ip_reports_no_ipv4_until_cleared(cluster, running):
    cluster.lab.set_fault('agent-no-ip')
    assert cluster.ipv4(running) == []
    cluster.lab.clear_faults()
    assert len(cluster.ipv4(running)) == 1


def test_a_template_without_agent_gives_clones_without_one(cluster, clones):
    cluster.lab.set_fault('template-no-agent')
    vmid, _ = clones.make()
    assert cluster.run(cluster.vm(vmid).status.start.post()) == 'OK'
    assert error_of(cluster.vm(vmid).agent('network-get-interfaces').get) == (500, 'No QEMU guest agent configured')
