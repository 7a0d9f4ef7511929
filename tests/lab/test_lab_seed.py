"""The healthy lab, read with real clients: the seed cluster stages 1 and 2 expect."""

import json

import pytest
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.backends.https import AuthenticationError

from lab_helpers import status_of

GiB = 1024 ** 3
NODES = ['pve1', 'pve2', 'pve3']
AUDIT = {'Sys.Audit', 'VM.Audit', 'Datastore.Audit', 'SDN.Audit', 'Pool.Audit'}
CAPMOX_VM = {'VM.Allocate', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.HWType',
             'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.Audit',
             'VM.GuestAgent.Audit'}


@pytest.fixture(scope='module')
def suite(lab):
    return lab.token_api()


def test_settings_point_at_the_lab(lab):
    s = lab.settings
    assert s['PROXMOX_HOST'].startswith('127.0.0.') and s['PROXMOX_PORT'] == '8006'
    assert (s['PROXMOX_VERIFY_SSL'], s['PROXMOX_NODES'], s['TEST_LINK_SPEED_MBIT']) == ('true', 'pve1,pve2,pve3',
                                                                                        '10000')
    assert (s['PROXMOX_TOKEN_ID'], s['PROXMOX_CAPMOX_TOKEN_ID'], s['PROXMOX_CSI_TOKEN_ID'],
            s['PROXMOX_CCM_TOKEN_ID']) == ('qa@pve!suite', 'capmox@pve!capi', 'csi@pve!csi', 'ccm@pve!ccm')
    assert (s['TEST_VM_TEMPLATE'], s['TEST_STORAGE_POOL'], s['TEST_ISO_STORAGE'], s['TEST_NETWORK_BRIDGE'],
            s['TEST_TENANT_VNETS']) == ('ubuntu-2404-cloudinit', 'local-lvm', 'local', 'vmbr0', 'tenanta,tenantb')
    assert s['LAB_CONTROL_URL'] == lab.control_url


def test_version_is_pve_9(suite):
    version = suite.version.get()
    assert version['release'] == '9.0' and version['version'].startswith('9.0.'), version


def test_password_login_and_token_both_read(lab):
    assert lab.password_api().version.get()['release'] == '9.0'
    assert lab.get('/version', headers=lab.token_header()).status_code == 200


def test_wrong_password_and_wrong_secret_get_401(lab):
    with pytest.raises(AuthenticationError, match='code: 401'):
        ProxmoxAPI(lab.settings['PROXMOX_HOST'], user='qa@pve', password='wrong', verify_ssl=lab.ca)
    header = {'Authorization': 'PVEAPIToken=qa@pve!suite=00000000-0000-0000-0000-000000000000'}
    assert lab.get('/version', headers=header).status_code == 401


def test_three_nodes_online_with_16_cores_and_64_gib(suite):
    nodes = suite.nodes.get()
    assert [(n['node'], n['status'], n['maxcpu'], n['maxmem']) for n in nodes] == \
        [(name, 'online', 16, 64 * GiB) for name in NODES]
    for node in nodes:
        assert 0.05 < node['cpu'] < 0.15 and 0.30 < node['mem'] / node['maxmem'] < 0.40, node


@pytest.mark.parametrize('node', NODES)
def test_nodes_and_resources_agree_with_node_status(suite, node):
    status = suite.nodes(node).status.get()
    listed = next(n for n in suite.nodes.get() if n['node'] == node)
    resource = next(r for r in suite.cluster.resources.get(type='node') if r['node'] == node)
    expected = {'cpu': status['cpu'], 'maxcpu': status['cpuinfo']['cpus'], 'mem': status['memory']['used'],
                'maxmem': status['memory']['total']}
    assert dict((k, listed[k]) for k in expected) == expected
    assert dict((k, resource[k]) for k in expected) == expected
    assert status['memory']['used'] + status['memory']['free'] == status['memory']['total']
    assert len(status['loadavg']) == 3 and status['pveversion'].startswith('pve-manager/9.0')
    assert status['kversion'].startswith('Linux ') and status['uptime'] > 0


def test_cluster_is_quorate(suite):
    cluster, *members = suite.cluster.status.get()
    assert cluster['quorate'] == 1 and [(m['name'], m['online']) for m in members] == [(n, 1) for n in NODES]


@pytest.mark.parametrize('node', NODES)
def test_vmbr0_is_an_active_vlan_aware_bridge_on_eno1(suite, node):
    interfaces = dict((i['iface'], i) for i in suite.nodes(node).network.get())
    bridge = interfaces['vmbr0']
    assert (bridge['type'], bridge['active'], bridge['bridge_vlan_aware'], bridge['bridge_ports']) == \
        ('bridge', 1, 1, 'eno1')
    assert interfaces['eno1']['type'] == 'eth'
    assert [i['iface'] for i in suite.nodes(node).network.get(type='bridge')] == ['vmbr0']


def test_sdn_vlan_zone_with_two_tenant_vnets(suite):
    zones = suite.cluster.sdn.zones.get()
    assert [(z['zone'], z['type'], z['bridge']) for z in zones] == [('tenants', 'vlan', 'vmbr0')]
    assert [(v['vnet'], v['zone'], v['tag']) for v in suite.cluster.sdn.vnets.get()] == \
        [('tenanta', 'tenants', 101), ('tenantb', 'tenants', 102)]


def test_storages_have_realistic_sizes(suite):
    stores = dict((s['storage'], s) for s in suite.nodes('pve2').storage.get())
    lvm, local = stores['local-lvm'], stores['local']
    assert (lvm['type'], lvm['content'], lvm['total'], lvm['active']) == ('lvmthin', 'images,rootdir', 2048 * GiB, 1)
    assert 0.15 < lvm['used_fraction'] < 0.25, lvm
    assert lvm['used'] + lvm['avail'] == lvm['total']
    assert (local['type'], local['content'], local['total']) == ('dir', 'iso,vztmpl,backup', 200 * GiB)


def test_rrddata_has_about_an_hour_of_points_at_5_percent_of_the_link(suite):
    points = suite.nodes('pve1').rrddata.get(timeframe='hour', cf='AVERAGE')
    assert 55 <= len(points) <= 70
    assert points[-1]['time'] - points[0]['time'] >= 3000
    link = 10000 * 1000 * 1000 / 8
    for point in points:
        assert 0.02 * link < point['netin'] <= 0.1 * link and 0.02 * link < point['netout'] <= 0.1 * link, point
        assert point['memtotal'] == 64 * GiB and 0 < point['cpu'] < 0.2, point


def test_template_9000_is_a_cloudinit_template(suite):
    vm = next(r for r in suite.cluster.resources.get(type='vm') if r['vmid'] == 9000)
    assert (vm['name'], vm['node'], vm['template']) == ('ubuntu-2404-cloudinit', 'pve1', 1)
    config = suite.nodes('pve1').qemu(9000).config.get()
    assert config['template'] == 1 and config['agent'] == '1' and config['boot'] == 'order=scsi0'
    assert config['scsi0'].startswith('local-lvm:base-9000-disk-0,') and 'size=20G' in config['scsi0']
    assert config['ide2'] == 'local-lvm:vm-9000-cloudinit,media=cdrom'
    assert 'bridge=vmbr0' in config['net0'] and config['net0'].startswith('virtio')
    assert (config['cores'], config['memory']) == (2, '2048')


def permissions(lab, prefix):
    return dict((path, set(privs)) for path, privs in lab.token_api(prefix).access.permissions.get().items())


def test_capmox_token_holds_exactly_its_least_privilege_rows(lab):
    held = permissions(lab, 'PROXMOX_CAPMOX')
    assert held['/'] == {'Sys.Audit'} and held['/nodes'] == {'Sys.Audit'}
    assert held['/vms'] == CAPMOX_VM | {'Sys.Audit'}
    assert {'VM.Clone', 'VM.Audit'} <= held['/vms/9000']
    assert held['/sdn/zones/localnetwork/vmbr0'] == {'SDN.Use', 'Sys.Audit'}
    assert held['/storage/local'] == {'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate',
                                      'Datastore.Audit', 'Sys.Audit'}
    assert held['/storage/local-lvm'] == {'Datastore.AllocateSpace', 'Sys.Audit'}
    assert not any('Permissions.Modify' in privs or 'Sys.Modify' in privs for privs in held.values())


def test_csi_and_ccm_tokens_hold_their_rows_on_root(lab):
    assert permissions(lab, 'PROXMOX_CSI')['/'] == {'VM.Audit', 'VM.Config.Disk', 'Datastore.Allocate',
                                                    'Datastore.AllocateSpace', 'Datastore.Audit'}
    assert permissions(lab, 'PROXMOX_CCM')['/'] == {'VM.Audit', 'VM.GuestAgent.Audit', 'Sys.Audit'}


def test_suite_token_and_password_user_are_auditors(lab):
    assert permissions(lab, 'PROXMOX')['/'] == AUDIT
    assert set(lab.password_api().access.permissions.get()['/']) == AUDIT


def test_permissions_are_checked_per_token(lab):
    assert status_of(lab.token_api('PROXMOX_CSI').nodes('pve1').status.get) == 403
    assert status_of(lab.token_api('PROXMOX_CAPMOX').nodes('pve1').status.get) == 200
    # PVE lists only the SDN zones a token may audit; CAPMOX may only use the bridge.
    assert lab.token_api('PROXMOX_CAPMOX').cluster.sdn.zones.get() == []


def test_request_log_names_the_identity_and_never_a_secret(lab):
    start = lab.control('GET', '/requests').json()['next']
    lab.token_api('PROXMOX_CCM').version.get()
    lab.get('/nodes', headers={'Authorization': 'PVEAPIToken=ccm@pve!ccm=wrong-secret'})
    answer = lab.control('GET', '/requests?since={0}'.format(start)).json()
    # The lab's own controllers (the CSI plugin with its token) may call the twin meanwhile: keep this test's calls.
    seen = [(r['method'], r['path'], r['identity'], r['authenticated'], r['status']) for r in answer['requests']
            if r['identity'] == 'ccm@pve!ccm']
    assert seen == [('GET', '/api2/json/version', 'ccm@pve!ccm', True, 200),
                    ('GET', '/api2/json/nodes', 'ccm@pve!ccm', False, 401)]
    assert answer['next'] == start + len(answer['requests'])
    assert all(r['seconds'] >= 0 and r['time'] > 0 for r in answer['requests'])
    assert lab.settings['PROXMOX_CCM_TOKEN_SECRET'] not in json.dumps(answer)


def test_request_log_records_the_user_agent(lab):
    start = lab.control('GET', '/requests').json()['next']
    lab.get('/version', headers={**lab.token_header(), 'User-Agent': 'proxqa-probe/1.0'})
    answer = lab.control('GET', '/requests?since={0}'.format(start)).json()
    assert [r['path'] for r in answer['requests'] if r['user_agent'] == 'proxqa-probe/1.0'] == ['/api2/json/version']


def test_request_log_can_be_emptied(lab):
    lab.get('/version', headers=lab.token_header())
    assert lab.control('DELETE', '/requests').status_code == 200
    assert lab.control('GET', '/requests').json()['requests'] == []


def test_inventory_lists_the_lab_without_secrets(lab):
    inventory = lab.control('GET', '/inventory').json()
    assert [n['node'] for n in inventory['nodes']] == NODES
    assert [s['storage'] for s in inventory['storages']] == ['local', 'local-lvm']
    assert [(vm['vmid'], vm['name'], vm['status'], vm['template']) for vm in inventory['vms']] == \
        [(101, 'srv1', 'running', 0), (102, 'srv2', 'running', 0), (103, 'srv3', 'running', 0),
         (9000, 'ubuntu-2404-cloudinit', 'stopped', 1)]
    assert [(b['node'], b['iface']) for b in inventory['bridges']] == [(n, 'vmbr0') for n in NODES]
    assert [v['vnet'] for v in inventory['sdn']['vnets']] == ['tenanta', 'tenantb']
    assert [i['id'] for i in inventory['identities']] == ['qa@pve', 'qa@pve!suite', 'capmox@pve!capi', 'csi@pve!csi',
                                                          'ccm@pve!ccm', 'qa@pve!backup']
    text = json.dumps(inventory)
    secrets = [value for name, value in lab.settings.items() if name.endswith(('_SECRET', '_PASSWORD'))]
    assert len(secrets) == 6 and not [s for s in secrets if s in text]


def test_control_api_lists_every_fault_with_format_and_description(lab):
    answer = lab.control('GET', '/faults').json()
    known = dict((f['name'], f) for f in answer['known'])
    assert {'tls-expired', 'pve-latency', 'token-missing-privilege', 'storage-full', 'node-net-saturated'} <= set(known)
    formats = (known['storage-full']['value_format'], known['tls-expired']['value_format'])
    assert formats == ('[STORAGE][:PERCENT]', None)
    assert all(f['description'] for f in answer['known']) and answer['active'] == []


def test_health_reports_the_listening_proxmox_api(lab):
    health = requests.get(lab.control_url + '/health', timeout=5).json()
    pve_url = 'https://{0}:8006'.format(lab.settings['PROXMOX_HOST'])
    assert (health['status'], health['pve_listening'], health['pve_url']) == ('ok', True, pve_url)


def test_permissions_on_one_path_include_inherited_ones(lab):
    capmox = lab.token_api('PROXMOX_CAPMOX')
    assert capmox.access.permissions.get(path='/vms/123') == {'/vms/123': dict.fromkeys(CAPMOX_VM | {'Sys.Audit'}, 1)}
    assert capmox.access.permissions.get(path='/storage/other') == {'/storage/other': {'Sys.Audit': 1}}


def test_another_identitys_permissions_need_sys_audit_on_access(lab):
    assert status_of(lambda: lab.token_api('PROXMOX_CSI').access.permissions.get(userid='ccm@pve!ccm')) == 403
    assert set(lab.token_api().access.permissions.get(userid='ccm@pve!ccm')['/']) == \
        {'VM.Audit', 'VM.GuestAgent.Audit', 'Sys.Audit'}
