"""The network system components every CozyStack cluster runs, with CozyStack's names: Cilium (`cozy-cilium`),
Kube-OVN (`cozy-kubeovn`) and CoreDNS (`kube-system`, Service kube-dns at 10.96.0.10, cluster domain cozy.local);
and in the management cluster the monitoring operators (`cozy-victoria-metrics-operator`, `cozy-grafana-operator`).

They are plain Deployments and DaemonSets: the workload controllers make their pods, so a node that joins gets
its cilium, kube-ovn-cni and ovs-ovn pods. The faults that break them are applied here.
"""

from .images import UNREACHABLE
from .network import CLUSTER_DOMAIN, DNS_SERVICE_IP
from .runtime import find

CILIUM_VERSION = 'v1.16.6'
KUBE_OVN_IMAGE = 'docker.io/kubeovn/kube-ovn:v1.13.13'
COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.11.3'
CILIUM_NAMESPACE = 'cozy-cilium'
KUBE_OVN_NAMESPACE = 'cozy-kubeovn'
DNS_LABELS = {'k8s-app': 'kube-dns'}
CILIUM_LABELS = {'k8s-app': 'cilium', 'app.kubernetes.io/name': 'cilium-agent', 'app.kubernetes.io/part-of': 'cilium'}
VM_OPERATOR_NAMESPACE = 'cozy-victoria-metrics-operator'
VM_OPERATOR_IMAGE = 'victoriametrics/operator:v0.68.4'      # the appVersion of CozyStack's vendored chart
VM_OPERATOR_LABELS = {'app.kubernetes.io/name': 'victoria-metrics-operator',
                      'app.kubernetes.io/instance': 'victoria-metrics-operator'}
GRAFANA_OPERATOR_NAMESPACE = 'cozy-grafana-operator'
GRAFANA_OPERATOR_IMAGE = 'ghcr.io/grafana/grafana-operator:v5.18.0'
GRAFANA_OPERATOR_LABELS = {'app.kubernetes.io/name': 'grafana-operator',
                           'app.kubernetes.io/instance': 'grafana-operator'}
# fault -> (namespace, label selector, container) of the pods it makes crash-loop
CRASHING = {'dns-broken': ('kube-system', 'k8s-app=kube-dns', 'coredns'),
            'cni-agent-crashloop': (CILIUM_NAMESPACE, 'k8s-app=cilium', 'cilium-agent'),
            'monitoring-operator-down': (VM_OPERATOR_NAMESPACE, 'app.kubernetes.io/name=victoria-metrics-operator',
                                         'operator')}
API_SERVER_ADDRESS = {'mgmt': '192.168.100.10', 'tenant': '192.168.100.20'}
EVERYWHERE = [{'operator': 'Exists'}]
COREFILE = """.:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {0} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
        max_concurrent 1000
    }}
    cache 30
    loop
    reload
    loadbalance
}}
""".format(CLUSTER_DOMAIN)


def _container(name, image, command, args=(), ports=(), requests=None, probe=None):
    container = {'name': name, 'image': image, 'imagePullPolicy': 'IfNotPresent',
                 'resources': {'requests': requests or {'cpu': '100m', 'memory': '128Mi'}}}
    if command:
        container['command'] = list(command)
    if args:
        container['args'] = list(args)
    if ports:
        container['ports'] = [dict(zip(('name', 'containerPort', 'protocol'), port)) for port in ports]
    if probe:
        container['readinessProbe'] = {'httpGet': {'path': probe[0], 'port': probe[1]}, 'periodSeconds': 10}
    return container


def _workload(kind, name, namespace, labels, spec, replicas=None):
    body = {'apiVersion': 'apps/v1', 'kind': kind,
            'metadata': {'name': name, 'namespace': namespace, 'labels': dict(labels)},
            'spec': {'selector': {'matchLabels': dict(labels)},
                     'template': {'metadata': {'labels': dict(labels)}, 'spec': spec}}}
    if replicas is not None:
        body['spec']['replicas'] = replicas
    return body


def manifests(cluster):
    """The objects of the cluster's system components, in the order they are created."""
    cilium_image = 'quay.io/cilium/cilium:' + CILIUM_VERSION
    agent = {'hostNetwork': True, 'serviceAccountName': 'cilium', 'priorityClassName': 'system-node-critical',
             'tolerations': EVERYWHERE, 'terminationGracePeriodSeconds': 1,
             'initContainers': [_container('config', cilium_image, ['cilium-dbg', 'build-config']),
                                _container('install-cni-binaries', cilium_image, ['/install-plugin.sh'])],
             'containers': [_container('cilium-agent', cilium_image, ['cilium-agent'],
                                       ['--config-dir=/tmp/cilium/config-map'], probe=('/healthz', 9879))]}
    operator = {'hostNetwork': True, 'serviceAccountName': 'cilium-operator',
                'priorityClassName': 'system-cluster-critical', 'tolerations': EVERYWHERE,
                'containers': [_container('cilium-operator', 'quay.io/cilium/operator-generic:' + CILIUM_VERSION,
                                          ['cilium-operator-generic'], ['--config-dir=/tmp/cilium/config-map'],
                                          probe=('/healthz', 9234))]}
    ovn = dict(hostNetwork=True, serviceAccountName='ovn', priorityClassName='system-node-critical',
               tolerations=EVERYWHERE)
    coredns = {'serviceAccountName': 'coredns', 'priorityClassName': 'system-cluster-critical', 'dnsPolicy': 'Default',
               'tolerations': [{'key': 'CriticalAddonsOnly', 'operator': 'Exists'},
                               {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}],
               'volumes': [{'name': 'config-volume', 'configMap': {'name': 'coredns', 'items': [
                   {'key': 'Corefile', 'path': 'Corefile'}]}}],
               'containers': [dict(_container('coredns', COREDNS_IMAGE, [], ['-conf', '/etc/coredns/Corefile'],
                                              [('dns', 53, 'UDP'), ('dns-tcp', 53, 'TCP'), ('metrics', 9153, 'TCP')],
                                              {'cpu': '100m', 'memory': '70Mi'}, ('/ready', 8181)),
                                   volumeMounts=[{'name': 'config-volume', 'mountPath': '/etc/coredns',
                                                  'readOnly': True}])]}
    return [
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': CILIUM_NAMESPACE}},
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': KUBE_OVN_NAMESPACE}},
        _workload('DaemonSet', 'cilium', CILIUM_NAMESPACE, CILIUM_LABELS, agent),
        _workload('Deployment', 'cilium-operator', CILIUM_NAMESPACE,
                  {'io.cilium/app': 'operator', 'name': 'cilium-operator',
                   'app.kubernetes.io/name': 'cilium-operator', 'app.kubernetes.io/part-of': 'cilium'},
                  operator, replicas=1),
        _workload('Deployment', 'kube-ovn-controller', KUBE_OVN_NAMESPACE,
                  {'app': 'kube-ovn-controller', 'component': 'network', 'type': 'infra'},
                  dict(ovn, containers=[_container('kube-ovn-controller', KUBE_OVN_IMAGE,
                                                   ['/kube-ovn/start-controller.sh'], probe=('/readyz', 10660))]),
                  replicas=1),
        _workload('DaemonSet', 'kube-ovn-cni', KUBE_OVN_NAMESPACE,
                  {'app': 'kube-ovn-cni', 'component': 'network', 'type': 'infra'},
                  dict(ovn, initContainers=[_container('install-cni', KUBE_OVN_IMAGE, ['/kube-ovn/install-cni.sh'])],
                       containers=[_container('cni-server', KUBE_OVN_IMAGE, ['/kube-ovn/start-cniserver.sh'],
                                              probe=('/readyz', 10665))])),
        _workload('DaemonSet', 'ovs-ovn', KUBE_OVN_NAMESPACE, {'app': 'ovs', 'component': 'network', 'type': 'infra'},
                  dict(ovn, containers=[_container('openvswitch', KUBE_OVN_IMAGE, ['/kube-ovn/start-ovs.sh'],
                                                   requests={'cpu': '200m', 'memory': '200Mi'})])),
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'coredns', 'namespace': 'kube-system'},
         'data': {'Corefile': COREFILE}},
        _workload('Deployment', 'coredns', 'kube-system', DNS_LABELS, coredns, replicas=2),
        {'apiVersion': 'v1', 'kind': 'Service',
         'metadata': {'name': 'kube-dns', 'namespace': 'kube-system',
                      'labels': {'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true',
                                 'kubernetes.io/name': 'CoreDNS'},
                      'annotations': {'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true'}},
         'spec': {'clusterIP': DNS_SERVICE_IP, 'selector': dict(DNS_LABELS), 'ports': [
             {'name': 'dns', 'port': 53, 'protocol': 'UDP', 'targetPort': 53},
             {'name': 'dns-tcp', 'port': 53, 'protocol': 'TCP', 'targetPort': 53},
             {'name': 'metrics', 'port': 9153, 'protocol': 'TCP', 'targetPort': 9153}]}},
        {'apiVersion': 'v1', 'kind': 'Endpoints',
         'metadata': {'name': 'kubernetes', 'namespace': 'default',
                      'labels': {'endpointslice.kubernetes.io/skip-mirror': 'true'}},
         'subsets': [{'addresses': [{'ip': API_SERVER_ADDRESS[cluster]}],
                      'ports': [{'name': 'https', 'port': 6443, 'protocol': 'TCP'}]}]},
    ] + (monitoring_operators() if cluster == 'mgmt' else [])


def monitoring_operators():
    """The operators of CozyStack's monitoring, as their charts deploy them (their namespaces are the seed's, made
    by cozystack.py before the system components)."""
    vm_operator = {'serviceAccountName': 'victoria-metrics-operator', 'containers': [_container(
        'operator', VM_OPERATOR_IMAGE, [],
        ['--zap-log-level=info', '--leader-elect', '--health-probe-bind-address=:8081', '--webhook.enable=true'],
        [('http', 8080, 'TCP'), ('probe', 8081, 'TCP'), ('webhook', 9443, 'TCP')], probe=('/readyz', 8081))]}
    grafana_operator = {'serviceAccountName': 'grafana-operator',
                        'volumes': [{'name': 'dashboards-dir', 'emptyDir': {}}],
                        'containers': [dict(_container(
                            'grafana-operator', GRAFANA_OPERATOR_IMAGE, [],
                            ['--health-probe-bind-address=:8081', '--metrics-bind-address=0.0.0.0:9090',
                             '--pprof-addr=0.0.0.0:8888'], [('metrics', 9090, 'TCP'), ('pprof', 8888, 'TCP')],
                            probe=('/readyz', 8081)),
                            volumeMounts=[{'name': 'dashboards-dir', 'mountPath': '/tmp/dashboards'}])]}
    return [_workload('Deployment', 'victoria-metrics-operator', VM_OPERATOR_NAMESPACE, VM_OPERATOR_LABELS,
                      vm_operator, replicas=1),
            _workload('Deployment', 'grafana-operator', GRAFANA_OPERATOR_NAMESPACE, GRAFANA_OPERATOR_LABELS,
                      grafana_operator, replicas=1)]


def install(world):
    """Create the system components in the world's cluster (what is there already is left alone)."""
    store = world.store
    for body in manifests(world.name):
        rtype = store.kind(body['apiVersion'], body['kind'])
        meta = body['metadata']
        if find(store, rtype, meta['name'], meta.get('namespace')) is None:
            store.create(rtype, body)


def crash_loop(faults):
    """(pod, container) -> whether an active fault makes that container crash-loop."""
    def crashing(pod, container):
        for fault, (namespace, selector, name) in CRASHING.items():
            key, _equals, value = selector.partition('=')
            if (faults.active(fault) and pod['metadata']['namespace'] == namespace and container == name
                    and (pod['metadata'].get('labels') or {}).get(key) == value):
                return True
        return False
    return crashing


def apply_fault(world, name, active):
    """What setting or clearing a fault changes at once in the world's cluster."""
    if name in CRASHING:
        # Set: the pods restart into the crash loop. Cleared: fixed pods roll out (no restarts carried over).
        namespace, selector, _container_name = CRASHING[name]
        pods = world.store.kind('v1', 'Pod')
        for pod in world.store.list(pods, namespace, labels=selector)[0]:
            if not pod['metadata'].get('deletionTimestamp'):
                world.store.delete(pods, pod['metadata']['name'], namespace)
    elif name == 'worker-image-pull-backoff' and world.name == 'tenant':
        if active:
            world.images.block('', UNREACHABLE)
        else:
            world.images.unblock('')
