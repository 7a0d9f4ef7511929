"""The pod network of lab.cluster, judged only by what probe Jobs (busybox wget/nc/nslookup) print and exit with,
as the suite does on a real cluster: Services and DNS, NetworkPolicy enforcement, LoadBalancer addresses, and
the network faults."""

import ipaddress

import pytest

from cluster_helpers import wait_for
from workload_helpers import new_space, ready

WGET = 'wget -q -T 3 -O - {0}'
TIMED_OUT = 'wget: download timed out\n'
DENY_ALL_INGRESS = {'podSelector': {}, 'policyTypes': ['Ingress']}


@pytest.fixture
def web(space):
    """Deployment web (nginx on 80, app=web) behind Service web; its pod."""
    space.deployment('web', {'app': 'web'})
    space.service('web', {'app': 'web'})
    space.wait_deployment('web', 1)
    [pod] = space.pods('app=web')
    return pod


def test_probes_reach_a_service_by_name_and_are_refused_where_nothing_listens(space, web):
    succeeded, log = space.probe(WGET.format('http://web'))
    assert (succeeded, 'Welcome to nginx!' in log) == (True, True), log
    fqdn = 'http://web.{0}.svc.cozy.local/'.format(space.name)
    assert space.probe(WGET.format(fqdn))[0] is True
    ip = web['status']['podIP']
    assert space.probe(WGET.format('http://{0}:81'.format(ip))) == (
        False, "wget: can't connect to remote host ({0}): Connection refused\n".format(ip))
    assert space.probe(WGET.format('http://nosuch')) == (False, "wget: bad address 'nosuch'\n")
    assert space.probe('nc -z -w 2 web 80 && echo open')[0] is True
    assert space.probe('wget -q -T 3 -O - http://web/missing') == (
        False, 'wget: server returned error: HTTP/1.1 404 Not Found\n')


def test_services_have_endpoints_and_endpoint_slices_of_their_ready_pods(space, web):
    endpoints = space.cluster.core.read_namespaced_endpoints('web', space.name)
    [subset] = endpoints.subsets
    assert ([address.ip for address in subset.addresses], [(port.name, port.port) for port in subset.ports]) == (
        [web['status']['podIP']], [('http', 80)])
    [endpoint_slice] = space.cluster.discovery.list_namespaced_endpoint_slice(
        space.name, label_selector='kubernetes.io/service-name=web').items
    [endpoint] = endpoint_slice.endpoints
    assert (endpoint_slice.address_type, endpoint.addresses, endpoint.conditions.ready, endpoint.target_ref.name) == (
        'IPv4', [web['status']['podIP']], True, web['metadata']['name'])


def test_dns_answers_cluster_names_and_nxdomain_for_unknown_ones(space, web):
    succeeded, log = space.probe('nslookup kubernetes.default.svc.cozy.local')
    assert succeeded, log
    assert log.startswith('Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n'), log
    assert 'Name:\tkubernetes.default.svc.cozy.local\nAddress: 10.96.0.1\n' in log, log
    service_ip = space.cluster.core.read_namespaced_service('web', space.name).spec.cluster_ip
    succeeded, log = space.probe('nslookup web')
    assert (succeeded, 'Address: {0}\n'.format(service_ip) in log) == (True, True), log
    succeeded, log = space.probe('nslookup nosuch.{0}.svc.cozy.local'.format(space.name))
    assert (succeeded, "** server can't find nosuch.{0}.svc.cozy.local: NXDOMAIN".format(space.name) in log) == (
        False, True), log


def test_deny_all_ingress_blocks_until_an_allow_from_role_client_on_tcp_80(space, web):
    assert space.probe(WGET.format('http://web'), labels={'role': 'client'})[0] is True
    space.policy('deny-all', DENY_ALL_INGRESS)
    assert space.probe(WGET.format('http://web'), labels={'role': 'client'}) == (False, TIMED_OUT)
    space.policy('allow-client', {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                                  'ingress': [{'from': [{'podSelector': {'matchLabels': {'role': 'client'}}}],
                                               'ports': [{'protocol': 'TCP', 'port': 80}]}]})
    assert space.probe(WGET.format('http://web'), labels={'role': 'client'})[0] is True
    assert space.probe(WGET.format('http://web'), labels={'role': 'other'}) == (False, TIMED_OUT)


def test_egress_deny_with_a_dns_allow_to_kube_system_still_resolves_names(space, web):
    space.policy('egress-dns-only', {'podSelector': {}, 'policyTypes': ['Egress'], 'egress': [{
        'to': [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'kube-system'}}}],
        'ports': [{'protocol': 'UDP', 'port': 53}, {'protocol': 'TCP', 'port': 53}]}]})
    succeeded, log = space.probe('nslookup web.{0}.svc.cozy.local'.format(space.name))
    assert succeeded, log
    assert space.probe(WGET.format('http://web')) == (False, TIMED_OUT)
    space.cluster.networking.delete_namespaced_network_policy('egress-dns-only', space.name)
    space.policy('egress-nothing', {'podSelector': {}, 'policyTypes': ['Egress']})
    assert space.probe('nslookup web') == (False, ';; connection timed out; no servers could be reached\n\n')


def test_peers_combine_namespace_and_pod_selectors_on_named_ports(space, web, mgmt):
    space.policy('from-team-a-clients', {'podSelector': {'matchLabels': {'app': 'web'}}, 'ingress': [{
        'from': [{'namespaceSelector': {'matchLabels': {'team': 'a'}}, 'podSelector': {
            'matchLabels': {'role': 'client'}}}],
        'ports': [{'protocol': 'TCP', 'port': 'http'}]}]})
    space.cluster.apps.patch_namespaced_deployment('web', space.name, {'spec': {'template': {'spec': {'containers': [
        {'name': 'main', 'ports': [{'containerPort': 80, 'name': 'http'}]}]}}}})
    wait_for('the named port rolled out', lambda: space.pods('app=web'), lambda pods: len(pods) == 1 and ready(
        pods[0]) and pods[0]['spec']['containers'][0]['ports'][0].get('name') == 'http')
    url = WGET.format('http://web.{0}'.format(space.name))
    team_a, team_b = new_space(mgmt, {'team': 'a'}), new_space(mgmt, {'team': 'b'})
    try:
        assert team_a.probe(url, labels={'role': 'client'})[0] is True
        assert team_a.probe(url, labels={'role': 'server'}) == (False, TIMED_OUT)
        assert team_b.probe(url, labels={'role': 'client'}) == (False, TIMED_OUT)
        assert space.probe(url, labels={'role': 'client'}) == (False, TIMED_OUT), 'the namespace must match as well'
    finally:
        team_a.delete()
        team_b.delete()


def test_netpol_not_enforced_lets_denied_traffic_through(space, web, lab):
    space.policy('deny-all', DENY_ALL_INGRESS)
    assert space.probe(WGET.format('http://web')) == (False, TIMED_OUT)
    lab.set_fault('netpol-not-enforced')
    assert space.probe(WGET.format('http://web'))[0] is True
    lab.clear_faults()
    assert space.probe(WGET.format('http://web')) == (False, TIMED_OUT)


def test_dns_broken_crash_loops_coredns_and_lookups_time_out(space, web, lab, mgmt):
    lab.set_fault('dns-broken')
    pods = wait_for('coredns pods crash-loop', lambda: [mgmt.json(pod) for pod in mgmt.core.list_namespaced_pod(
        'kube-system', label_selector='k8s-app=kube-dns').items], lambda found: len(found) == 2 and all(
        (pod['status'].get('containerStatuses') or [{}])[0].get('state', {}).get('waiting', {}).get('reason')
        == 'CrashLoopBackOff' for pod in found))
    assert [(pod['status']['containerStatuses'][0]['restartCount'], ready(pod)) for pod in pods] == [(7, False)] * 2
    status = mgmt.apps.read_namespaced_deployment('coredns', 'kube-system').status
    assert (status.available_replicas, status.unavailable_replicas) == (None, 2)
    assert space.probe('nslookup kubernetes.default.svc.cozy.local') == (
        False, ';; connection timed out; no servers could be reached\n\n')
    assert space.probe(WGET.format('http://web')) == (False, "wget: bad address 'web'\n")
    assert space.probe(WGET.format('http://' + web['status']['podIP']))[0] is True, 'addresses still work'
    lab.clear_faults()
    wait_for('coredns recovers', lambda: mgmt.apps.read_namespaced_deployment('coredns', 'kube-system').status,
             lambda found: found.available_replicas == 2)
    assert space.probe('nslookup kubernetes.default.svc.cozy.local')[0] is True


def test_cni_agent_crashloop_leaves_pod_networking_working(space, web, lab, mgmt):
    lab.set_fault('cni-agent-crashloop')
    wait_for('the cilium agents crash-loop', lambda: [
        (status.restart_count, status.ready, status.state.waiting and status.state.waiting.reason)
        for pod in mgmt.core.list_namespaced_pod('cozy-cilium', label_selector='k8s-app=cilium').items
        for status in pod.status.container_statuses or ()],
        lambda found: found == [(7, False, 'CrashLoopBackOff')] * 3)
    wait_for('DaemonSet cilium has no ready pod', lambda: mgmt.apps.read_namespaced_daemon_set(
        'cilium', 'cozy-cilium').status.number_ready, lambda number: number == 0)
    assert space.probe(WGET.format('http://web'))[0] is True
    lab.clear_faults()
    wait_for('fresh cilium agents', lambda: mgmt.apps.read_namespaced_daemon_set('cilium', 'cozy-cilium').status,
             lambda status: status.number_ready == 3)
    restarts = [status.restart_count for pod in mgmt.core.list_namespaced_pod(
        'cozy-cilium', label_selector='k8s-app=cilium').items for status in pod.status.container_statuses]
    assert restarts == [0, 0, 0]


def test_pod_network_broken_fails_cluster_ips_but_not_pod_ips(space, web, lab):
    service_ip = space.cluster.core.read_namespaced_service('web', space.name).spec.cluster_ip
    assert space.probe(WGET.format('http://' + service_ip))[0] is True
    lab.set_fault('pod-network-broken')
    assert space.probe(WGET.format('http://' + service_ip)) == (False, TIMED_OUT)
    assert space.probe(WGET.format('http://' + web['status']['podIP']))[0] is True


def test_a_load_balancer_service_gets_a_pool_address_that_answers_unless_lb_no_address(space, web, lab):
    def addresses():
        found = []
        for name in ('web-lb', 'web-lb2'):
            status = space.cluster.json(space.cluster.core.read_namespaced_service(name, space.name)).get('status')
            found.append([item['ip'] for item in ((status or {}).get('loadBalancer') or {}).get('ingress') or ()])
        return found
    space.service('web-lb', {'app': 'web'}, kind='LoadBalancer')
    lab.set_fault('lb-no-address')
    space.service('web-lb2', {'app': 'web'}, kind='LoadBalancer')
    wait_for('no address while lb-no-address is set', addresses, lambda found: found == [[], []])
    lab.clear_faults()
    [[first], [second]] = wait_for('addresses from the pool', addresses, lambda found: all(found))
    pool = list(ipaddress.summarize_address_range(ipaddress.ip_address('10.20.1.200'),
                                                 ipaddress.ip_address('10.20.1.250')))
    assert all(any(ipaddress.ip_address(ip) in network for network in pool) for ip in (first, second))
    assert first != second
    assert space.probe(WGET.format('http://' + first))[0] is True
    lab.set_fault('lb-no-address')
    wait_for('the addresses are withdrawn', addresses, lambda found: found == [[], []])
