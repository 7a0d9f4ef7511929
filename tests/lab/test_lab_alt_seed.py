"""The alt seed: every name the suite reads differs from the standard seed's, and the settings, ACLs and
faults follow it."""

import re

import pytest

from lab_helpers import run_lab, status_of

GiB = 1024 ** 3
STANDARD_NAMES = ('pve1', 'pve2', 'pve3', 'vmbr0', 'eno1', 'local-lvm', 'local', 'tenants', 'tenanta', 'tenantb',
                  'ubuntu-2404-cloudinit', '9000', 'qa@pve', 'capmox@pve', 'csi@pve', 'ccm@pve')


@pytest.fixture(scope='module')
def suite(alt_lab):
    return alt_lab.token_api()


def test_settings_name_the_alt_cluster(alt_lab):
    s = alt_lab.settings
    assert (s['PROXMOX_NODES'], s['PROXMOX_USERNAME'], s['TEST_LINK_SPEED_MBIT']) == ('hv-a,hv-b', 'acceptance@pve',
                                                                                      '25000')
    tokens = [s[prefix + '_TOKEN_ID'] for prefix in ('PROXMOX', 'PROXMOX_CAPMOX', 'PROXMOX_CSI', 'PROXMOX_CCM')]
    assert tokens == ['acceptance@pve!ci', 'capi@pve!capmox', 'pvecsi@pve!plugin', 'pveccm@pve!ccm']
    assert (s['TEST_VM_TEMPLATE'], s['TEST_STORAGE_POOL'], s['TEST_ISO_STORAGE'], s['TEST_NETWORK_BRIDGE'],
            s['TEST_TENANT_VNETS']) == ('debian-12-genericcloud', 'ceph-vm', 'cephfs-iso', 'vmbr7', 'blue,green')


def test_no_standard_name_shows_anywhere(alt_lab):
    """Settings and inventory hold none of the standard seed's names, so a suite that assumed one would fail."""
    text = ' '.join(value for name, value in alt_lab.settings.items() if not name.endswith(('_SECRET', 'PASSWORD')))
    words = set(re.split(r'[^\w.@-]+', text + repr(alt_lab.inventory())))
    assert [name for name in STANDARD_NAMES if name in words] == []
    assert {'hv-a', 'vmbr7', 'ceph-vm', 'pvecsi@pve', '8100'} <= words


def test_two_nodes_of_different_sizes(suite):
    assert [(n['node'], n['status'], n['maxcpu'], n['maxmem']) for n in suite.nodes.get()] == \
        [('hv-a', 'online', 32, 128 * GiB), ('hv-b', 'online', 24, 96 * GiB)]
    cluster, *members = suite.cluster.status.get()
    assert (cluster['quorate'], [m['name'] for m in members]) == (1, ['hv-a', 'hv-b'])


@pytest.mark.parametrize('node', ['hv-a', 'hv-b'])
def test_vmbr7_is_a_vlan_aware_bridge_on_the_renamed_port(suite, node):
    interfaces = dict((i['iface'], i) for i in suite.nodes(node).network.get())
    assert sorted(interfaces) == ['enp65s0f0', 'vmbr7']
    bridge = interfaces['vmbr7']
    assert (bridge['active'], bridge['bridge_vlan_aware'], bridge['bridge_ports']) == (1, 1, 'enp65s0f0')


def test_sdn_zone_tn_with_vnets_blue_and_green(suite):
    assert [(z['zone'], z['type'], z['bridge']) for z in suite.cluster.sdn.zones.get()] == [('tn', 'vlan', 'vmbr7')]
    assert [(v['vnet'], v['zone'], v['tag']) for v in suite.cluster.sdn.vnets.get()] == \
        [('blue', 'tn', 301), ('green', 'tn', 302)]


def test_ceph_storages_are_shared(suite):
    stores = dict((s['storage'], s) for s in suite.nodes('hv-a').storage.get())
    assert sorted(stores) == ['ceph-vm', 'cephfs-iso']
    assert (stores['ceph-vm']['type'], stores['ceph-vm']['content'], stores['ceph-vm']['shared']) == \
        ('rbd', 'images,rootdir', 1)
    assert (stores['cephfs-iso']['type'], stores['cephfs-iso']['shared']) == ('cephfs', 1)
    assert 'iso' in stores['cephfs-iso']['content'].split(',')


def test_template_8100_on_hv_b_uses_the_alt_names(suite):
    vm = next(r for r in suite.cluster.resources.get(type='vm') if r['template'] == 1)
    assert (vm['vmid'], vm['name'], vm['node']) == (8100, 'debian-12-genericcloud', 'hv-b')
    config = suite.nodes('hv-b').qemu(8100).config.get()
    assert config['scsi0'].startswith('ceph-vm:base-8100-disk-0,') and 'bridge=vmbr7' in config['net0']
    assert config['ide2'] == 'ceph-vm:vm-8100-cloudinit,media=cdrom'


def test_capmox_rows_sit_on_the_alt_paths(alt_lab):
    held = dict((path, set(privs)) for path, privs in
                alt_lab.token_api('PROXMOX_CAPMOX').access.permissions.get().items())
    assert {'/sdn/zones/localnetwork/vmbr7', '/storage/cephfs-iso', '/storage/ceph-vm', '/vms/8100'} <= set(held)
    assert held['/sdn/zones/localnetwork/vmbr7'] == {'SDN.Use', 'Sys.Audit'}
    assert held['/storage/ceph-vm'] == {'Datastore.AllocateSpace', 'Sys.Audit'}
    assert 'Datastore.AllocateTemplate' in held['/storage/cephfs-iso'] and 'VM.Clone' in held['/vms/8100']


def test_every_identity_logs_in_with_its_alt_name(alt_lab):
    assert set(alt_lab.password_api().access.permissions.get()['/']) >= {'Sys.Audit', 'VM.Audit'}
    for prefix, privilege in (('PROXMOX', 'Pool.Audit'), ('PROXMOX_CSI', 'VM.Config.Disk'),
                              ('PROXMOX_CCM', 'VM.GuestAgent.Audit')):
        assert privilege in alt_lab.token_api(prefix).access.permissions.get()['/'], prefix


def test_inventory_expects_the_alt_names(alt_lab):
    expected = alt_lab.inventory()['expected']
    assert (expected['seed'], expected['template_vmid'], expected['template_node'], expected['storage_pool']) == \
        ('alt', 8100, 'hv-b', 'ceph-vm')


# ------------------------------------------------------------------------------------------------ faults

def node_states(lab):
    return [(n['node'], n['status']) for n in lab.token_api().nodes.get()]


def used_percent(lab):
    return round(next(s for s in lab.token_api().nodes('hv-a').storage.get()
                      if s['storage'] == 'ceph-vm')['used_fraction'] * 100)


def suite_token(lab):
    return status_of(lab.token_api().version.get)


def bridges(lab):
    return [[i['iface'] for i in lab.token_api().nodes(node).network.get(type='bridge')] for node in ('hv-a', 'hv-b')]


def iso_active(lab):
    return [next(s for s in lab.token_api().nodes(node).storage.get() if s['storage'] == 'cephfs-iso')['active']
            for node in ('hv-a', 'hv-b')]


def vnets(lab):
    return [v['vnet'] for v in lab.token_api().cluster.sdn.vnets.get()]


def capmox_clone_paths(lab):
    held = lab.token_api('PROXMOX_CAPMOX').access.permissions.get()
    return sorted(path for path, privs in held.items() if 'VM.Clone' in privs)


CASES = [
    ('pve-node-offline=hv-b', node_states, [('hv-a', 'online'), ('hv-b', 'online')],
     [('hv-a', 'online'), ('hv-b', 'offline')]),
    ('storage-full', used_percent, 31, 95),
    ('token-rejected', suite_token, 200, 401),
    ('bridge-missing=hv-a', bridges, [['vmbr7'], ['vmbr7']], [[], ['vmbr7']]),
    ('storage-inactive=cephfs-iso@hv-b', iso_active, [1, 1], [1, 0]),
    ('vnet-missing=green', vnets, ['blue', 'green'], ['blue']),
    ('token-missing-privilege=capmox:VM.Clone', capmox_clone_paths, ['/vms', '/vms/8100'], []),
]


@pytest.fixture
def faulty_alt_lab(alt_lab):
    yield alt_lab
    alt_lab.clear_faults()


@pytest.mark.parametrize('spec, probe, healthy, faulted', CASES, ids=[case[0] for case in CASES])
def test_faults_take_and_default_to_the_alt_names(faulty_alt_lab, spec, probe, healthy, faulted):
    assert probe(faulty_alt_lab) == healthy
    faulty_alt_lab.set_fault(spec)
    assert probe(faulty_alt_lab) == faulted
    faulty_alt_lab.clear_faults()
    assert probe(faulty_alt_lab) == healthy


@pytest.mark.parametrize('spec, message', [
    ('pve-node-offline=pve2', "NODE must be one of hv-a, hv-b; got 'pve2'"),
    ('storage-full=local-lvm', "STORAGE must be one of ceph-vm, cephfs-iso; got 'local-lvm'"),
    ('token-rejected=qa@pve!suite', 'TOKENID must be one of acceptance@pve!ci, capi@pve!capmox, '),
])
def test_standard_names_are_refused_naming_the_alt_ones(alt_lab, spec, message):
    name, _, value = spec.partition('=')
    answer = alt_lab.control('PUT', '/faults/' + name, {'value': value})
    assert answer.status_code == 400 and message in answer.json()['error'], answer.text


def test_faults_listing_says_which_values_default_to_what(alt_lab):
    listed = run_lab('faults', '--state-dir', alt_lab.state_dir).stdout
    lines = dict((line.split()[0], line) for line in listed.splitlines() if line.startswith('  '))
    assert '[TOKENID]' in lines['token-rejected'] and 'default acceptance@pve!ci' in lines['token-rejected']
    assert '[STORAGE][:PERCENT]' in lines['storage-full'] and 'default ceph-vm' in lines['storage-full']
    assert lines['pve-node-offline'].split()[1] == 'NODE'
    assert 'any other VALUE is required' in listed
    assert 'names in values (alt seed): ' in listed and 'NODE hv-a, hv-b' in listed


def test_status_names_the_seed(alt_lab):
    assert '(alt seed)' in run_lab('status', '--state-dir', alt_lab.state_dir).stdout
