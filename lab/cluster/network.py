"""The pod network of one cluster, as Cilium (kube-proxy replacement, LB IPAM, NetworkPolicy), Kube-OVN and
CoreDNS make it: Endpoints and EndpointSlices for Services, LoadBalancer addresses, node pod CIDRs, DNS names,
and the verdict on every connection a pod opens.

A connection to a Service's ClusterIP or LoadBalancer address goes to one of its ready endpoints (round robin),
translated to the endpoint's target port; NetworkPolicies are then evaluated between the client pod and that
backend pod, both ways (the client's egress, the backend's ingress). A dropped connection times out; a port
nobody listens on is refused. As with Cilium, ipBlock peers match addresses outside the cluster only, never pods.
"""

import ipaddress
import itertools

from . import events
from .podspec import active, node_ready, pod_ready, selects
from .runtime import find, owner_reference

CLUSTER_DOMAIN = 'cozy.local'
DNS_SERVICE_IP = '10.96.0.10'
LB_POOL = [str(ipaddress.ip_address('10.20.1.200') + offset) for offset in range(51)]     # .200 - .250
SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by'
SLICE_CONTROLLER = 'endpointslice-controller.k8s.io'
# Ports the well-known images listen on when a pod spec declares none.
IMAGE_PORTS = (('nginx', ((80, 'TCP'),)), ('httpd', ((80, 'TCP'),)), ('redis', ((6379, 'TCP'),)),
               ('postgres', ((5432, 'TCP'),)), ('coredns', ((53, 'UDP'), (53, 'TCP'))))
OPEN, REFUSED, TIMEOUT = 'open', 'refused', 'timeout'


def image_name(image):
    """The last path element of an image reference without tag or digest: 'nginx' for docker.io/nginx:1.27."""
    return image.split('@')[0].rsplit('/', 1)[-1].split(':')[0]


def listens(container, port, protocol):
    """The container declares (or its image is known to serve) that port."""
    declared = [(item.get('containerPort'), item.get('protocol', 'TCP')) for item in container.get('ports') or ()]
    if not declared:
        declared = list(dict(IMAGE_PORTS).get(image_name(container.get('image', '')), ()))
    return (port, protocol) in declared


def named_port(pod, name, protocol):
    """The number of the pod's container port of that name and protocol, or None."""
    for container in pod['spec'].get('containers') or ():
        for item in container.get('ports') or ():
            if item.get('name') == name and item.get('protocol', 'TCP') == protocol:
                return item.get('containerPort')
    return None


def target_port(pod, service_port):
    target = service_port.get('targetPort', service_port.get('port'))
    if isinstance(target, str) and not target.isdigit():
        return named_port(pod, target, service_port.get('protocol', 'TCP'))
    return int(target)


class Network(object):
    """Answers what a pod's packets meet: DNS, Services, policies, listening containers."""

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self._pods = self.store.kind('v1', 'Pod')
        self._services = self.store.kind('v1', 'Service')
        self._policies = self.store.kind('networking.k8s.io/v1', 'NetworkPolicy')
        self._namespaces = self.store.kind('v1', 'Namespace')
        self._nodes = self.store.kind('v1', 'Node')
        self._endpoints = self.store.kind('v1', 'Endpoints')
        self._turns = {}      # service uid -> round robin counter

    # ------------------------------------------------------------------ who is where

    def _running_pods(self):
        return [pod for pod in self.store.list(self._pods)[0]
                if active(pod) and (pod.get('status') or {}).get('podIP')]

    def pod_at(self, ip):
        return next((pod for pod in self._running_pods() if pod['status']['podIP'] == ip
                     and not pod['spec'].get('hostNetwork')), None) or next(
            (pod for pod in self._running_pods() if pod['status']['podIP'] == ip), None)

    def service_at(self, ip):
        """The Service a ClusterIP or LoadBalancer address belongs to, or None."""
        for service in self.store.list(self._services)[0]:
            spec = service['spec']
            ingress = ((service.get('status') or {}).get('loadBalancer') or {}).get('ingress') or ()
            if ip in (spec.get('clusterIPs') or [spec.get('clusterIP')]) or (
                    spec.get('type') == 'LoadBalancer' and ip in [item.get('ip') for item in ingress]):
                return service
        return None

    def backends(self, service, ready_only=True):
        """The pods a Service with a selector sends to (ready ones unless asked otherwise)."""
        selector = service['spec'].get('selector')
        if not selector:
            return []
        namespace = service['metadata']['namespace']
        publish = service['spec'].get('publishNotReadyAddresses')
        return [pod for pod in self.store.list(self._pods, namespace)[0]
                if active(pod) and (pod.get('status') or {}).get('podIP')
                and selects({'matchLabels': selector}, pod['metadata'].get('labels'))
                and (publish or not ready_only or pod_ready(pod))]

    # ------------------------------------------------------------------ DNS

    def resolver(self, pod):
        """The nameserver the pod's resolv.conf names, or None when cluster names cannot be resolved from it."""
        spec = pod['spec']
        policy = spec.get('dnsPolicy', 'ClusterFirst')
        if policy == 'Default' or (spec.get('hostNetwork') and policy != 'ClusterFirstWithHostNet'):
            return None
        return DNS_SERVICE_IP

    def search_path(self, pod):
        namespace = pod['metadata']['namespace']
        return ['{0}.svc.{1}'.format(namespace, CLUSTER_DOMAIN), 'svc.' + CLUSTER_DOMAIN, CLUSTER_DOMAIN]

    def lookup(self, pod, name):
        """(status, fully qualified name, addresses): status 'ok', 'nxdomain' or 'timeout'."""
        try:
            return 'ok', name, [str(ipaddress.ip_address(name))]
        except ValueError:
            pass
        server = self.resolver(pod)
        if server is None:
            return 'nxdomain', name, []
        if self.connect(pod, server, 53, 'UDP') != OPEN:
            return 'timeout', name, []
        bare = name.rstrip('.')
        candidates = [bare] if name.endswith('.') or name.count('.') >= 5 else \
            ['{0}.{1}'.format(bare, domain) for domain in self.search_path(pod)] + [bare]
        for candidate in candidates:
            addresses = self._answer(candidate)
            if addresses:
                return 'ok', candidate, addresses
        return 'nxdomain', name, []

    def _answer(self, fqdn):
        """The A records CoreDNS's kubernetes plugin serves for a name of the cluster domain."""
        suffix = '.' + CLUSTER_DOMAIN
        if not fqdn.endswith(suffix):
            return []
        labels = fqdn[:-len(suffix)].split('.')
        if len(labels) == 3 and labels[2] == 'pod':
            return [labels[0].replace('-', '.')] if self.pod_at(labels[0].replace('-', '.')) else []
        if len(labels) not in (3, 4) or labels[-1] != 'svc':
            return []
        service = find(self.store, self._services, labels[-3], labels[-2])
        if service is None:
            return []
        headless = service['spec'].get('clusterIP') == 'None'
        if len(labels) == 4:
            return [pod['status']['podIP'] for pod in self.backends(service)
                    if headless and (pod['spec'].get('hostname') or pod['metadata']['name']) == labels[0]
                    and pod['spec'].get('subdomain') == labels[1]]
        if headless:
            return sorted(pod['status']['podIP'] for pod in self.backends(service))
        return [service['spec']['clusterIP']]

    # ------------------------------------------------------------------ connections

    def connect(self, client, ip, port, protocol='TCP'):
        """What a connection from the client pod to ip:port meets: OPEN, REFUSED or TIMEOUT."""
        verdict, _server = self.reach(client, ip, port, protocol)
        return verdict

    def reach(self, client, ip, port, protocol='TCP'):
        """(verdict, (pod, container) that answers or None)."""
        service = self.service_at(ip)
        if service is not None:
            if self.world.faults.active('pod-network-broken'):
                return TIMEOUT, None
            return self._through_service(client, service, port, protocol)
        return self._to_address(client, ip, port, protocol)

    def _through_service(self, client, service, port, protocol):
        service_port = next((item for item in service['spec'].get('ports') or ()
                             if item.get('port') == port and item.get('protocol', 'TCP') == protocol), None)
        if service_port is None:
            return TIMEOUT, None
        if not service['spec'].get('selector'):
            return self._selectorless(service, service_port)
        backends = [(pod, target_port(pod, service_port)) for pod in self.backends(service)]
        backends = [(pod, target) for pod, target in backends if target]
        if not backends:
            return REFUSED, None
        turn = self._turns.setdefault(service['metadata']['uid'], itertools.count())
        pod, target = backends[next(turn) % len(backends)]
        return self._to_pod(client, pod, target, protocol)

    def _selectorless(self, service, service_port):
        """A Service whose Endpoints someone else writes (the `kubernetes` Service: the API server)."""
        endpoints = find(self.store, self._endpoints, service['metadata']['name'], service['metadata']['namespace'])
        addresses = [address for subset in (endpoints or {}).get('subsets') or ()
                     for address in subset.get('addresses') or ()]
        return (OPEN, None) if addresses else (REFUSED, None)

    def _to_address(self, client, ip, port, protocol):
        pod = self.pod_at(ip)
        if pod is None:
            if not self._policy_allows(client, None, ip, port, protocol):
                return TIMEOUT, None
            return (REFUSED if self._node_address(ip) else TIMEOUT), None
        return self._to_pod(client, pod, port, protocol)

    def _node_address(self, ip):
        return any(address.get('address') == ip for node in self.store.list(self._nodes)[0]
                   for address in (node.get('status') or {}).get('addresses') or ())

    def _to_pod(self, client, pod, port, protocol):
        node = find(self.store, self._nodes, pod['spec'].get('nodeName', ''))
        if node is None or node_ready(node) == 'Unknown':
            return TIMEOUT, None
        if not self._policy_allows(client, pod, pod['status']['podIP'], port, protocol):
            return TIMEOUT, None
        running = [status['name'] for status in (pod.get('status') or {}).get('containerStatuses') or ()
                   if (status.get('state') or {}).get('running')]
        for container in pod['spec'].get('containers') or ():
            if container['name'] in running and listens(container, port, protocol):
                return OPEN, (pod, container)
        return REFUSED, None

    # ------------------------------------------------------------------ NetworkPolicy

    def _policy_allows(self, client, server, server_ip, port, protocol):
        """Egress of the client to the server (a pod, or None for an address outside the cluster) and ingress
        of the server from the client, on port and protocol."""
        if self.world.faults.active('netpol-not-enforced'):
            return True
        client_ip = (client.get('status') or {}).get('podIP', '')
        if not self._allowed(client, 'Egress', server, server_ip, port, protocol):
            return False
        return server is None or self._allowed(server, 'Ingress', client, client_ip, port, protocol)

    def _allowed(self, pod, direction, peer, peer_ip, port, protocol):
        """Whether the policies isolating pod in that direction let traffic with the peer through."""
        if pod['spec'].get('hostNetwork'):
            return True
        isolating = [policy for policy in self.store.list(self._policies, pod['metadata']['namespace'])[0]
                     if direction in policy_types(policy)
                     and selects(policy['spec'].get('podSelector') or {}, pod['metadata'].get('labels'))]
        if not isolating:
            return True
        port_owner = pod if direction == 'Ingress' else peer
        key, peers_key = ('ingress', 'from') if direction == 'Ingress' else ('egress', 'to')
        for policy in isolating:
            for rule in policy['spec'].get(key) or ():
                if (self._peers_match(rule.get(peers_key), policy, peer, peer_ip)
                        and ports_match(rule.get('ports'), port_owner, port, protocol)):
                    return True
        return False

    def _peers_match(self, peers, policy, peer, peer_ip):
        if not peers:
            return True
        return any(self._peer_matches(item, policy, peer, peer_ip) for item in peers)

    def _peer_matches(self, item, policy, peer, peer_ip):
        if item.get('ipBlock'):
            return peer is None and in_block(item['ipBlock'], peer_ip)
        if peer is None:
            return False
        namespace = peer['metadata']['namespace']
        if 'namespaceSelector' in item:
            labels = (find(self.store, self._namespaces, namespace) or {'metadata': {}})['metadata'].get('labels')
            if not selects(item['namespaceSelector'] or {}, labels):
                return False
        elif namespace != policy['metadata']['namespace']:
            return False
        return 'podSelector' not in item or selects(item['podSelector'] or {}, peer['metadata'].get('labels'))


def policy_types(policy):
    """spec.policyTypes, defaulted as the API server does: Ingress, plus Egress when egress rules are given."""
    spec = policy.get('spec') or {}
    if spec.get('policyTypes'):
        return spec['policyTypes']
    return ['Ingress'] + (['Egress'] if spec.get('egress') else [])


def ports_match(ports, port_owner, port, protocol):
    """A rule's ports against the destination port; named ports are looked up on the destination pod."""
    if not ports:
        return True
    for item in ports:
        if item.get('protocol', 'TCP') != protocol:
            continue
        wanted = item.get('port')
        if wanted is None:
            return True
        if isinstance(wanted, str) and not wanted.isdigit():
            if port_owner is not None and named_port(port_owner, wanted, protocol) == port:
                return True
            continue
        if int(wanted) <= port <= int(item.get('endPort') or wanted):
            return True
    return False


def in_block(block, ip):
    try:
        address = ipaddress.ip_address(ip)
        return address in ipaddress.ip_network(block['cidr'], strict=False) and not any(
            address in ipaddress.ip_network(cidr, strict=False) for cidr in block.get('except') or ())
    except ValueError:
        return False


class ServiceNetwork(object):
    """The endpoints and EndpointSlice controllers, and Cilium's LB IPAM, for Services."""

    primary = ('v1', 'Service')

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self.name = world.name + '/endpoints'
        self._services = self.store.kind('v1', 'Service')
        self._endpoints = self.store.kind('v1', 'Endpoints')
        self._slices = self.store.kind('discovery.k8s.io/v1', 'EndpointSlice')
        self.related = [(self.store, ('v1', 'Pod'), self._services_of)]

    def _services_of(self, pod):
        namespace = pod['metadata']['namespace']
        return [(namespace, service['metadata']['name'])
                for service in self.store.list(self._services, namespace)[0] if service['spec'].get('selector')]

    async def reconcile(self, key):
        namespace, name = key
        service = find(self.store, self._services, name, namespace)
        if service is None or service['metadata'].get('deletionTimestamp'):
            self._forget(namespace, name)
            return None
        if service['spec'].get('type') == 'LoadBalancer':
            self._load_balancer(service)
        if service['spec'].get('selector'):
            pods = self.world.network.backends(service, ready_only=False)
            self._write_endpoints(service, pods)
            self._write_slice(service, pods)
        return None

    def _forget(self, namespace, name):
        endpoints = find(self.store, self._endpoints, name, namespace)
        if endpoints is not None and (endpoints['metadata'].get('labels') or {}).get(MANAGED_BY_LABEL) is None:
            self.store.delete(self._endpoints, name, namespace)

    def _ports(self, service, pod):
        ports = []
        for item in service['spec'].get('ports') or ():
            number = target_port(pod, item)
            if number:
                port = {'port': number, 'protocol': item.get('protocol', 'TCP')}
                if item.get('name'):
                    port['name'] = item['name']
                ports.append(port)
        return ports

    @staticmethod
    def _address(pod):
        return {'ip': pod['status']['podIP'], 'nodeName': pod['spec'].get('nodeName'),
                'targetRef': {'kind': 'Pod', 'namespace': pod['metadata']['namespace'],
                              'name': pod['metadata']['name'], 'uid': pod['metadata']['uid']}}

    def _write_endpoints(self, service, pods):
        publish = service['spec'].get('publishNotReadyAddresses')
        subsets = {}
        for pod in pods:
            ports = self._ports(service, pod)
            subset = subsets.setdefault(repr(ports), {'ports': ports})
            which = 'addresses' if publish or pod_ready(pod) else 'notReadyAddresses'
            subset.setdefault(which, []).append(self._address(pod))
        body = {'metadata': {'name': service['metadata']['name'], 'namespace': service['metadata']['namespace'],
                             'labels': dict(service['metadata'].get('labels') or {})},
                'subsets': [subsets[key] for key in sorted(subsets)] or None}
        current = find(self.store, self._endpoints, service['metadata']['name'], service['metadata']['namespace'])
        if current is None:
            self.store.create(self._endpoints, body)
        elif (current.get('subsets'), current['metadata'].get('labels')) != (body['subsets'],
                                                                          body['metadata']['labels'] or None):
            self.store.patch(self._endpoints, current['metadata']['name'], {
                'subsets': body['subsets'], 'metadata': {'labels': body['metadata']['labels'] or None}},
                'merge', current['metadata']['namespace'])

    def _write_slice(self, service, pods):
        namespace, name = service['metadata']['namespace'], service['metadata']['name']
        publish = service['spec'].get('publishNotReadyAddresses')
        endpoints = []
        ports = []
        for pod in pods:
            ready = bool(publish or pod_ready(pod))
            terminating = bool(pod['metadata'].get('deletionTimestamp'))
            endpoint = {'addresses': [pod['status']['podIP']],
                        'conditions': {'ready': ready, 'serving': ready or (terminating and pod_ready(pod)),
                                       'terminating': terminating},
                        'nodeName': pod['spec'].get('nodeName'), 'targetRef': self._address(pod)['targetRef']}
            endpoints.append(endpoint)
            ports = ports or self._ports(service, pod)
        labels = dict(service['metadata'].get('labels') or {}, **{SERVICE_NAME_LABEL: name,
                                                                   MANAGED_BY_LABEL: SLICE_CONTROLLER})
        content = {'addressType': 'IPv4', 'endpoints': endpoints or None, 'ports': ports or None}
        found = self.store.list(self._slices, namespace, labels='{0}={1}'.format(SERVICE_NAME_LABEL, name))[0]
        if not found:
            self.store.create(self._slices, dict(content, metadata={
                'generateName': name + '-', 'namespace': namespace, 'labels': labels,
                'ownerReferences': [owner_reference(service)]}))
            return
        current = found[0]
        if (current.get('endpoints'), current.get('ports')) != (content['endpoints'], content['ports']):
            self.store.patch(self._slices, current['metadata']['name'], content, 'merge', namespace)

    def _load_balancer(self, service):
        """Cilium LB IPAM: an address from the pool (spec.loadBalancerIP when free), none while lb-no-address."""
        status = (service.get('status') or {}).get('loadBalancer') or {}
        current = [item.get('ip') for item in status.get('ingress') or ()]
        if self.world.faults.active('lb-no-address'):
            if current:
                self._set_ingress(service, None)
            return
        if current:
            return
        used = set(item.get('ip') for other in self.store.list(self._services)[0]
                   for item in (((other.get('status') or {}).get('loadBalancer') or {}).get('ingress') or ()))
        wanted = service['spec'].get('loadBalancerIP')
        free = [ip for ip in ([wanted] if wanted else LB_POOL) if ip in LB_POOL and ip not in used]
        if not free:
            events.record(self.store, service, 'Warning', 'AllocationFailed',
                          'no IP address available in the load balancer pool', 'cilium-operator')
            return
        self._set_ingress(service, [{'ip': free[0], 'ipMode': 'VIP'}])

    def _set_ingress(self, service, ingress):
        self.store.patch(self._services, service['metadata']['name'],
                         {'status': {'loadBalancer': {'ingress': ingress}}},      # None removes it
                         'merge', service['metadata']['namespace'], subresource='status')


class NodeIpam(object):
    """kube-controller-manager's node IPAM: a /24 of the cluster's pod CIDR for every Node without one."""

    primary = ('v1', 'Node')

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self.name = world.name + '/node-ipam'
        self._nodes = self.store.kind('v1', 'Node')
        self.related = []

    async def reconcile(self, key):
        node = find(self.store, self._nodes, key[1])
        if node is None or (node.get('spec') or {}).get('podCIDR'):
            return None
        taken = set((item.get('spec') or {}).get('podCIDR') for item in self.store.list(self._nodes)[0])
        subnets = ipaddress.ip_network(self.world.pod_cidr).subnets(new_prefix=24)
        cidr = next(str(subnet) for index, subnet in enumerate(subnets) if index and str(subnet) not in taken)
        self.store.patch(self._nodes, key[1], {'spec': {'podCIDR': cidr, 'podCIDRs': [cidr]}}, 'merge')
        return None

