"""The Proxmox CSI plugin as CozyStack installs it into the management cluster and into tenant clusters on Proxmox
(its Helm chart's names), and the Proxmox facts it and the cloud controller manager work from.

Chart proxmox-csi-plugin (release `proxmox-csi-plugin`, namespace `csi-proxmox`): CSIDriver
`csi.proxmox.sinextra.dev`, Deployment `proxmox-csi-plugin-controller` (the plugin with the attacher, provisioner,
resizer and liveness sidecars), DaemonSet `proxmox-csi-plugin-node` (the node plugin, the registrar, liveness),
their ServiceAccounts, Secret `proxmox-csi-plugin` (`config.yaml`: the clusters the plugin talks to) and
StorageClass `proxmox-data`. The pods are made by the Deployment and DaemonSet controllers, not here.

The facts (the Proxmox cluster's name, which is the topology region; the management node VMs; the storage that
takes VM images) are read over the Proxmox API with the CSI token; until they are known the Secret and the
StorageClass, which need them, are not written.
"""

import logging
from dataclasses import dataclass

import yaml

from .runtime import find
from .seed import MGMT_NODES, b64

log = logging.getLogger('lab.cluster.csi')

DRIVER = 'csi.proxmox.sinextra.dev'
NAMESPACE = 'csi-proxmox'
RELEASE = 'proxmox-csi-plugin'
CONTROLLER = RELEASE + '-controller'
NODE_PLUGIN = RELEASE + '-node'
CONFIG_SECRET = RELEASE
STORAGE_CLASS = 'proxmox-data'
FS_TYPE = 'xfs'
CHART_VERSION = '0.3.0'
PLUGIN_VERSION = 'v0.11.0'
IMAGE_PREFIX = 'ghcr.io/sergelogvinov/proxmox-csi-'
SIDECARS = 'registry.k8s.io/sig-storage/'
CONTROLLER_IMAGE = IMAGE_PREFIX + 'controller:' + PLUGIN_VERSION
NODE_IMAGE = IMAGE_PREFIX + 'node:' + PLUGIN_VERSION
ATTACHER_IMAGE = SIDECARS + 'csi-attacher:v4.8.0'
PROVISIONER_IMAGE = SIDECARS + 'csi-provisioner:v5.1.0'
RESIZER_IMAGE = SIDECARS + 'csi-resizer:v1.13.1'
REGISTRAR_IMAGE = SIDECARS + 'csi-node-driver-registrar:v2.13.0'
LIVENESS_IMAGE = SIDECARS + 'livenessprobe:v2.14.0'
REGION_LABEL = 'topology.kubernetes.io/region'
ZONE_LABEL = 'topology.kubernetes.io/zone'
TOPOLOGY_KEYS = (REGION_LABEL, ZONE_LABEL)
MAX_VOLUMES_PER_NODE = 16
SELECTOR = {'app.kubernetes.io/name': RELEASE, 'app.kubernetes.io/instance': RELEASE}
CONTROL_PLANE = 'node-role.kubernetes.io/control-plane'
SOCKET = '--csi-address=unix:///csi/csi.sock'
KUBELET_PLUGIN_DIR = '/var/lib/kubelet/plugins/{0}/'.format(DRIVER)
RESTRICTED = {'allowPrivilegeEscalation': False, 'capabilities': {'drop': ['ALL']}, 'readOnlyRootFilesystem': True,
              'seccompProfile': {'type': 'RuntimeDefault'}}
SMALL = {'requests': {'cpu': '10m', 'memory': '16Mi'}}


@dataclass(frozen=True)
class ManagementVm:
    vmid: int
    node: str          # the Proxmox node it runs on: the Kubernetes Node's zone


@dataclass(frozen=True)
class ProxmoxFacts:
    region: str        # the Proxmox cluster's name, as /cluster/status reports it
    vms: dict          # Kubernetes Node name -> ManagementVm
    storage: str       # the first storage that takes VM images: what StorageClass proxmox-data provisions on


async def discover(pve):
    """The ProxmoxFacts, read with the plugin's token; PveError when a call fails, LookupError when the cluster
    lacks something (no cluster name, no storage for images)."""
    status = await pve.get('/cluster/status')
    region = next((item.get('name') for item in status if item.get('type') == 'cluster'), None)
    if not region:
        raise LookupError('/cluster/status reports no cluster name (a single node, not a cluster)')
    resources = await pve.get('/cluster/resources', type='vm')
    vms = dict((item['name'], ManagementVm(int(item['vmid']), item['node'])) for item in resources
               if item.get('type') == 'qemu' and item.get('name') in MGMT_NODES and not item.get('template'))
    storages = await pve.get('/storage')
    storage = next((item['storage'] for item in storages
                    if 'images' in str(item.get('content', '')).split(',') and not item.get('disable')), None)
    if storage is None:
        raise LookupError('no storage takes content images')
    return ProxmoxFacts(region, vms, storage)


def chart_labels():
    return dict(SELECTOR, **{'helm.sh/chart': '{0}-{1}'.format(RELEASE, CHART_VERSION),
                             'app.kubernetes.io/version': PLUGIN_VERSION, 'app.kubernetes.io/managed-by': 'Helm'})


def selector(component):
    return dict(SELECTOR, **{'app.kubernetes.io/component': component})


def install(store, on_control_plane=True):
    """What the chart installs that needs no Proxmox facts. A tenant cluster's control plane is Kamaji's, without
    Nodes: there the controller runs on the workers (on_control_plane False)."""
    store.create(store.kind('v1', 'Namespace'), {'metadata': {'name': NAMESPACE, 'labels': {
        'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'baseline',
        'pod-security.kubernetes.io/warn': 'baseline'}}})
    for name in (CONTROLLER, NODE_PLUGIN):
        store.create(store.kind('v1', 'ServiceAccount'), {'metadata': {'name': name, 'namespace': NAMESPACE,
                                                                       'labels': chart_labels()}})
    store.create(store.kind('storage.k8s.io/v1', 'CSIDriver'), {
        'metadata': {'name': DRIVER, 'labels': chart_labels()},
        'spec': {'attachRequired': True, 'podInfoOnMount': True, 'storageCapacity': True,
                 'volumeLifecycleModes': ['Persistent'], 'fsGroupPolicy': 'ReadWriteOnceWithFSType',
                 'requiresRepublish': False, 'seLinuxMount': False}})
    store.create(store.kind('apps/v1', 'Deployment'), controller_deployment(on_control_plane))
    store.create(store.kind('apps/v1', 'DaemonSet'), node_daemonset())


def configure(store, facts, pve_url, token_id, token_secret):
    """The Secret with the plugin's cloud config and the StorageClass, once the facts are known (kept if there)."""
    secrets = store.kind('v1', 'Secret')
    if find(store, secrets, CONFIG_SECRET, NAMESPACE) is None:
        config = {'clusters': [{'url': pve_url.rstrip('/') + '/api2/json', 'insecure': False, 'token_id': token_id,
                                'token_secret': token_secret, 'region': facts.region}]}
        store.create(secrets, {'metadata': {'name': CONFIG_SECRET, 'namespace': NAMESPACE,
                                            'labels': chart_labels()},
                               'type': 'Opaque', 'data': {'config.yaml': b64(yaml.safe_dump(config))}})
    classes = store.kind('storage.k8s.io/v1', 'StorageClass')
    if find(store, classes, STORAGE_CLASS) is None:
        store.create(classes, {'metadata': {'name': STORAGE_CLASS}, 'provisioner': DRIVER,
                               'parameters': {'storage': facts.storage, 'csi.storage.k8s.io/fstype': FS_TYPE},
                               'reclaimPolicy': 'Delete', 'volumeBindingMode': 'WaitForFirstConsumer',
                               'allowVolumeExpansion': True})


def _container(name, image, args, mounts, security=RESTRICTED, resources=SMALL, env=None):
    container = {'name': name, 'image': image, 'imagePullPolicy': 'IfNotPresent', 'args': ['-v=5', SOCKET] + args,
                 'securityContext': security, 'resources': resources,
                 'volumeMounts': [{'name': volume, 'mountPath': path} for volume, path in mounts]}
    if env:
        container['env'] = env
    return container


def _field_env(name, path):
    return {'name': name, 'valueFrom': {'fieldRef': {'fieldPath': path}}}


def controller_deployment(on_control_plane=True):
    socket = [('socket-dir', '/csi')]
    sidecar = ['--timeout=3m', '--leader-election', '--default-fstype=ext4']
    containers = [
        _container(CONTROLLER, CONTROLLER_IMAGE, ['--cloud-config=/etc/proxmox/config.yaml'],
                   socket + [('cloud-config', '/etc/proxmox/')]),
        _container('csi-attacher', ATTACHER_IMAGE, sidecar, socket),
        _container('csi-provisioner', PROVISIONER_IMAGE, sidecar + ['--feature-gates=Topology=True',
                                                                    '--enable-capacity', '--capacity-ownerref-level=2'],
                   socket, env=[_field_env('NAMESPACE', 'metadata.namespace'),
                                _field_env('POD_NAME', 'metadata.name')]),
        _container('csi-resizer', RESIZER_IMAGE, ['--timeout=3m', '--handle-volume-inuse-error=false',
                                                  '--leader-election'], socket),
        _container('liveness-probe', LIVENESS_IMAGE, [], socket),
    ]
    template = {
        'metadata': {'labels': selector('controller')},
        'spec': {'priorityClassName': 'system-cluster-critical', 'enableServiceLinks': False,
                 'serviceAccountName': CONTROLLER,
                 'securityContext': {'runAsNonRoot': True, 'runAsUser': 65532, 'runAsGroup': 65532, 'fsGroup': 65532,
                                     'fsGroupChangePolicy': 'OnRootMismatch'},
                 'containers': containers,
                 'volumes': [{'name': 'socket-dir', 'emptyDir': {}},
                             {'name': 'cloud-config', 'secret': {'secretName': CONFIG_SECRET}}],
                 'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname',
                                                'whenUnsatisfiable': 'DoNotSchedule',
                                                'labelSelector': {'matchLabels': selector('controller')}}]}}
    if on_control_plane:
        template['spec'].update(nodeSelector={CONTROL_PLANE: ''},
                                tolerations=[{'key': CONTROL_PLANE, 'effect': 'NoSchedule'}])
    return {'metadata': {'name': CONTROLLER, 'namespace': NAMESPACE, 'labels': chart_labels()},
            'spec': {'replicas': 1, 'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1}},
                     'selector': {'matchLabels': selector('controller')}, 'template': template}}


def node_daemonset():
    socket = [('socket', '/csi')]
    privileged = {'privileged': True, 'capabilities': {'drop': ['ALL'], 'add': ['SYS_ADMIN', 'CHOWN', 'DAC_OVERRIDE']},
                  'seccompProfile': {'type': 'RuntimeDefault'}}
    plugin = _container(NODE_PLUGIN, NODE_IMAGE, ['--node-id=$(NODE_NAME)'],
                        socket + [('kubelet', '/var/lib/kubelet'), ('dev', '/dev'), ('sys', '/sys')],
                        security=privileged, resources={}, env=[_field_env('NODE_NAME', 'spec.nodeName')])
    plugin['volumeMounts'][1]['mountPropagation'] = 'Bidirectional'
    containers = [
        plugin,
        _container('csi-node-driver-registrar', REGISTRAR_IMAGE,
                   ['--kubelet-registration-path={0}csi.sock'.format(KUBELET_PLUGIN_DIR)],
                   socket + [('registration', '/registration')]),
        _container('liveness-probe', LIVENESS_IMAGE, [], socket),
    ]
    host_paths = (('socket', KUBELET_PLUGIN_DIR, 'DirectoryOrCreate'),
                  ('registration', '/var/lib/kubelet/plugins_registry/', 'Directory'),
                  ('kubelet', '/var/lib/kubelet', 'Directory'), ('dev', '/dev', 'Directory'),
                  ('sys', '/sys', 'Directory'))
    template = {
        'metadata': {'labels': selector('node')},
        'spec': {'priorityClassName': 'system-node-critical', 'enableServiceLinks': False,
                 'serviceAccountName': NODE_PLUGIN, 'securityContext': {'runAsUser': 0, 'runAsGroup': 0},
                 'containers': containers,
                 'volumes': [{'name': name, 'hostPath': {'path': path, 'type': kind}}
                             for name, path, kind in host_paths],
                 'tolerations': [{'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists',
                                  'effect': 'NoSchedule'},
                                 {'key': 'node.kubernetes.io/disk-pressure', 'operator': 'Exists',
                                  'effect': 'NoSchedule'}]}}
    return {'metadata': {'name': NODE_PLUGIN, 'namespace': NAMESPACE, 'labels': chart_labels()},
            'spec': {'updateStrategy': {'type': 'RollingUpdate'}, 'selector': {'matchLabels': selector('node')},
                     'template': template}}
