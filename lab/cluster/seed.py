"""What the management cluster holds at start, with the names a CozyStack installation has.

Namespace `cozy-cluster-api` runs the cluster-api-operator and the providers it installed (Cluster API core,
kubeadm bootstrap, in-cluster IPAM, CAPMOX): a Deployment, its ReplicaSet and a Running, Ready pod each, the
operator's provider objects Ready at their versions, every CRD of crds.py, and CAPMOX's credentials Secret.
Three control-plane nodes (srv1..srv3, as in CozyStack's guides) carry the pods.
"""

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from lab.kube.store import NAME_ALPHABET

from .conditions import now
from .crds import ALL_CRDS
from .kinds import CREDENTIALS_SECRET, SYSTEM_NAMESPACE
from .runtime import find, owner_reference

CAPI_VERSION = 'v1.10.5'
CAPMOX_VERSION = 'v0.7.4'
IPAM_VERSION = 'v1.0.2'
OPERATOR_VERSION = 'v0.19.0'
KUBERNETES_VERSION = 'v1.31.4'
MGMT_NODES = ('srv1', 'srv2', 'srv3')
CRASH_RESTARTS = 7      # restarts a crash-looping pod shows (above the suite's default threshold of 5)


@dataclass(frozen=True)
class Component:
    """A Deployment of the namespace, with its one container."""
    name: str
    container: str
    image: str
    labels: tuple           # (key, value) pairs, also the selector
    node: str


COMPONENTS = (
    Component('capi-operator', 'manager', 'registry.k8s.io/capi-operator/cluster-api-operator:' + OPERATOR_VERSION,
              (('app.kubernetes.io/name', 'cluster-api-operator'), ('app.kubernetes.io/instance', 'capi-operator')),
              'srv1'),
    Component('capi-controller-manager', 'manager',
              'registry.k8s.io/cluster-api/cluster-api-controller:' + CAPI_VERSION,
              (('cluster.x-k8s.io/provider', 'cluster-api'), ('control-plane', 'controller-manager')), 'srv2'),
    Component('capi-kubeadm-bootstrap-controller-manager', 'manager',
              'registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:' + CAPI_VERSION,
              (('cluster.x-k8s.io/provider', 'bootstrap-kubeadm'), ('control-plane', 'controller-manager')), 'srv3'),
    Component('capi-ipam-in-cluster-controller-manager', 'manager',
              'registry.k8s.io/capi-ipam-ic/cluster-api-ipam-in-cluster-controller:' + IPAM_VERSION,
              (('cluster.x-k8s.io/provider', 'ipam-in-cluster'), ('control-plane', 'controller-manager')), 'srv1'),
    Component('capmox-controller-manager', 'manager',
              'ghcr.io/ionos-cloud/cluster-api-provider-proxmox:' + CAPMOX_VERSION,
              (('cluster.x-k8s.io/provider', 'infrastructure-proxmox'), ('control-plane', 'controller-manager')),
              'srv2'),
)
CAPMOX = 'capmox-controller-manager'
CAPI_OPERATOR = 'capi-operator'
PROVIDERS = (
    ('CoreProvider', 'cluster-api', CAPI_VERSION),
    ('BootstrapProvider', 'kubeadm', CAPI_VERSION),
    ('IPAMProvider', 'in-cluster', IPAM_VERSION),
    ('InfrastructureProvider', 'proxmox', CAPMOX_VERSION),
)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def suffix(seed, length):
    """A name suffix in Kubernetes' alphabet, stable for a seed (pod-template-hash style)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return ''.join(NAME_ALPHABET[byte % len(NAME_ALPHABET)] for byte in digest[:length])


def random_suffix(length=5):
    return ''.join(secrets.choice(NAME_ALPHABET) for _ in range(length))


def seed_crds(store, crds=ALL_CRDS):
    kind = store.kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition')
    for crd in crds:
        if find(store, kind, crd.name) is None:
            store.create(kind, crd.manifest())


def seed_management(store, pve_url, capmox_token_id, capmox_secret):
    """Everything the management cluster starts with; returns the SystemComponents."""
    seed_crds(store)
    for name in MGMT_NODES:
        _node(store, name)
    store.create(store.kind('v1', 'Namespace'), {'metadata': {'name': SYSTEM_NAMESPACE}})
    write_credentials(store, pve_url, capmox_token_id, capmox_secret)
    for kind, name, version in PROVIDERS:
        _provider(store, kind, name, version)
    system = SystemComponents(store)
    for component in COMPONENTS:
        system.install(component)
    return system


def write_credentials(store, url, token_id, token_secret):
    """Secret capmox-manager-credentials with keys url, token and secret (created, or its url replaced)."""
    kind = store.kind('v1', 'Secret')
    data = {'url': b64(url), 'token': b64(token_id), 'secret': b64(token_secret)}
    if find(store, kind, CREDENTIALS_SECRET, SYSTEM_NAMESPACE) is None:
        store.create(kind, {'metadata': {'name': CREDENTIALS_SECRET, 'namespace': SYSTEM_NAMESPACE,
                                         'labels': {'platform.ionos.com/secret-type': 'proxmox-credentials'}},
                            'type': 'Opaque', 'data': data})
    else:
        store.patch(kind, CREDENTIALS_SECRET, {'data': {'url': b64(url)}}, 'merge', SYSTEM_NAMESPACE)


def read_credentials(store):
    """(url, token id, token secret) from the credentials Secret; KeyError naming what is missing."""
    secret = find(store, store.kind('v1', 'Secret'), CREDENTIALS_SECRET, SYSTEM_NAMESPACE)
    if secret is None:
        raise KeyError('secret "{0}" not found in namespace {1}'.format(CREDENTIALS_SECRET, SYSTEM_NAMESPACE))
    data = secret.get('data') or {}
    missing = [key for key in ('url', 'token', 'secret') if not data.get(key)]
    if missing:
        raise KeyError('secret {0}/{1} has no key {2}'.format(SYSTEM_NAMESPACE, CREDENTIALS_SECRET, ', '.join(missing)))
    return tuple(base64.b64decode(data[key]).decode() for key in ('url', 'token', 'secret'))


def _node(store, name):
    """A control-plane node with its pod CIDR (10.244.<n>.0/24) and address (192.168.100.1<n>)."""
    kind = store.kind('v1', 'Node')
    labels = {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
              'node-role.kubernetes.io/control-plane': ''}
    cidr = '10.244.{0}.0/24'.format(name[-1])
    capacity = {'cpu': '16', 'memory': '65842656Ki', 'pods': '110', 'ephemeral-storage': '479595520Ki'}
    status = {
        'capacity': capacity, 'allocatable': dict(capacity, memory='65740256Ki'),
        'addresses': [{'type': 'InternalIP', 'address': '192.168.100.1{0}'.format(name[-1])},
                      {'type': 'Hostname', 'address': name}],
        'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'KubeletReady',
                        'message': 'kubelet is posting ready status', 'lastHeartbeatTime': now(),
                        'lastTransitionTime': now()}],
        'nodeInfo': {'kubeletVersion': KUBERNETES_VERSION, 'osImage': 'Talos (v1.9.1)', 'operatingSystem': 'linux',
                     'architecture': 'amd64', 'containerRuntimeVersion': 'containerd://2.0.1',
                     'kernelVersion': '6.12.6-talos', 'kubeProxyVersion': '', 'machineID': uuid.uuid4().hex,
                     'systemUUID': str(uuid.uuid4()), 'bootID': str(uuid.uuid4())}}
    store.create(kind, {'metadata': {'name': name, 'labels': labels}, 'spec': {'podCIDR': cidr, 'podCIDRs': [cidr]},
                        'status': status})


TOO_NEW_CAPMOX_VERSION = 'v0.8.1'


def set_provider_version(store, kind, name, version):
    """The provider states another version (spec and installed), as after an upgrade of its manifest."""
    rtype = store.kind('operator.cluster.x-k8s.io/v1alpha2', kind)
    store.patch(rtype, name, {'spec': {'version': version}}, 'merge', SYSTEM_NAMESPACE)
    store.patch(rtype, name, {'status': {'installedVersion': version}}, 'merge', SYSTEM_NAMESPACE,
                subresource='status')


def _provider(store, kind, name, version):
    rtype = store.kind('operator.cluster.x-k8s.io/v1alpha2', kind)
    store.create(rtype, {'metadata': {'name': name, 'namespace': SYSTEM_NAMESPACE}, 'spec': {'version': version}})
    conditions = [{'type': kind_, 'status': 'True', 'lastTransitionTime': now()}
                  for kind_ in ('Ready', 'PreflightCheckPassed', 'ProviderInstalled')]
    store.patch(rtype, name, {'status': {'installedVersion': version, 'observedGeneration': 1,
                                         'conditions': conditions}}, 'merge', SYSTEM_NAMESPACE, subresource='status')


class SystemComponents(object):
    """The Deployments of cozy-cluster-api and their pods; crash_loop() and recover() change a Deployment's pod
    as a failing and a fixed controller show."""

    def __init__(self, store):
        self._store = store
        self._deployments = store.kind('apps/v1', 'Deployment')
        self._replica_sets = store.kind('apps/v1', 'ReplicaSet')
        self._pods = store.kind('v1', 'Pod')
        self._components = {}

    def install(self, component):
        self._components[component.name] = component
        labels = dict(component.labels)
        template = {'metadata': {'labels': dict(labels)}, 'spec': {'containers': [self._container(component)],
                                                                     'serviceAccountName': component.name}}
        deployment = self._store.create(self._deployments, {
            'metadata': {'name': component.name, 'namespace': SYSTEM_NAMESPACE, 'labels': dict(labels)},
            'spec': {'replicas': 1, 'selector': {'matchLabels': labels}, 'template': template}})
        hash_ = suffix(component.name, 10)
        hashed = dict(labels, **{'pod-template-hash': hash_})
        replica_set = self._store.create(self._replica_sets, {
            'metadata': {'name': '{0}-{1}'.format(component.name, hash_), 'namespace': SYSTEM_NAMESPACE,
                         'labels': hashed, 'ownerReferences': [owner_reference(deployment)]},
            'spec': {'replicas': 1, 'selector': {'matchLabels': hashed},
                     'template': dict(template, metadata={'labels': hashed})}})
        self._store.patch(self._replica_sets, replica_set['metadata']['name'], {'status': {
            'replicas': 1, 'readyReplicas': 1, 'availableReplicas': 1, 'fullyLabeledReplicas': 1,
            'observedGeneration': 1}}, 'merge', SYSTEM_NAMESPACE, subresource='status')
        self._start_pod(component, replica_set)
        self._deployment_status(component.name, available=True)

    def crash_loop(self, name):
        """The Deployment's pod in CrashLoopBackOff with many restarts; the Deployment unavailable."""
        component = self._components[name]
        for pod in self._pods_of(component):
            container = component.container
            self._store.patch(self._pods, pod['metadata']['name'], {'status': {
                'phase': 'Running',
                'conditions': _pod_conditions(ready=False, container=container),
                'containerStatuses': [dict(self._container_status(component, ready=False), restartCount=CRASH_RESTARTS,
                                           state={'waiting': {'reason': 'CrashLoopBackOff', 'message': (
                                               'back-off 5m0s restarting failed container={0} pod={1}_{2}'.format(
                                                   container, pod['metadata']['name'], SYSTEM_NAMESPACE))}},
                                           lastState={'terminated': {'exitCode': 1, 'reason': 'Error',
                                                                     'startedAt': now(), 'finishedAt': now()}})]}},
                'merge', SYSTEM_NAMESPACE, subresource='status')
        self._deployment_status(name, available=False)

    def recover(self, name):
        """A fixed controller rolled out: a fresh pod (no restarts) replaces the crashing one."""
        component = self._components[name]
        for pod in self._pods_of(component):
            self._store.delete(self._pods, pod['metadata']['name'], SYSTEM_NAMESPACE)
        hash_ = suffix(name, 10)
        replica_set = self._store.get(self._replica_sets, '{0}-{1}'.format(name, hash_), SYSTEM_NAMESPACE)
        self._start_pod(component, replica_set)
        self._deployment_status(name, available=True)

    def _pods_of(self, component):
        labels = ','.join('{0}={1}'.format(key, value) for key, value in component.labels)
        return self._store.list(self._pods, SYSTEM_NAMESPACE, labels=labels)[0]

    def _start_pod(self, component, replica_set):
        labels = replica_set['spec']['selector']['matchLabels']
        name = '{0}-{1}'.format(replica_set['metadata']['name'], random_suffix())
        pod = self._store.create(self._pods, {
            'metadata': {'name': name,
                         'namespace': SYSTEM_NAMESPACE, 'labels': dict(labels),
                         'ownerReferences': [owner_reference(replica_set)]},
            'spec': {'containers': [self._container(component)], 'nodeName': component.node,
                     'serviceAccountName': component.name}})
        self._store.patch(self._pods, pod['metadata']['name'], {'status': {
            'phase': 'Running', 'startTime': now(), 'hostIP': '192.168.100.1{0}'.format(component.node[-1]),
            'podIP': _pod_ip(name, component.node),
            'qosClass': 'Burstable', 'conditions': _pod_conditions(ready=True, container=component.container),
            'containerStatuses': [self._container_status(component, ready=True)]}}, 'merge', SYSTEM_NAMESPACE,
            subresource='status')

    @staticmethod
    def _container(component):
        return {'name': component.container, 'image': component.image, 'args': ['--leader-elect'],
                'resources': {'requests': {'cpu': '10m', 'memory': '64Mi'}}}

    @staticmethod
    def _container_status(component, ready):
        status = {'name': component.container, 'image': component.image, 'imageID': component.image,
                  'ready': ready, 'started': ready, 'restartCount': 0}
        if ready:
            status['state'] = {'running': {'startedAt': now()}}
        return status

    def _deployment_status(self, name, available):
        if available:
            conditions = [_deployment_condition('Available', 'True', 'MinimumReplicasAvailable',
                                                'Deployment has minimum availability.')]
            counts = {'replicas': 1, 'updatedReplicas': 1, 'readyReplicas': 1, 'availableReplicas': 1,
                      'unavailableReplicas': None}
        else:
            conditions = [_deployment_condition('Available', 'False', 'MinimumReplicasUnavailable',
                                                'Deployment does not have minimum availability.')]
            counts = {'replicas': 1, 'updatedReplicas': 1, 'readyReplicas': None, 'availableReplicas': None,
                      'unavailableReplicas': 1}
        conditions.append(_deployment_condition('Progressing', 'True', 'NewReplicaSetAvailable',
                                                'ReplicaSet "{0}-{1}" has successfully progressed.'.format(
                                                    name, suffix(name, 10))))
        self._store.patch(self._deployments, name, {'status': dict(counts, observedGeneration=1,
                                                                   conditions=conditions)},
                          'merge', SYSTEM_NAMESPACE, subresource='status')


def _pod_ip(name, node):
    """An address in the node's pod CIDR (10.244.<node number>.0/24), stable for a pod name."""
    return '10.244.{0}.{1}'.format(node[-1], hashlib.sha256(name.encode()).digest()[0] % 250 + 2)


def _pod_conditions(ready, container):
    state = 'True' if ready else 'False'
    items = [{'type': kind, 'status': 'True', 'lastTransitionTime': now()}
             for kind in ('PodReadyToStartContainers', 'Initialized', 'PodScheduled')]
    for kind in ('Ready', 'ContainersReady'):
        item = {'type': kind, 'status': state, 'lastTransitionTime': now()}
        if not ready:
            item.update(reason='ContainersNotReady', message='containers with unready status: [{0}]'.format(container))
        items.append(item)
    return items


def _deployment_condition(kind, status, reason, message):
    return {'type': kind, 'status': status, 'reason': reason, 'message': message, 'lastUpdateTime': now(),
            'lastTransitionTime': now()}
