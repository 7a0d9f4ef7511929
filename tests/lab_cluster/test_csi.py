"""The Proxmox CSI plugin of the management cluster (csi.proxmox.sinextra.dev): what its chart installs, the
topology of the management Nodes, and claims of StorageClass proxmox-data from provisioning through attachment,
expansion and deletion, read with kubectl and the kubernetes client on one side and the CSI token's view of the
twin on the other; then each CSI fault's symptom.
"""

import base64
import hashlib
import json
import secrets

import pytest
import yaml
from kubernetes import client

from cluster_helpers import run_lab, wait_for
from workload_helpers import BUSYBOX, Cluster, new_space, ready

DRIVER = 'csi.proxmox.sinextra.dev'
NAMESPACE = 'csi-proxmox'
CLASS = 'proxmox-data'
NODES = ('srv1', 'srv2', 'srv3')
REGION = 'topology.kubernetes.io/region'
ZONE = 'topology.kubernetes.io/zone'
GiB = 1024 ** 3
WAIT = 60.0


# ---------------------------------------------------------------------------------------------------- helpers

class Proxmox(object):
    """The twin as the CSI token sees it."""

    def __init__(self, twin):
        self.api = twin.api('PROXMOX_CSI')
        self.storage = twin.settings['TEST_STORAGE_POOL']

    def region(self):
        return next(item['name'] for item in self.api.cluster.status.get() if item['type'] == 'cluster')

    def vms(self):
        """name -> (vmid, node) of the VMs."""
        return dict((vm['name'], (vm['vmid'], vm['node'])) for vm in self.api.cluster.resources.get(type='vm'))

    def disks(self):
        """volid -> size of the plugin's disks (vm-9999-...), as every node's listing shows them."""
        found = {}
        for node in self.api.nodes.get():
            for item in self.api.nodes(node['node']).storage(self.storage).content.get(vmid=9999):
                found[item['volid']] = item['size']
        return found

    def config(self, name):
        vmid, node = self.vms()[name]
        return self.api.nodes(node).qemu(vmid).config.get()

    def attached(self, name, volid):
        return [key for key, value in self.config(name).items() if str(value).split(',')[0] == volid]


class Claims(object):
    """One namespace of claims and pods, removed (and its disks waited for) at the end."""

    def __init__(self, lab):
        self.lab = lab
        self.namespace = 'csi-' + secrets.token_hex(3)
        self.core = lab.core
        self.storage = client.StorageV1Api(lab.mgmt)
        self.core.create_namespace({'metadata': {'name': self.namespace}})

    def claim(self, name='data', size='1Gi', modes=('ReadWriteOnce',), storage_class=CLASS):
        self.core.create_namespaced_persistent_volume_claim(self.namespace, {
            'metadata': {'name': name}, 'spec': {'accessModes': list(modes), 'storageClassName': storage_class,
                                                 'resources': {'requests': {'storage': size}}}})

    def pod(self, name, claim='data', script='sleep 3600', node=None):
        spec = {'containers': [{'name': 'app', 'image': 'busybox:1.36', 'command': ['sh', '-c', script],
                                'volumeMounts': [{'name': 'data', 'mountPath': '/data'}]}],
                'volumes': [{'name': 'data', 'persistentVolumeClaim': {'claimName': claim}}],
                'terminationGracePeriodSeconds': 0}
        if node:
            spec['nodeSelector'] = {'kubernetes.io/hostname': node}
        self.core.create_namespaced_pod(self.namespace, {'metadata': {'name': name}, 'spec': spec})

    def get(self, kind, name=None):
        """An object (or all of a kind) of this namespace as kubectl prints it in JSON, None when missing."""
        args = ['get', kind] + ([name] if name else []) + ['-n', self.namespace, '-o', 'json', '--ignore-not-found']
        text = self.lab.kubectl.run(*args).stdout
        return json.loads(text) if text.strip() else None

    def volume(self, claim='data'):
        name = ((self.get('pvc', claim) or {}).get('spec') or {}).get('volumeName')
        text = self.lab.kubectl.run('get', 'pv', name, '-o', 'json', '--ignore-not-found').stdout if name else ''
        return json.loads(text) if text.strip() else None

    def phase(self, kind, name):
        return ((self.get(kind, name) or {}).get('status') or {}).get('phase')

    def events(self, name, reason=None):
        return [event for event in self.core.list_namespaced_event(
            self.namespace, field_selector='involvedObject.name=' + name).to_dict()['items']
            if reason in (None, event['reason'])]

    def logs(self, pod):
        return self.core.read_namespaced_pod_log(pod, self.namespace, container='app')

    def attachments(self):
        return [item.to_dict() for item in self.storage.list_volume_attachment().items
                if item.spec.attacher == DRIVER]

    def delete_pod(self, name):
        self.core.delete_namespaced_pod(name, self.namespace)
        wait_for('pod {0} is gone'.format(name), lambda: self.get('pod', name), lambda pod: pod is None, WAIT)

    def remove(self):
        self.core.delete_namespace(self.namespace)


@pytest.fixture(scope='module')
def proxmox(lab):
    return Proxmox(lab.twin)


@pytest.fixture
def claims(lab, proxmox):
    before = set(proxmox.disks())
    made = Claims(lab)
    yield made
    lab.clear_faults()
    made.remove()
    wait_for('the disks of {0} are deleted'.format(made.namespace), proxmox.disks,
             lambda disks: set(disks) <= before, WAIT)


def bound(claims, name='data'):
    wait_for('claim {0} is Bound'.format(name), lambda: claims.phase('pvc', name), lambda phase: phase == 'Bound',
             WAIT)
    return claims.volume(name)


def running(claims, pod):
    wait_for('pod {0} is Running'.format(pod), lambda: claims.phase('pod', pod), lambda phase: phase == 'Running',
             WAIT)


def attachment_name(handle, node):
    return 'csi-' + hashlib.sha256((handle + DRIVER + node).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------- installed

def test_the_chart_installs_driver_class_controller_and_node_plugin(lab, proxmox):
    storage = client.StorageV1Api(lab.mgmt)
    driver = storage.read_csi_driver(DRIVER).spec
    assert (driver.attach_required, driver.pod_info_on_mount, driver.volume_lifecycle_modes) == \
        (True, True, ['Persistent'])
    wait_for('StorageClass proxmox-data', lambda: lab.kubectl.run('get', 'sc', CLASS, '--ignore-not-found',
                                                                  '-o', 'json').stdout, bool)
    sc = storage.read_storage_class(CLASS)
    assert (sc.provisioner, sc.parameters, sc.reclaim_policy, sc.volume_binding_mode, sc.allow_volume_expansion) == \
        (DRIVER, {'storage': proxmox.storage, 'csi.storage.k8s.io/fstype': 'xfs'}, 'Delete', 'WaitForFirstConsumer',
         True)
    deployment = lab.apps.read_namespaced_deployment('proxmox-csi-plugin-controller', NAMESPACE)
    assert [(c.name, c.image) for c in deployment.spec.template.spec.containers] == [
        ('proxmox-csi-plugin-controller', 'ghcr.io/sergelogvinov/proxmox-csi-controller:v0.11.0'),
        ('csi-attacher', 'registry.k8s.io/sig-storage/csi-attacher:v4.8.0'),
        ('csi-provisioner', 'registry.k8s.io/sig-storage/csi-provisioner:v5.1.0'),
        ('csi-resizer', 'registry.k8s.io/sig-storage/csi-resizer:v1.13.1'),
        ('liveness-probe', 'registry.k8s.io/sig-storage/livenessprobe:v2.14.0')]
    daemonset = lab.apps.read_namespaced_daemon_set('proxmox-csi-plugin-node', NAMESPACE)
    assert [c.name for c in daemonset.spec.template.spec.containers] == \
        ['proxmox-csi-plugin-node', 'csi-node-driver-registrar', 'liveness-probe']
    wait_for('the plugin is available on every node', lambda: lab.apps.read_namespaced_daemon_set_status(
        'proxmox-csi-plugin-node', NAMESPACE).status.number_ready, lambda ready: ready == len(NODES), WAIT)
    wait_for('the controller is available', lambda: lab.apps.read_namespaced_deployment_status(
        'proxmox-csi-plugin-controller', NAMESPACE).status.ready_replicas, lambda ready: ready == 1, WAIT)


def test_the_cloud_config_secret_names_the_twin_with_the_csi_token(lab, proxmox):
    wait_for('Secret proxmox-csi-plugin', lambda: lab.kubectl.run('get', 'secret', 'proxmox-csi-plugin', '-n',
                                                                  NAMESPACE, '--ignore-not-found').stdout, bool)
    secret = lab.core.read_namespaced_secret('proxmox-csi-plugin', NAMESPACE)
    config = yaml.safe_load(base64.b64decode(secret.data['config.yaml']))
    settings = lab.twin.settings
    assert config == {'clusters': [{'url': lab.twin.url + '/api2/json', 'insecure': False,
                                    'token_id': settings['PROXMOX_CSI_TOKEN_ID'],
                                    'token_secret': settings['PROXMOX_CSI_TOKEN_SECRET'],
                                    'region': proxmox.region()}]}
    assert settings['PROXMOX_CSI_TOKEN_SECRET'] not in (lab.state_dir / 'cluster.log').read_text()


def test_management_nodes_carry_the_topology_and_provider_id_of_their_vms(lab, proxmox):
    vms, region = proxmox.vms(), proxmox.region()
    wanted = dict((name, (region, vms[name][1], 'proxmox://{0}/{1}'.format(region, vms[name][0]))) for name in NODES)
    wait_for('the management Nodes are labelled', lambda: dict(
        (node.metadata.name, (node.metadata.labels.get(REGION), node.metadata.labels.get(ZONE), node.spec.provider_id))
        for node in lab.core.list_node().items), lambda found: found == wanted, WAIT)


def test_every_node_lists_the_driver_in_its_csinode(lab):
    storage = client.StorageV1Api(lab.mgmt)

    def drivers():
        return dict((item.metadata.name, [(d.name, d.node_id, d.topology_keys, d.allocatable.count)
                                          for d in item.spec.drivers or ()])
                    for item in storage.list_csi_node().items)
    wait_for('the driver on every CSINode', drivers, lambda found: found == dict(
        (name, [(DRIVER, name, [REGION, ZONE], 16)]) for name in NODES), WAIT)


# ---------------------------------------------------------------------------------------------------- volumes

def test_a_claim_without_a_consumer_waits_and_allocates_nothing(claims, proxmox):
    claims.claim()
    wait_for('the WaitForFirstConsumer event', lambda: claims.events('data', 'WaitForFirstConsumer'), bool, WAIT)
    event = claims.events('data', 'WaitForFirstConsumer')[0]
    assert (event['type'], event['message'], event['source']['component']) == \
        ('Normal', 'waiting for first consumer to be created before binding', 'persistentvolume-controller')
    assert (claims.phase('pvc', 'data'), [v for v in proxmox.disks() if claims.namespace in v]) == ('Pending', [])


def test_a_consumer_gets_a_disk_on_its_nodes_proxmox_node_attached_to_its_vm(claims, proxmox):
    claims.claim(size='1500Mi')
    claims.pod('writer', script='echo kept > /data/note; sleep 3600')
    pv = bound(claims)
    running(claims, 'writer')
    pvc, pod = claims.get('pvc', 'data'), claims.get('pod', 'writer')
    node = pod['spec']['nodeName']
    region, zone = proxmox.region(), proxmox.vms()[node][1]
    disk = 'vm-9999-pvc-' + pvc['metadata']['uid']
    handle = '{0}/{1}/{2}/{3}'.format(region, zone, proxmox.storage, disk)
    volid = '{0}:{1}'.format(proxmox.storage, disk)
    assert pv['metadata']['name'] == 'pvc-' + pvc['metadata']['uid']
    assert pv['spec']['csi'] == {'driver': DRIVER, 'volumeHandle': handle, 'fsType': 'xfs', 'volumeAttributes': {
        'storage': proxmox.storage,
        'storage.kubernetes.io/csiProvisionerIdentity': pv['spec']['csi']['volumeAttributes'][
            'storage.kubernetes.io/csiProvisionerIdentity']}}
    assert (pv['spec']['capacity'], pv['spec']['accessModes'], pv['spec']['persistentVolumeReclaimPolicy'],
            pv['spec']['storageClassName'], pv['spec']['claimRef']['uid'], pv['status']['phase']) == \
        ({'storage': '2Gi'}, ['ReadWriteOnce'], 'Delete', CLASS, pvc['metadata']['uid'], 'Bound')
    assert pv['spec']['nodeAffinity']['required']['nodeSelectorTerms'] == [{'matchExpressions': [
        {'key': REGION, 'operator': 'In', 'values': [region]}, {'key': ZONE, 'operator': 'In', 'values': [zone]}]}]
    assert pv['metadata']['annotations']['pv.kubernetes.io/provisioned-by'] == DRIVER
    assert set(pv['metadata']['finalizers']) >= {'kubernetes.io/pv-protection',
                                                  'external-provisioner.volume.kubernetes.io/finalizer'}
    assert (pvc['status']['capacity'], pvc['status']['accessModes'], pvc['spec']['volumeName']) == \
        ({'storage': '2Gi'}, ['ReadWriteOnce'], pv['metadata']['name'])
    assert 'kubernetes.io/pvc-protection' in pvc['metadata']['finalizers']
    reasons = [event['reason'] for event in claims.events('data')]
    assert {'ExternalProvisioning', 'Provisioning', 'ProvisioningSucceeded'} <= set(reasons), reasons
    assert proxmox.disks()[volid] == 2 * GiB
    [attachment] = [item for item in claims.attachments() if item['spec']['source']['persistent_volume_name'] ==
                    pv['metadata']['name']]
    assert (attachment['metadata']['name'], attachment['spec']['node_name'], attachment['status']['attached']) == \
        (attachment_name(handle, node), node, True)
    [key] = proxmox.attached(node, volid)
    assert key.startswith('scsi') and key != 'scsi0'


def test_data_survives_the_pod_and_the_disk_detaches_in_between(claims, proxmox):
    claims.claim()
    claims.pod('writer', script='echo kept > /data/note; sleep 3600')
    pv = bound(claims)
    running(claims, 'writer')
    node = claims.get('pod', 'writer')['spec']['nodeName']
    volid = '{0}:{1}'.format(proxmox.storage, pv['spec']['csi']['volumeHandle'].rsplit('/', 1)[1])
    claims.delete_pod('writer')
    wait_for('the disk is detached', lambda: (claims.attachments(), proxmox.attached(node, volid)),
             lambda found: found == ([], []), WAIT)
    claims.pod('reader', script='cat /data/note; sleep 3600', node=node)
    running(claims, 'reader')
    wait_for('the reader prints the note', lambda: claims.logs('reader'), lambda text: text == 'kept\n', WAIT)


def test_expansion_grows_the_proxmox_disk_and_the_claim(claims, proxmox):
    claims.claim()
    claims.pod('app')
    pv = bound(claims)
    running(claims, 'app')
    claims.core.patch_namespaced_persistent_volume_claim('data', claims.namespace, {
        'spec': {'resources': {'requests': {'storage': '3Gi'}}}})
    wait_for('the claim shows 3Gi', lambda: claims.get('pvc', 'data')['status']['capacity'],
             lambda capacity: capacity == {'storage': '3Gi'}, WAIT)
    volid = '{0}:{1}'.format(proxmox.storage, pv['spec']['csi']['volumeHandle'].rsplit('/', 1)[1])
    assert (proxmox.disks()[volid], claims.volume()['spec']['capacity']) == (3 * GiB, {'storage': '3Gi'})
    reasons = [event['reason'] for event in claims.events('data')]
    assert {'Resizing', 'FileSystemResizeRequired', 'FileSystemResizeSuccessful'} <= set(reasons), reasons
    assert [c['type'] for c in claims.get('pvc', 'data')['status'].get('conditions') or ()] == []


def test_a_read_write_many_claim_is_refused_and_stays_pending(claims, proxmox):
    claims.claim(modes=('ReadWriteMany',))
    claims.pod('app')
    wait_for('ProvisioningFailed', lambda: claims.events('data', 'ProvisioningFailed'), bool, WAIT)
    message = claims.events('data', 'ProvisioningFailed')[0]['message']
    assert message.startswith('failed to provision volume with StorageClass "proxmox-data": rpc error: code = '
                              'InvalidArgument desc = volume access mode ReadWriteMany'), message
    assert (claims.phase('pvc', 'data'), claims.phase('pod', 'app')) == ('Pending', 'Pending')


def test_deleting_the_claim_deletes_pv_and_disk(claims, proxmox):
    claims.claim()
    claims.pod('app')
    pv = bound(claims)
    running(claims, 'app')
    volid = '{0}:{1}'.format(proxmox.storage, pv['spec']['csi']['volumeHandle'].rsplit('/', 1)[1])
    claims.core.delete_namespaced_persistent_volume_claim('data', claims.namespace)
    assert 'kubernetes.io/pvc-protection' in claims.get('pvc', 'data')['metadata']['finalizers']  # still used
    claims.delete_pod('app')
    wait_for('the PV is gone', lambda: claims.lab.kubectl.run('get', 'pv', pv['metadata']['name'], '--ignore-not-found'
                                                             ).stdout, lambda text: text == '', WAIT)
    assert volid not in proxmox.disks()


def test_a_full_storage_fails_provisioning_with_the_proxmox_error(lab, claims, proxmox):
    run_lab('fault', 'storage-full={0}:100'.format(proxmox.storage), '--state-dir', lab.twin.state_dir)
    try:
        claims.claim()
        claims.pod('app')
        wait_for('ProvisioningFailed', lambda: claims.events('data', 'ProvisioningFailed'), bool, WAIT)
        assert "No space left on device" in claims.events('data', 'ProvisioningFailed')[0]['message']
        assert claims.phase('pvc', 'data') == 'Pending'
    finally:
        run_lab('fault', 'storage-full', '--clear', '--state-dir', lab.twin.state_dir)
    bound(claims)


# ---------------------------------------------------------------------------------------------------- faults

def test_csi_no_topology_labels_fails_provisioning_naming_the_keys(lab, claims):
    lab.set_fault('csi-no-topology-labels')
    wait_for('the labels are gone', lambda: [n.metadata.labels.get(ZONE) for n in lab.core.list_node().items],
             lambda zones: zones == [None] * len(NODES), WAIT)
    claims.claim()
    claims.pod('app')
    wait_for('ProvisioningFailed', lambda: claims.events('data', 'ProvisioningFailed'), bool, WAIT)
    message = claims.events('data', 'ProvisioningFailed')[0]['message']
    assert 'does not match topology keys from CSINode [{0} {1}]'.format(REGION, ZONE) in message, message
    lab.clear_faults()
    bound(claims)


def test_csi_rwx_accepted_binds_a_read_write_many_claim(lab, claims):
    lab.set_fault('csi-rwx-accepted')
    claims.claim(modes=('ReadWriteMany',))
    claims.pod('app')
    assert bound(claims)['spec']['accessModes'] == ['ReadWriteMany']


def test_csi_expand_fails_reports_the_proxmox_refusal(lab, claims, proxmox):
    claims.claim()
    claims.pod('app')
    pv = bound(claims)
    running(claims, 'app')
    lab.set_fault('csi-expand-fails')
    claims.core.patch_namespaced_persistent_volume_claim('data', claims.namespace, {
        'spec': {'resources': {'requests': {'storage': '2Gi'}}}})
    wait_for('VolumeResizeFailed', lambda: claims.events('data', 'VolumeResizeFailed'), bool, WAIT)
    message = claims.events('data', 'VolumeResizeFailed')[0]['message']
    assert message == ('resize volume "{0}" by resizer "{1}" failed: rpc error: code = Internal desc = shrinking '
                       'disks is not supported').format(pv['metadata']['name'], DRIVER)
    assert claims.get('pvc', 'data')['status']['capacity'] == {'storage': '1Gi'}
    lab.clear_faults()
    wait_for('the claim shows 2Gi', lambda: claims.get('pvc', 'data')['status']['capacity'],
             lambda capacity: capacity == {'storage': '2Gi'}, WAIT)


def test_csi_delete_leaks_leaves_the_disk_behind(lab, claims, proxmox):
    claims.claim()
    claims.pod('app')
    pv = bound(claims)
    running(claims, 'app')
    volid = '{0}:{1}'.format(proxmox.storage, pv['spec']['csi']['volumeHandle'].rsplit('/', 1)[1])
    lab.set_fault('csi-delete-leaks')
    claims.delete_pod('app')
    claims.core.delete_namespaced_persistent_volume_claim('data', claims.namespace)
    wait_for('the PV is gone', lambda: lab.kubectl.run('get', 'pv', pv['metadata']['name'],
                                                       '--ignore-not-found').stdout, lambda text: text == '', WAIT)
    assert volid in proxmox.disks()
    node = volid_node(pv)
    proxmox.api.nodes(node).storage(proxmox.storage).content(volid).delete()
    assert volid not in proxmox.disks()


def volid_node(pv):
    return pv['spec']['csi']['volumeHandle'].split('/')[1]


def test_csi_data_lost_gives_an_empty_filesystem_on_the_next_attachment(lab, claims):
    claims.claim()
    claims.pod('writer', script='echo kept > /data/note; sleep 3600')
    bound(claims)
    running(claims, 'writer')
    node = claims.get('pod', 'writer')['spec']['nodeName']
    lab.set_fault('csi-data-lost')
    claims.delete_pod('writer')
    wait_for('the attachment is gone', claims.attachments, lambda found: found == [], WAIT)
    claims.pod('reader', script='cat /data/note; sleep 3600', node=node)
    running(claims, 'reader')
    wait_for('the reader finds no note', lambda: claims.logs('reader'),
             lambda text: 'No such file or directory' in text, WAIT)


def test_csi_image_pull_backoff_stops_the_plugin_and_provisioning(lab, claims):
    lab.set_fault('csi-image-pull-backoff')

    def waiting():
        pods = lab.core.list_namespaced_pod(NAMESPACE).items
        return sorted(set(status.state.waiting.reason for pod in pods for status in pod.status.container_statuses or ()
                          if status.state.waiting and status.name.startswith('proxmox-csi-plugin')))
    wait_for('the plugin pods wait for their images', waiting, lambda reasons: reasons and set(reasons) <= {
        'ErrImagePull', 'ImagePullBackOff'}, WAIT)
    claims.claim()
    claims.pod('app')
    wait_for('the claim is handed to the external provisioner', lambda: claims.events('data', 'ExternalProvisioning'),
             bool, WAIT)
    storage = client.StorageV1Api(lab.mgmt)
    assert [item.spec.drivers for item in storage.list_csi_node().items] == [[]] * len(NODES)
    assert (claims.phase('pvc', 'data'), claims.events('data', 'Provisioning')) == ('Pending', [])
    lab.clear_faults()
    bound(claims)


# ---------------------------------------------------------------------------------------------------- tenant cluster

def test_the_tenant_cluster_attaches_a_claim_to_its_worker_vm_and_keeps_its_data(lab, pools, proxmox):
    pool = pools.apply()
    pool.wait_ready()
    tenant = Cluster(lab.tenant)
    [node] = [item for item in tenant.core.list_node().items if item.metadata.name.startswith(pool.chain.workers)]
    name, provider = node.metadata.name, node.spec.provider_id
    wait_for('the CSINode of {0} lists the driver'.format(name), lambda: tenant.storage.read_csi_node(name).spec.drivers,
             lambda drivers: [driver.name for driver in drivers or ()] == [DRIVER])
    storage_class = wait_for('StorageClass {0} in the tenant cluster'.format(CLASS), lambda: [
        item for item in tenant.storage.list_storage_class().items if item.metadata.name == CLASS],
        lambda found: found)[0]
    assert (storage_class.provisioner, storage_class.parameters['storage']) == (DRIVER, proxmox.storage)
    before = set(proxmox.disks())
    space = new_space(tenant)
    try:
        tenant.core.create_namespaced_persistent_volume_claim(space.name, {'metadata': {'name': 'data'}, 'spec': {
            'accessModes': ['ReadWriteOnce'], 'storageClassName': CLASS, 'resources': {'requests': {'storage': '1Gi'}}}})
        volume = {'name': 'data', 'persistentVolumeClaim': {'claimName': 'data'}}
        mount = [{'name': 'data', 'mountPath': '/data'}]
        space.pod('writer', {'nodeSelector': {'kubernetes.io/hostname': name}, 'terminationGracePeriodSeconds': 0, 'volumes': [volume], 'containers': [
            {'name': 'app', 'image': BUSYBOX, 'command': ['sh', '-c', 'echo kept > /data/marker; sleep 3600'],
             'volumeMounts': mount}]})
        space.wait_pod('writer', ready, 'ready')
        pv = tenant.core.read_persistent_volume(tenant.core.read_namespaced_persistent_volume_claim(
            'data', space.name).spec.volume_name)
        handle = pv.spec.csi.volume_handle
        _region, zone, storage, disk = handle.split('/')
        volid = '{0}:{1}'.format(storage, disk)
        assert zone == proxmox.vms()[name][1] == node.metadata.labels[ZONE], (handle, proxmox.vms()[name])
        assert len(proxmox.attached(name, volid)) == 1
        assert tenant.storage.read_volume_attachment(attachment_name(handle, name)).status.attached
        assert tenant.core.read_node(name).spec.provider_id == provider, 'CAPMOX providerID kept'
        tenant.core.delete_namespaced_pod('writer', space.name)
        wait_for('the disk is detached from ' + name, lambda: proxmox.attached(name, volid), lambda keys: keys == [])
        space.pod('reader', {'nodeName': name, 'restartPolicy': 'Never', 'volumes': [volume], 'containers': [
            {'name': 'app', 'image': BUSYBOX, 'command': ['cat', '/data/marker'], 'volumeMounts': mount}]})
        space.wait_pod('reader', lambda pod: pod['status'].get('phase') == 'Succeeded', 'Succeeded')
        assert tenant.core.read_namespaced_pod_log('reader', space.name) == 'kept\n'
    finally:
        space.delete()
    wait_for('the tenant disk is deleted', proxmox.disks, lambda disks: set(disks) <= before)
