"""Every lab fault changes what the Proxmox API says, and clearing it restores the healthy answer."""

import time

import pytest
import requests

from lab_helpers import status_of

NODES = ('pve1', 'pve2', 'pve3')
LINK_BYTES = 10000 * 1000 * 1000 / 8


# ----------------------------------------------------------------------- probes: what a client sees

def release(lab):
    return lab.token_api().version.get()['release']


def tls_verdict(lab):
    try:
        lab.get('/version', headers=lab.token_header())
    except requests.exceptions.SSLError as err:
        text = str(err)
        return 'expired' if 'expired' in text else 'self-signed' if 'self-signed' in text or 'self signed' in text \
            else text
    return 'verified'


def reachable(lab):
    try:
        lab.get('/version', headers=lab.token_header())
    except requests.exceptions.ConnectionError:
        return 'refused'
    return 'answers'


def version_status(lab):
    return status_of(lab.token_api().version.get)


def ticket_read(lab):
    return status_of(lab.password_api().version.get)


def suite_token(lab):
    return status_of(lab.token_api().version.get)


def capmox_token(lab):
    return status_of(lab.token_api('PROXMOX_CAPMOX').version.get)


def wrong_password_login(lab):
    return requests.post(lab.api_url + '/access/ticket', data={'username': 'qa@pve', 'password': 'wrong'},
                         verify=lab.ca, timeout=10).status_code


def wrong_token_secret(lab):
    return lab.get('/version', headers={'Authorization': 'PVEAPIToken=qa@pve!suite=wrong'}).status_code


def forged_ticket(lab):
    return lab.get('/version', cookies={'PVEAuthCookie': 'PVE:qa@pve:6A0B1C2D::' + 'Zm9yZ2Vk' * 8}).status_code


def node_states(lab):
    return [(n['node'], n['status']) for n in lab.token_api().nodes.get()]


def pve2_status(lab):
    return status_of(lab.token_api().nodes('pve2').status.get)


def quorate(lab):
    return lab.token_api().cluster.status.get()[0]['quorate']


def paths_with(lab, prefix, priv):
    held = lab.token_api(prefix).access.permissions.get()
    return sorted(path for path, privs in held.items() if priv in privs)


def capmox_clone_paths(lab):
    return paths_with(lab, 'PROXMOX_CAPMOX', 'VM.Clone')


def ccm_modify_paths(lab):
    return paths_with(lab, 'PROXMOX_CCM', 'Sys.Modify')


def visible_vmids(lab):
    return sorted(vm['vmid'] for vm in lab.token_api().cluster.resources.get(type='vm'))


def bridges(lab):
    """Per node, vmbr0 as (active, vlan aware), or None when missing."""
    out = []
    for node in NODES:
        found = [i for i in lab.token_api().nodes(node).network.get() if i['iface'] == 'vmbr0']
        out.append((found[0].get('active', 0), found[0].get('bridge_vlan_aware', 0)) if found else None)
    return out


def sdn(lab):
    api = lab.token_api()
    zones = [zone['zone'] for zone in api.cluster.sdn.zones.get()]
    return zones, [(vnet['vnet'], vnet['tag']) for vnet in api.cluster.sdn.vnets.get()]


def storage(lab, name, node, key):
    return next(s for s in lab.token_api().nodes(node).storage.get() if s['storage'] == name)[key]


def active_per_node(name):
    def storage_active(lab):
        return [storage(lab, name, node, 'active') for node in NODES]
    return storage_active


def used_percent(name):
    def storage_used_percent(lab):
        return round(storage(lab, name, 'pve1', 'used_fraction') * 100)
    return storage_used_percent


def lvm_enabled(lab):
    return storage(lab, 'local-lvm', 'pve1', 'enabled')


def lvm_content(lab):
    return dict((s['storage'], s['content']) for s in lab.token_api().storage.get())['local-lvm']


def iso_storages(lab):
    return [s['storage'] for s in lab.token_api().storage.get() if 'iso' in s['content'].split(',')]


def template_config(lab):
    return lab.token_api().nodes('pve1').qemu(9000).config.get()


def template_flag(lab):
    vm = next(r for r in lab.token_api().cluster.resources.get(type='vm') if r['vmid'] == 9000)
    return vm['template'], template_config(lab).get('template', 0)


def template_keys(*keys):
    def template_has(lab):
        return [key for key in keys if key in template_config(lab)]
    return template_has


def template_agent(lab):
    return template_config(lab)['agent']


def cpu_percent(lab):
    return [round(lab.token_api().nodes(node).status.get()['cpu'] * 100) for node in NODES]


def memory_percent(lab):
    memory = [lab.token_api().nodes(node).status.get()['memory'] for node in NODES]
    return [round(m['used'] / m['total'] * 100) for m in memory]


def peak_net_percent(lab):
    """Per node, the highest recent netin or netout as a percentage of the 10 Gbit/s link."""
    out = []
    for node in NODES:
        points = lab.token_api().nodes(node).rrddata.get(timeframe='hour', cf='AVERAGE')[-10:]
        out.append(round(max(max(p['netin'], p['netout']) for p in points) / LINK_BYTES * 100))
    return out


ONLINE = [(node, 'online') for node in NODES]
SDN = (['tenants'], [('tenanta', 101), ('tenantb', 102)])
# PVE's top-level paths and every path the lab's ACLs name: where a privilege on / shows.
ALL_PATHS = ['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/sdn/zones/localnetwork/vmbr0', '/storage',
             '/storage/local', '/storage/local-lvm', '/vms', '/vms/9000']

# fault, probe, the healthy answer, the answer under the fault
CASES = [
    ('pve-version=6.4', release, '9.0', '6.4'),
    ('tls-expired', tls_verdict, 'verified', 'expired'),
    ('tls-untrusted', tls_verdict, 'verified', 'self-signed'),
    ('pve-down', reachable, 'answers', 'refused'),
    ('pve-http-errors=/version:1', version_status, 200, 500),
    ('ticket-rejected', ticket_read, 200, 401),
    ('token-rejected', suite_token, 200, 401),
    ('token-rejected=capmox', capmox_token, 200, 401),
    ('auth-accepts-bad-credentials', wrong_password_login, 401, 200),
    ('auth-accepts-bad-credentials', wrong_token_secret, 401, 200),
    ('auth-accepts-forged-ticket', forged_ticket, 401, 200),
    ('pve-node-offline=pve2', node_states, ONLINE, [('pve1', 'online'), ('pve2', 'offline'), ('pve3', 'online')]),
    ('pve-node-offline=pve2', pve2_status, 200, 595),
    ('quorum-lost', quorate, 1, 0),
    ('token-missing-privilege=capmox:VM.Clone', capmox_clone_paths, ['/vms', '/vms/9000'], []),
    ('token-missing-privilege=suite:VM.Audit', visible_vmids, [101, 102, 103, 9000], []),
    ('token-excess-privilege=ccm:Sys.Modify', ccm_modify_paths, [], ALL_PATHS),
    ('bridge-missing=pve2', bridges, [(1, 1)] * 3, [(1, 1), None, (1, 1)]),
    ('bridge-not-vlan-aware', bridges, [(1, 1)] * 3, [(1, 0)] * 3),
    ('bridge-inactive=pve3', bridges, [(1, 1)] * 3, [(1, 1), (1, 1), (0, 1)]),
    ('sdn-missing', sdn, SDN, ([], [])),
    ('vnet-missing=tenantb', sdn, SDN, (['tenants'], [('tenanta', 101)])),
    ('vnet-shared-tag', sdn, SDN, (['tenants'], [('tenanta', 101), ('tenantb', 101)])),
    ('storage-inactive=local-lvm@pve2', active_per_node('local-lvm'), [1, 1, 1], [1, 0, 1]),
    ('storage-inactive=local', active_per_node('local'), [1, 1, 1], [0, 0, 0]),
    ('storage-disabled=local-lvm', lvm_enabled, 1, 0),
    ('storage-no-images=local-lvm', lvm_content, 'images,rootdir', 'rootdir'),
    ('iso-storage-missing', iso_storages, ['local'], []),
    ('storage-full=local-lvm', used_percent('local-lvm'), 20, 95),
    ('storage-full', used_percent('local-lvm'), 20, 95),
    ('storage-full=local:50', used_percent('local'), 14, 50),
    ('template-missing', visible_vmids, [101, 102, 103, 9000], [101, 102, 103]),
    ('template-not-template', template_flag, (1, 1), (0, 0)),
    ('template-no-agent', template_agent, '1', '0'),
    ('template-no-cloudinit', template_keys('scsi0', 'ide2'), ['scsi0', 'ide2'], ['scsi0']),
    ('template-no-disk', template_keys('scsi0', 'ide2'), ['scsi0', 'ide2'], ['ide2']),
    ('node-cpu-hot=pve1', cpu_percent, [11, 9, 10], [95, 9, 10]),
    ('node-cpu-hot=pve2:85', cpu_percent, [11, 9, 10], [11, 85, 10]),
    ('node-memory-full=pve3', memory_percent, [36, 34, 35], [36, 34, 95]),
    ('node-net-saturated=pve1', peak_net_percent, [5, 4, 6], [90, 4, 6]),
]


@pytest.mark.parametrize('spec, probe, healthy, faulted', CASES,
                         ids=['{0}-{1}'.format(case[0], case[1].__name__) for case in CASES])
def test_fault_changes_the_answer_and_clearing_restores_it(faulty_lab, spec, probe, healthy, faulted):
    assert probe(faulty_lab) == healthy
    faulty_lab.set_fault(spec)
    assert probe(faulty_lab) == faulted
    assert faulty_lab.control('DELETE', '/faults/' + spec.partition('=')[0]).json()['active'] == []
    assert probe(faulty_lab) == healthy


def test_every_fault_has_a_case(lab):
    known = set(fault['name'] for fault in lab.control('GET', '/faults').json()['known'])
    timed_below = {'pve-latency'}
    vm_faults = {'clone-fails', 'clone-slow', 'agent-no-ip', 'storage-lock-timeout'}  # test_lab_vm*.py
    backup_faults = {'backup-storage-missing', 'restore-data-lost'}                    # test_lab_backups.py
    covered = set(case[0].partition('=')[0] for case in CASES) | timed_below | vm_faults | backup_faults
    assert sorted(known - covered) == []


def timed_get(lab, path):
    started = time.perf_counter()
    answer = lab.get(path, headers=lab.token_header())
    return answer.status_code, time.perf_counter() - started


def test_latency_fault_delays_every_response(faulty_lab):
    faulty_lab.set_fault('pve-latency=0.4')
    status, seconds = timed_get(faulty_lab, '/version')
    assert status == 200 and seconds >= 0.4, seconds


def test_latency_fault_on_a_path_delays_that_path(faulty_lab):
    faulty_lab.set_fault('pve-latency=/cluster/resources:0.6s')
    status, seconds = timed_get(faulty_lab, '/cluster/resources')
    assert status == 200 and seconds >= 0.6, seconds


def test_pve_down_shows_in_health(faulty_lab):
    faulty_lab.set_fault('pve-down')
    assert faulty_lab.control('GET', '/health').json()['pve_listening'] is False


def snapshot(lab):
    """What a healthy lab answers, across the areas faults change."""
    api = lab.token_api()
    return {
        'inventory': lab.control('GET', '/inventory').json(),
        'storages': [api.nodes(node).storage.get() for node in NODES],
        'template': template_config(lab),
        'capmox': lab.token_api('PROXMOX_CAPMOX').access.permissions.get(),
        'version': api.version.get(),
        'nodes': [dict((k, n.get(k)) for k in ('node', 'status', 'cpu', 'mem')) for n in api.nodes.get()],
        'network': [api.nodes(node).network.get() for node in NODES],
        'sdn': sdn(lab),
    }


def test_clearing_all_faults_restores_the_seed_exactly(faulty_lab):
    healthy = snapshot(faulty_lab)
    for spec in ('pve-version=7.4', 'pve-node-offline=pve3', 'quorum-lost', 'token-rejected=csi',
                 'token-missing-privilege=capmox:SDN.Use', 'token-excess-privilege=capmox:Sys.Modify',
                 'bridge-missing=pve1', 'bridge-not-vlan-aware', 'vnet-shared-tag', 'storage-disabled=local',
                 'storage-no-images=local-lvm', 'iso-storage-missing', 'storage-full=local-lvm:99',
                 'template-not-template', 'template-no-agent', 'template-no-cloudinit', 'template-no-disk',
                 'template-missing', 'node-cpu-hot=pve2', 'node-memory-full=pve2', 'tls-untrusted', 'pve-down'):
        faulty_lab.set_fault(spec)
    assert len(faulty_lab.control('GET', '/faults').json()['active']) == 22
    faulty_lab.clear_faults()
    restored = snapshot(faulty_lab)
    assert restored == healthy


def test_a_new_value_replaces_the_old_one(faulty_lab):
    faulty_lab.set_fault('storage-full=local-lvm:60')
    faulty_lab.set_fault('storage-full=local-lvm:70')
    assert used_percent('local-lvm')(faulty_lab) == 70
    faulty_lab.set_fault('storage-full=local:80')
    assert (used_percent('local-lvm')(faulty_lab), used_percent('local')(faulty_lab)) == (20, 80)


def test_clearing_one_fault_keeps_the_others(faulty_lab):
    faulty_lab.set_fault('quorum-lost')
    faulty_lab.set_fault('sdn-missing')
    active = faulty_lab.control('DELETE', '/faults/quorum-lost').json()['active']
    assert active == [{'name': 'sdn-missing', 'value': None}]
    assert (quorate(faulty_lab), sdn(faulty_lab)) == (1, ([], []))


def test_unknown_fault_is_refused_naming_the_known_ones(lab):
    answer = lab.control('PUT', '/faults/cpu-on-fire')
    assert answer.status_code == 400
    assert "unknown fault 'cpu-on-fire'" in answer.json()['error'] and 'tls-expired' in answer.json()['error']


@pytest.mark.parametrize('spec, message', [
    ('pve-node-offline=pve9', "fault pve-node-offline takes NODE: NODE must be one of pve1, pve2, pve3; got 'pve9'"),
    ('storage-full=local-lvm:150', 'fault storage-full takes [STORAGE][:PERCENT]: PERCENT must be between 0 and 100'),
    ('pve-latency=slow', "fault pve-latency takes SECONDS | PATH:SECONDS: SECONDS must be a number; got 'slow'"),
    ('quorum-lost=yes', "fault quorum-lost takes no value: got 'yes'"),
    ('token-missing-privilege=capmox:VM.Monitor', 'PRIV must be one of'),
    ('clone-slow=fast', "fault clone-slow takes SECONDS: SECONDS must be a number; got 'fast'"),
    ('storage-lock-timeout=0', 'fault storage-lock-timeout takes [N]: N must be between 1 and 100; got 0'),
])
def test_bad_value_is_refused_naming_the_format(lab, spec, message):
    name, _, value = spec.partition('=')
    answer = lab.control('PUT', '/faults/' + name, {'value': value})
    assert answer.status_code == 400 and message in answer.json()['error'], answer.text
    assert lab.control('GET', '/faults').json()['active'] == []


def test_a_body_that_is_not_json_is_refused(lab):
    answer = requests.put(lab.control_url + '/faults/quorum-lost', data='value=1', timeout=5)
    assert answer.status_code == 400 and 'JSON object' in answer.json()['error']
