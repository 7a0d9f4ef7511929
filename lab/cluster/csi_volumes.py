"""The Proxmox CSI plugin's volumes in either cluster: what the PV controller, the pvc-protection
controller, the external-provisioner and the external-resizer (with the plugin's controller calls to Proxmox) and
the kubelet's node expansion do with claims of StorageClasses whose provisioner is this driver.

* ClaimReconciler (key: a PVC): pvc-protection finalizer on every claim, removed from a deleted claim once no
  active pod uses it; a WaitForFirstConsumer claim waits for the scheduler's `volume.kubernetes.io/selected-node`
  (Event WaitForFirstConsumer); then, while the plugin's controller pod is Ready, the disk `vm-9999-pvc-<uid>` is
  allocated on the selected node's zone (`POST /nodes/{zone}/storage/{storage}/content`, ~2 s), PV `pvc-<uid>`
  made and the claim bound (Events ExternalProvisioning, Provisioning, ProvisioningSucceeded or ProvisioningFailed,
  retried with backoff). A raised request grows the disk of the VM it is attached to (`PUT .../resize`; an
  unattached volume cannot be resized, as the plugin answers), the PV's capacity, then — once a Running pod on a
  node with a Ready node plugin uses it — the claim's capacity (FileSystemResizePending until then).
* VolumeReleaser (key: a PV of this driver): Released once its claim is gone; with reclaim policy Delete, once no
  VolumeAttachment holds it, the disk is deleted (`DELETE .../content/{volid}`) and the PV removed.
"""

import asyncio
import math

from . import events
from .conditions import now
from .csi import (CLAIM, POD, VMID, VOLUME, DriverError, handle_of, parse_handle, reported, volume_id)
from .csi_seed import DRIVER, NAMESPACE, REGION_LABEL, TOPOLOGY_KEYS, ZONE_LABEL
from .podspec import active, claim_names, quantity
from .pve import PveError
from .runtime import add_finalizer, delete_if_present, deleting, find, patch_status, remove_finalizer
from .scheduler import SELECTED_NODE, WAIT_FOR_FIRST_CONSUMER

GiB = 1024 ** 3
PROVISION_SECONDS = 2.0                  # realistic: CreateVolume (the allocation on the storage)
STORAGE_CLASS = ('storage.k8s.io/v1', 'StorageClass')
ATTACHMENT = ('storage.k8s.io/v1', 'VolumeAttachment')
PVC_PROTECTION = 'kubernetes.io/pvc-protection'
PV_PROTECTION = 'kubernetes.io/pv-protection'
PROVISIONER_FINALIZER = 'external-provisioner.volume.kubernetes.io/finalizer'
STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner'
BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner'
PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by'
DELETION_SECRET = 'volume.kubernetes.io/provisioner-deletion-secret-'
BIND_COMPLETED = 'pv.kubernetes.io/bind-completed'
BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller'
IDENTITY_ATTRIBUTE = 'storage.kubernetes.io/csiProvisionerIdentity'
PV_CONTROLLER = 'persistentvolume-controller'
RESIZER = 'external-resizer ' + DRIVER
EXTERNAL_PROVISIONING = ("Waiting for a volume to be created either by the external provisioner '{0}' or manually by "
                         'the system administrator. If volume creation is delayed, please verify that the provisioner '
                         'is running and correctly registered.').format(DRIVER)
RESIZE_PENDING = 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.'
# Access modes the plugin refuses (a Proxmox disk attaches to one VM), with their CSI names.
MULTI_NODE_MODES = {'ReadWriteMany': 'MULTI_NODE_MULTI_WRITER', 'ReadOnlyMany': 'MULTI_NODE_READER_ONLY'}


class ProvisionerError(Exception):
    """The external-provisioner's own error, before it calls the plugin (no gRPC code)."""


def go_map(labels):
    return 'map[{0}]'.format(' '.join('{0}:{1}'.format(key, value) for key, value in sorted(labels.items())))


def gib_of(text):
    """Whole GiB a quantity needs (rounded up, as the plugin allocates)."""
    return max(1, math.ceil(quantity(text) / GiB))


def requested(pvc):
    return ((pvc['spec'].get('resources') or {}).get('requests') or {}).get('storage')


def claim_key(pv):
    claim = pv['spec'].get('claimRef') or {}
    return [(claim['namespace'], claim['name'])] if claim.get('name') else []


def without(conditions, *kinds):
    return [item for item in conditions or () if item.get('type') not in kinds]


class ClaimReconciler(object):
    """pvc-protection, the PV controller's binding, the external-provisioner and the external-resizer."""

    name = 'csi/claims'
    primary = CLAIM

    def __init__(self, csi):
        self.csi = csi
        store = csi.store
        self._claims = store.kind(*CLAIM)
        self._volumes = store.kind(*VOLUME)
        self._classes = store.kind(*STORAGE_CLASS)
        self._pods = store.kind(*POD)
        self._nodes = store.kind('v1', 'Node')
        self.related = [(store, VOLUME, claim_key), (store, POD, self._claims_of_pod),
                        (store, STORAGE_CLASS, self._all_claims)]

    def _claims_of_pod(self, pod):
        if pod['metadata'].get('namespace') == NAMESPACE:      # the plugin's pods: its readiness changed
            return self._all_claims()
        return [(pod['metadata']['namespace'], name) for _volume, name in claim_names(pod)]

    def _all_claims(self, _obj=None):
        return [(item['metadata']['namespace'], item['metadata']['name'])
                for item in self.csi.store.list(self._claims)[0]]

    def _users(self, pvc):
        namespace, name = pvc['metadata']['namespace'], pvc['metadata']['name']
        return [pod for pod in self.csi.store.list(self._pods, namespace)[0]
                if active(pod) and name in [claim for _volume, claim in claim_names(pod)]]

    def _class_of(self, pvc):
        name = pvc['spec'].get('storageClassName')
        return find(self.csi.store, self._classes, name) if name else None

    async def reconcile(self, key):
        store = self.csi.store
        pvc = find(store, self._claims, key[1], key[0])
        if pvc is None:
            return None
        if deleting(pvc):
            if not self._users(pvc):
                remove_finalizer(store, self._claims, pvc, PVC_PROTECTION)
            return None
        pvc = add_finalizer(store, self._claims, pvc, PVC_PROTECTION)
        storage_class = self._class_of(pvc)
        if storage_class is None or storage_class.get('provisioner') != DRIVER:
            return None
        if pvc['spec'].get('volumeName'):
            return await self._bound(pvc, storage_class)
        made = find(store, self._volumes, 'pvc-' + pvc['metadata']['uid'])
        if made is not None:
            self._bind(pvc, made)
            return None
        annotations = pvc['metadata'].get('annotations') or {}
        if storage_class.get('volumeBindingMode') == WAIT_FOR_FIRST_CONSUMER and not annotations.get(SELECTED_NODE):
            events.record(store, pvc, 'Normal', 'WaitForFirstConsumer',
                          'waiting for first consumer to be created before binding', PV_CONTROLLER)
            return None
        if annotations.get(STORAGE_PROVISIONER) != DRIVER:
            pvc = store.patch(self._claims, key[1], {'metadata': {'annotations': {
                STORAGE_PROVISIONER: DRIVER, BETA_STORAGE_PROVISIONER: DRIVER}}}, 'merge', key[0])
        events.record(store, pvc, 'Normal', 'ExternalProvisioning', EXTERNAL_PROVISIONING, PV_CONTROLLER)
        pod = self.csi.controller_pod()
        if pod is None:
            return None
        return await self._provision(pvc, storage_class, pod)

    # ------------------------------------------------------------------ provisioning

    async def _provision(self, pvc, storage_class, pod):
        store, meta = self.csi.store, pvc['metadata']
        what = ('provision', meta['uid'])
        events.record(store, pvc, 'Normal', 'Provisioning', 'External provisioner is provisioning volume for claim '
                      '"{0}/{1}"'.format(meta['namespace'], meta['name']), self.csi.source(pod))
        try:
            handle, gib, topology = await self._create_volume(pvc, storage_class)
        except (DriverError, PveError, ProvisionerError) as err:
            error = reported(err)
            events.record(store, pvc, 'Warning', 'ProvisioningFailed', 'failed to provision volume with StorageClass '
                          '"{0}": {1}'.format(storage_class['metadata']['name'], error), self.csi.source(pod))
            return self.csi.retry(what)
        self.csi.succeeded(what)
        pv = store.create(self._volumes, self._volume(pvc, storage_class, handle, gib, topology))
        events.record(store, pvc, 'Normal', 'ProvisioningSucceeded',
                      'Successfully provisioned volume ' + pv['metadata']['name'], self.csi.source(pod))
        self._bind(pvc, pv)
        return None

    async def _create_volume(self, pvc, storage_class):
        """CreateVolume: (volumeHandle, GiB, topology segments); DriverError or PveError."""
        modes = [mode for mode in pvc['spec'].get('accessModes') or () if mode in MULTI_NODE_MODES]
        if modes and not self.csi.faults.active('csi-rwx-accepted'):
            raise DriverError('InvalidArgument', 'volume access mode {0} ({1}) is not supported: a Proxmox disk '
                              'attaches to one VM'.format(modes[0], MULTI_NODE_MODES[modes[0]]))
        region, zone = self._topology(pvc)
        storage = (storage_class.get('parameters') or {}).get('storage')
        if not storage:
            raise DriverError('InvalidArgument', 'parameter storage must be provided')
        gib = gib_of(requested(pvc))
        disk = 'vm-{0}-pvc-{1}'.format(VMID, pvc['metadata']['uid'])
        await asyncio.sleep(self.csi.timing.delay(PROVISION_SECONDS))
        config = await self.csi.pve.get('/storage/' + storage)
        size = await self.csi.volume_size(zone, storage, disk)
        if size is None:
            await self.csi.pve.post('/nodes/{0}/storage/{1}/content'.format(zone, storage), vmid=VMID,
                                    filename=disk, size='{0}G'.format(gib))
        elif size != gib * GiB:
            raise DriverError('AlreadyExists', 'volume already exists with same name and different capacity')
        if config.get('shared'):         # any node of the region reaches it
            return '{0}//{1}/{2}'.format(region, storage, disk), gib, {REGION_LABEL: region}
        return '{0}/{1}/{2}/{3}'.format(region, zone, storage, disk), gib, {REGION_LABEL: region, ZONE_LABEL: zone}

    def _topology(self, pvc):
        """(region, zone) of the selected node, as the external-provisioner asks for them."""
        name = (pvc['metadata'].get('annotations') or {}).get(SELECTED_NODE)
        node = find(self.csi.store, self._nodes, name) if name else None
        if node is None:
            raise ProvisionerError('failed to get target node: node "{0}" not found'.format(name))
        labels = node['metadata'].get('labels') or {}
        if any(key not in labels for key in TOPOLOGY_KEYS):
            raise ProvisionerError('error generating accessibility requirements: topology labels from selected node '
                                '{0} does not match topology keys from CSINode [{1}]'.format(
                                    go_map(labels), ' '.join(TOPOLOGY_KEYS)))
        return labels[REGION_LABEL], labels[ZONE_LABEL]

    def _volume(self, pvc, storage_class, handle, gib, topology):
        meta, parameters = pvc['metadata'], storage_class.get('parameters') or {}
        attributes = dict((key, value) for key, value in parameters.items()
                          if not key.startswith('csi.storage.k8s.io/'))
        attributes[IDENTITY_ATTRIBUTE] = self.csi.identity
        spec = {
            'accessModes': list(pvc['spec'].get('accessModes') or ()),
            'capacity': {'storage': '{0}Gi'.format(gib)},
            'claimRef': {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'namespace': meta['namespace'],
                         'name': meta['name'], 'uid': meta['uid'], 'resourceVersion': meta['resourceVersion']},
            'csi': {'driver': DRIVER, 'volumeHandle': handle, 'volumeAttributes': attributes,
                    'fsType': parameters.get('csi.storage.k8s.io/fstype', 'ext4')},
            'nodeAffinity': {'required': {'nodeSelectorTerms': [{'matchExpressions': [
                {'key': key, 'operator': 'In', 'values': [value]} for key, value in sorted(topology.items())]}]}},
            'persistentVolumeReclaimPolicy': storage_class.get('reclaimPolicy', 'Delete'),
            'storageClassName': storage_class['metadata']['name'],
            'volumeMode': pvc['spec'].get('volumeMode') or 'Filesystem',
        }
        if storage_class.get('mountOptions'):
            spec['mountOptions'] = list(storage_class['mountOptions'])
        return {'metadata': {'name': 'pvc-' + meta['uid'],
                             'annotations': {PROVISIONED_BY: DRIVER, DELETION_SECRET + 'name': '',
                                             DELETION_SECRET + 'namespace': ''},
                             'finalizers': [PV_PROTECTION, PROVISIONER_FINALIZER]},
                'spec': spec}

    # ------------------------------------------------------------------ binding

    def _bind(self, pvc, pv):
        """The PV controller binds a claim to the PV made (or pre-bound) for it."""
        store, meta = self.csi.store, pvc['metadata']
        if (pv['spec'].get('claimRef') or {}).get('uid') != meta['uid']:
            return
        if (pv.get('status') or {}).get('phase') != 'Bound':
            patch_status(store, self._volumes, pv, {'phase': 'Bound'})
        pvc = store.patch(self._claims, meta['name'], {
            'metadata': {'annotations': {BIND_COMPLETED: 'yes', BOUND_BY_CONTROLLER: 'yes'}},
            'spec': {'volumeName': pv['metadata']['name']}}, 'merge', meta['namespace'])
        patch_status(store, self._claims, pvc, {'phase': 'Bound', 'accessModes': pv['spec'].get('accessModes'),
                                                'capacity': dict(pv['spec']['capacity'])})

    async def _bound(self, pvc, storage_class):
        store = self.csi.store
        pv = find(store, self._volumes, pvc['spec']['volumeName'])
        phase = (pvc.get('status') or {}).get('phase')
        if pv is None:
            if phase == 'Bound':
                patch_status(store, self._claims, pvc, {'phase': 'Lost'})
                events.record(store, pvc, 'Warning', 'ClaimLost',
                              'Bound claim has lost its PersistentVolume. Data on the volume is lost!', PV_CONTROLLER)
            return None
        if phase != 'Bound':
            self._bind(pvc, pv)
            return None
        return await self._expand(pvc, pv, storage_class)

    # ------------------------------------------------------------------ expansion

    async def _expand(self, pvc, pv, storage_class):
        wanted = gib_of(requested(pvc))
        have = gib_of(pv['spec']['capacity']['storage'])
        if wanted > have and storage_class.get('allowVolumeExpansion'):
            pod = self.csi.controller_pod()
            return await self._controller_expand(pvc, pv, wanted) if pod is not None else None
        shown = ((pvc.get('status') or {}).get('capacity') or {}).get('storage')
        if shown and gib_of(shown) < have:
            self._node_expand(pvc, pv)
        return None

    async def _controller_expand(self, pvc, pv, gib):
        """The external-resizer: ControllerExpandVolume, then the PV's capacity; the claim waits for the node."""
        store, name = self.csi.store, pv['metadata']['name']
        what = ('resize', pvc['metadata']['uid'])
        events.record(store, pvc, 'Normal', 'Resizing', 'External resizer is resizing volume ' + name, RESIZER)
        conditions = (pvc.get('status') or {}).get('conditions')
        pvc = patch_status(store, self._claims, pvc, {'conditions': without(conditions, 'Resizing') + [
            {'type': 'Resizing', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': now()}]})
        try:
            await self._resize_disk(handle_of(pv), gib)
        except (DriverError, PveError) as err:
            error = reported(err)
            patch_status(store, self._claims, pvc, {'conditions': without(pvc['status'].get('conditions'),
                                                                          'Resizing')})
            events.record(store, pvc, 'Warning', 'VolumeResizeFailed', 'resize volume "{0}" by resizer "{1}" failed: '
                          '{2}'.format(name, DRIVER, error), RESIZER)
            return self.csi.retry(what)
        self.csi.succeeded(what)
        store.patch(self._volumes, name, {'spec': {'capacity': {'storage': '{0}Gi'.format(gib)}}}, 'merge')
        patch_status(store, self._claims, pvc, {'conditions': without(pvc['status'].get('conditions'), 'Resizing') + [
            {'type': 'FileSystemResizePending', 'status': 'True', 'lastProbeTime': None,
             'lastTransitionTime': now(), 'message': RESIZE_PENDING}]})
        events.record(store, pvc, 'Normal', 'FileSystemResizeRequired', 'Require file system resize of volume on '
                      'node', RESIZER)
        return None

    async def _resize_disk(self, handle, gib):
        """ControllerExpandVolume: resize the disk where a VM has it attached (`PUT .../resize`, a task)."""
        _region, zone, _storage, _disk = parse_handle(handle)
        volid = volume_id(handle)
        for item in await self.csi.pve.get('/cluster/resources', type='vm'):
            if item.get('type') != 'qemu' or item.get('template') or (zone and item['node'] != zone):
                continue
            key = await self.csi.attached_key(item['node'], item['vmid'], volid)
            if key is None:
                continue
            # The faulty driver sends the size without its unit: Proxmox reads bytes.
            size = str(gib) if self.csi.faults.active('csi-expand-fails') else '{0}G'.format(gib)
            upid = await self.csi.pve.put('/nodes/{0}/qemu/{1}/resize'.format(item['node'], item['vmid']), disk=key,
                                          size=size)
            status = await self.csi.wait(upid)
            if status != 'OK':
                raise DriverError('Internal', status)
            return
        raise DriverError('Internal', 'cannot resize unpublished volumeID')

    def _node_expand(self, pvc, pv):
        """The kubelet's NodeExpandVolume, on the node of a Running pod that uses the claim."""
        nodes = [pod['spec']['nodeName'] for pod in self._users(pvc)
                 if pod['spec'].get('nodeName') and (pod.get('status') or {}).get('phase') == 'Running']
        node = next((name for name in nodes if self.csi.node_plugin_ready(name)), None)
        if node is None:
            return
        store = self.csi.store
        patch_status(store, self._claims, pvc, {'capacity': dict(pv['spec']['capacity']), 'conditions': without(
            (pvc.get('status') or {}).get('conditions'), 'FileSystemResizePending', 'Resizing')})
        events.record(store, pvc, 'Normal', 'FileSystemResizeSuccessful', 'MountVolume.NodeExpandVolume succeeded for '
                      'volume "{0}" {1}'.format(pv['metadata']['name'], node), 'kubelet', host=node)


class VolumeReleaser(object):
    """The PV controller's Released phase and the external-provisioner's deletion of the disk (key: a PV)."""

    name = 'csi/release'
    primary = VOLUME

    def __init__(self, csi):
        self.csi = csi
        store = csi.store
        self._volumes = store.kind(*VOLUME)
        self._claims = store.kind(*CLAIM)
        self._attachments = store.kind(*ATTACHMENT)
        self.related = [(store, CLAIM, self._volume_of_claim), (store, ATTACHMENT, self._volume_of_attachment),
                        (store, POD, self._all_when_plugin)]

    @staticmethod
    def _volume_of_claim(pvc):
        name = pvc['spec'].get('volumeName')
        return [('', name)] if name else []

    @staticmethod
    def _volume_of_attachment(attachment):
        name = attachment['spec']['source'].get('persistentVolumeName')
        return [('', name)] if name else []

    def _all_when_plugin(self, pod):
        if pod['metadata'].get('namespace') != NAMESPACE:
            return []
        return [('', item['metadata']['name']) for item in self.csi.store.list(self._volumes)[0] if handle_of(item)]

    async def reconcile(self, key):
        store = self.csi.store
        pv = find(store, self._volumes, key[1])
        if pv is None or handle_of(pv) is None:
            return None
        claim = pv['spec'].get('claimRef') or {}
        pvc = find(store, self._claims, claim['name'], claim.get('namespace')) if claim.get('name') else None
        bound = pvc is not None and pvc['metadata']['uid'] == claim.get('uid')
        if not deleting(pv):
            if bound or not claim.get('name'):
                return None
            if (pv.get('status') or {}).get('phase') != 'Released':
                pv = patch_status(store, self._volumes, pv, {'phase': 'Released'})
            if pv['spec'].get('persistentVolumeReclaimPolicy') != 'Delete':
                return None
        elif bound:
            return None          # pv-protection holds a bound PV
        return await self._delete(pv)

    async def _delete(self, pv):
        """DeleteVolume once nothing holds the disk, then the PV goes."""
        store, name = self.csi.store, pv['metadata']['name']
        pod = self.csi.controller_pod()
        if pod is None or any(item['spec']['source'].get('persistentVolumeName') == name
                              for item in store.list(self._attachments)[0]):
            return None
        if PROVISIONER_FINALIZER in (pv['metadata'].get('finalizers') or ()) and \
                pv['spec'].get('persistentVolumeReclaimPolicy') == 'Delete':
            what = ('delete', name)
            try:
                await self._delete_disk(handle_of(pv))
            except (DriverError, PveError) as err:
                error = reported(err)
                events.record(store, pv, 'Warning', 'VolumeFailedDelete', str(error), self.csi.source(pod))
                return self.csi.retry(what)
            self.csi.succeeded(what)
        delete_if_present(store, self._volumes, name)
        for finalizer in (PROVISIONER_FINALIZER, PV_PROTECTION):
            remove_finalizer(store, self._volumes, pv, finalizer)
        return None

    async def _delete_disk(self, handle):
        if self.csi.faults.active('csi-delete-leaks'):       # the driver answers success and leaves the disk
            return
        _region, zone, storage, _disk = parse_handle(handle)
        node = zone or await self._online_node()
        try:
            status = await self.csi.wait(await self.csi.pve.delete('/nodes/{0}/storage/{1}/content/{2}'.format(
                node, storage, volume_id(handle))))
        except PveError as err:
            raise DriverError('Internal', 'failed to delete volume: {0}, {1}'.format(handle, err.message)) from None
        if status != 'OK':
            raise DriverError('Internal', 'failed to delete volume: {0}, {1}'.format(handle, status))
        self.csi.volumes.forget(handle)

    async def _online_node(self):
        nodes = await self.csi.pve.get('/nodes')
        return next(item['node'] for item in sorted(nodes, key=lambda item: item['node'])
                    if item.get('status') == 'online')
