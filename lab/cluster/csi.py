"""The Proxmox CSI plugin's node side and attachments, with what the cloud controller manager and the kubelet do
for it, in the management cluster and in the tenant cluster (one ProxmoxCsi each). Provisioning, binding, expansion
and deletion are in csi_volumes.py.

* ProxmoxCsi: what the plugin's controllers share: the Proxmox API with the plugin's token, the Proxmox facts
  (csi_seed.discover), the readiness of the plugin's pods, the faults, volume data and retries.
* TopologyLabeller (proxmox-cloud-controller-manager): a management Node whose VM is known gets
  `topology.kubernetes.io/region` (the Proxmox cluster's name), `topology.kubernetes.io/zone` (the Proxmox node)
  and `spec.providerID` `proxmox://<region>/<vmid>`.
* CsiNodeRegistrar (kubelet and node-driver-registrar): CSINode per Node; the driver is listed (nodeID,
  topologyKeys, allocatable count) while the node plugin's pod on that Node is Ready.
* Attacher (attach/detach controller and external-attacher): a VolumeAttachment `csi-<sha256(handle, driver,
  node)>` for every PV of this driver that an active pod on a node uses; the disk is hot-plugged into the node's VM
  as the first free scsiN (`PUT .../config`), `status.attached` set; detached (`delete=scsiN`) and the
  VolumeAttachment removed when no active pod on that node uses it any more.
"""

import asyncio
import hashlib
import logging
import random
import time
import uuid

from . import events
from .capi import selector_text
from .conditions import now
from .csi_seed import (DRIVER, IMAGE_PREFIX, MAX_VOLUMES_PER_NODE, NAMESPACE, REGION_LABEL, TOPOLOGY_KEYS,
                       ZONE_LABEL, configure, discover, selector)
from .podspec import active, claim_names, pod_ready
from .pve import PveError
from .runtime import add_finalizer, deleting, find, owner_reference, patch_status, remove_finalizer

log = logging.getLogger('lab.cluster.csi')

NODE = ('v1', 'Node')
POD = ('v1', 'Pod')
CLAIM = ('v1', 'PersistentVolumeClaim')
VOLUME = ('v1', 'PersistentVolume')
CSI_NODE = ('storage.k8s.io/v1', 'CSINode')
ATTACHMENT = ('storage.k8s.io/v1', 'VolumeAttachment')
VMID = 9999                      # the VMID the plugin names its disks after (vm-9999-pvc-<uid>); no such VM exists
DISK_OPTIONS = 'backup=0,iothread=1'
LUNS = range(1, 31)              # scsi1..scsi30; scsi0 is the VM's own disk
PROVIDER_PREFIX = 'proxmox://'
ATTACH_SECONDS = 3.0             # realistic: the attacher's call, the hot-plug, the guest seeing the disk
DISCOVERY_RETRY = 10.0           # realistic seconds between attempts to read the Proxmox facts
RETRY_FIRST = 1.0                # realistic seconds before the first retry of a failed operation, doubling
RETRY_MAX = 300.0                # as the sidecars' --retry-interval-max (5 m)
RETRY_FLOOR = 0.1                # real seconds a first retry waits at least, doubling up to RETRY_FLOOR_MAX
RETRY_FLOOR_MAX = 2.0
ATTACHER_FINALIZER = 'external-attacher/' + DRIVER.replace('.', '-')
AD_CONTROLLER = 'attachdetach-controller'
IMAGE_NOT_FOUND = ('failed to pull and unpack image "{reference}": failed to resolve reference "{reference}": '
                   '{reference}: not found')


class DriverError(Exception):
    """A CSI call's failure as the sidecars report it: a gRPC code and the plugin's message."""

    def __init__(self, code, message):
        super().__init__('rpc error: code = {0} desc = {1}'.format(code, message))


def reported(err):
    """An error as the sidecars report it: a Proxmox error as the plugin returns it (code Internal), others as
    they are."""
    return DriverError('Internal', err.message) if isinstance(err, PveError) else err


def attachment_name(handle, node):
    """The VolumeAttachment name Kubernetes gives (volume handle, attacher, node)."""
    return 'csi-' + hashlib.sha256('{0}{1}{2}'.format(handle, DRIVER, node).encode()).hexdigest()


def parse_handle(handle):
    """(region, zone, storage, disk) of a volumeHandle `region/zone/storage/disk` (zone empty on shared storage)."""
    parts = handle.split('/', 3)
    if len(parts) != 4:
        raise DriverError('InvalidArgument', 'VolumeID must be in the format of region/zone/storageName/diskName')
    return tuple(parts)


def volume_id(handle):
    """The Proxmox volume id (storage:disk) of a volumeHandle."""
    _region, _zone, storage, disk = parse_handle(handle)
    return '{0}:{1}'.format(storage, disk)


def handle_of(pv):
    csi = (pv or {}).get('spec', {}).get('csi') or {}
    return csi.get('volumeHandle') if csi.get('driver') == DRIVER else None


class ProxmoxCsi(object):
    """The plugin's shared state; images (ImageRegistry) and volumes (VolumeData) are the cluster's."""

    def __init__(self, store, pve, token, faults, timing, images, volumes):
        self.store = store
        self.pve = pve
        self._token = token
        self.faults = faults
        self.timing = timing
        self.images = images
        self.volumes = volumes
        self.facts = None
        self.instance = str(uuid.uuid4())
        self.identity = '{0}-{1}-{2}'.format(int(time.time() * 1000), random.randrange(10000), DRIVER)
        self._pods = store.kind(*POD)
        self._nodes = store.kind(*NODE)
        self._failures = {}

    async def learn(self):
        """Read the Proxmox facts until it works; then write the Secret and StorageClass that need them."""
        last_error = None
        while self.facts is None:
            try:
                self.facts = await discover(self.pve)
            except (PveError, LookupError) as err:
                if str(err) != last_error:
                    log.warning('cannot read the Proxmox facts yet (retrying): %s', err)
                    last_error = str(err)
                await asyncio.sleep(self.timing.poll(DISCOVERY_RETRY, floor=2.0))
        configure(self.store, self.facts, self.pve.url, self._token.token_id, self._token.token_secret)
        log.info('Proxmox facts: region %s, storage %s, management VMs %s', self.facts.region, self.facts.storage,
                 dict((name, vm.vmid) for name, vm in self.facts.vms.items()))

    # ------------------------------------------------------------------ the plugin's pods

    def plugin_pods(self, component, node=None):
        return self.store.list(self._pods, NAMESPACE, labels=selector_text(selector(component)),
                              fields='spec.nodeName=' + node if node else '')[0]

    def controller_pod(self):
        """A Ready controller pod (the plugin and its attacher, provisioner and resizer answer), or None."""
        return next((pod for pod in self.plugin_pods('controller') if pod_ready(pod)), None)

    def node_plugin_ready(self, node):
        return any(pod_ready(pod) for pod in self.plugin_pods('node', node))

    def source(self, pod):
        """The external-provisioner's event source: <driver>_<its pod>_<its identity>."""
        return '{0}_{1}_{2}'.format(DRIVER, pod['metadata']['name'], self.instance)

    # ------------------------------------------------------------------ retries

    def retry(self, what):
        """Seconds until a failed operation is tried again: doubling from RETRY_FIRST (scaled) up to RETRY_MAX."""
        failures = self._failures.get(what, 0)
        self._failures[what] = failures + 1
        return self.timing.poll(min(RETRY_FIRST * 2 ** failures, RETRY_MAX),
                                floor=min(RETRY_FLOOR * 2 ** failures, RETRY_FLOOR_MAX))

    def succeeded(self, what):
        self._failures.pop(what, None)

    # ------------------------------------------------------------------ Proxmox

    async def vm_of(self, node_name):
        """(Proxmox node, vmid) of a Kubernetes Node's VM: the VMID of the CCM's providerID
        (`proxmox://<region>/<vmid>`), else the VM named like the Node on its zone (a CAPMOX machine's providerID is
        `proxmox://<uuid>`)."""
        node = find(self.store, self._nodes, node_name) or {'metadata': {}}
        provider = (node.get('spec') or {}).get('providerID') or ''
        path = provider[len(PROVIDER_PREFIX):] if provider.startswith(PROVIDER_PREFIX) else ''
        vmid = int(path.rsplit('/', 1)[1]) if '/' in path else None
        zone = (node['metadata'].get('labels') or {}).get(ZONE_LABEL)
        for item in await self.pve.get('/cluster/resources', type='vm'):
            if item.get('type') != 'qemu':
                continue
            if (item['vmid'] == vmid) if vmid else (item.get('name') == node_name and zone in (None, item['node'])):
                return item['node'], item['vmid']
        raise DriverError('Internal', 'vm "{0}" not found'.format(vmid or node_name))

    async def attached_key(self, node, vmid, volid, config=None):
        """The scsiN of the VM's config (read unless given) that holds volid, or None."""
        config = config or await self.pve.get('/nodes/{0}/qemu/{1}/config'.format(node, vmid))
        return next((key for key in ('scsi{0}'.format(lun) for lun in LUNS)
                     if str(config.get(key, '')).split(',')[0] == volid), None)

    async def volume_size(self, node, storage, disk):
        """Bytes of the plugin's disk on the storage, or None when it is not there."""
        volid = '{0}:{1}'.format(storage, disk)
        listed = await self.pve.get('/nodes/{0}/storage/{1}/content'.format(node, storage), vmid=VMID)
        return next((int(item.get('size') or 0) for item in listed if item.get('volid') == volid), None)

    async def wait(self, upid):
        """A task's exit status (None: a call that answers at once)."""
        if not upid:
            return 'OK'
        return await self.pve.wait(upid, self.timing.poll(0.5))

    # ------------------------------------------------------------------ faults

    def apply_fault(self, name, active_now):
        if name == 'csi-image-pull-backoff':
            if active_now:
                self.images.block(IMAGE_PREFIX, IMAGE_NOT_FOUND)
            else:
                self.images.unblock(IMAGE_PREFIX)
            for component in ('controller', 'node'):      # recreated by their controllers, pulling again
                for pod in self.plugin_pods(component):
                    if not deleting(pod):
                        self.store.delete(self._pods, pod['metadata']['name'], NAMESPACE)


class TopologyLabeller(object):
    """proxmox-cloud-controller-manager's node controller for the management Nodes (their VMs are srv1..srv3)."""

    name = 'csi/topology-labels'
    primary = NODE

    def __init__(self, csi):
        self.csi = csi
        self.related = []
        self._nodes = csi.store.kind(*NODE)

    async def reconcile(self, key):
        node = find(self.csi.store, self._nodes, key[1])
        facts = self.csi.facts
        if node is None:
            return None
        if facts is None:
            return self.csi.timing.poll(DISCOVERY_RETRY, floor=0.2)
        vm = facts.vms.get(key[1])
        if vm is None:
            return None
        wanted = {} if self.csi.faults.active('csi-no-topology-labels') else {REGION_LABEL: facts.region,
                                                                                 ZONE_LABEL: vm.node}
        labels = node['metadata'].get('labels') or {}
        patch = {}
        changed = dict((label, wanted.get(label)) for label in TOPOLOGY_KEYS if labels.get(label) != wanted.get(label))
        if changed:
            patch['metadata'] = {'labels': changed}
        if not (node.get('spec') or {}).get('providerID'):     # immutable once set
            patch['spec'] = {'providerID': '{0}{1}/{2}'.format(PROVIDER_PREFIX, facts.region, vm.vmid)}
        if patch:
            self.csi.store.patch(self._nodes, key[1], patch, 'merge')
        return None


class CsiNodeRegistrar(object):
    """The kubelet's CSINode of each management Node, listing the driver while its node plugin pod is Ready."""

    name = 'csi/csinode'
    primary = NODE

    def __init__(self, csi):
        self.csi = csi
        self._nodes = csi.store.kind(*NODE)
        self._csi_nodes = csi.store.kind(*CSI_NODE)
        self.related = [(csi.store, POD, self._node_of_plugin)]

    @staticmethod
    def _node_of_plugin(pod):
        node = pod['spec'].get('nodeName')
        return [('', node)] if node and pod['metadata'].get('namespace') == NAMESPACE else []

    async def reconcile(self, key):
        store, name = self.csi.store, key[1]
        node = find(store, self._nodes, name)
        if node is None:
            return None
        csi_node = find(store, self._csi_nodes, name) or store.create(self._csi_nodes, {
            'metadata': {'name': name, 'ownerReferences': [owner_reference(node, controller=False)]},
            'spec': {'drivers': []}})
        current = csi_node['spec'].get('drivers') or []
        drivers = [driver for driver in current if driver.get('name') != DRIVER]
        if self.csi.node_plugin_ready(name):
            drivers.append({'name': DRIVER, 'nodeID': name, 'topologyKeys': list(TOPOLOGY_KEYS),
                            'allocatable': {'count': MAX_VOLUMES_PER_NODE}})
        if drivers != current:
            store.patch(self._csi_nodes, name, {'spec': {'drivers': drivers}}, 'merge')
        return None


class Attacher(object):
    """The attach/detach controller's VolumeAttachments for this driver, and the external-attacher acting on them
    (key: the VolumeAttachment's name, also before it exists)."""

    name = 'csi/attacher'
    primary = ATTACHMENT

    def __init__(self, csi):
        self.csi = csi
        store = csi.store
        self._attachments = store.kind(*ATTACHMENT)
        self._volumes = store.kind(*VOLUME)
        self._claims = store.kind(*CLAIM)
        self._pods = store.kind(*POD)
        self._pairs = {}         # VolumeAttachment name -> (PV name, node name) that a pod asked for
        self.related = [(store, POD, self._attachments_of_pod), (store, CLAIM, self._attachments_of_claim),
                        (store, ATTACHMENT, self._same_volume)]

    # ------------------------------------------------------------------ what to look at

    def _attachments_of_pod(self, pod):
        if pod['metadata'].get('namespace') == NAMESPACE:      # the plugin's pods: its readiness changed
            return [('', name) for name in self._known()]
        node = pod['spec'].get('nodeName')
        found = []
        for _volume, claim_name in claim_names(pod) if node else ():
            pv = self._volume_of_claim(pod['metadata']['namespace'], claim_name)
            handle = handle_of(pv)
            if handle:
                name = attachment_name(handle, node)
                self._pairs[name] = (pv['metadata']['name'], node)
                found.append(('', name))
        return found

    def _attachments_of_claim(self, claim):
        """A claim bound after its pods were given a node (a pod created with spec.nodeName)."""
        if not claim['spec'].get('volumeName'):
            return []
        namespace, name = claim['metadata']['namespace'], claim['metadata']['name']
        return [key for pod in self.csi.store.list(self._pods, namespace)[0]
                if name in [claim_name for _volume, claim_name in claim_names(pod)]
                for key in self._attachments_of_pod(pod)]

    def _same_volume(self, attachment):
        """Another node's attachment of the same volume may wait for this one to go (Multi-Attach)."""
        volume = attachment['spec']['source'].get('persistentVolumeName')
        return [('', name) for name, (pv, _node) in list(self._pairs.items()) if pv == volume]

    def _known(self):
        return set(self._pairs) | set(item['metadata']['name'] for item in self.csi.store.list(self._attachments)[0]
                                      if item['spec'].get('attacher') == DRIVER)

    def _volume_of_claim(self, namespace, claim_name):
        claim = find(self.csi.store, self._claims, claim_name, namespace)
        name = ((claim or {}).get('spec') or {}).get('volumeName')
        return find(self.csi.store, self._volumes, name) if name else None

    def _users(self, pv, node):
        """The active pods on node that use the PV's claim."""
        claim = pv['spec'].get('claimRef') or {}
        if not claim.get('name'):
            return []
        return [pod for pod in self.csi.store.list(self._pods, claim.get('namespace'), fields='spec.nodeName=' + node)[0]
                if active(pod) and claim['name'] in [name for _volume, name in claim_names(pod)]]

    # ------------------------------------------------------------------ attach/detach controller

    async def reconcile(self, key):
        name = key[1]
        store = self.csi.store
        attachment = find(store, self._attachments, name)
        if attachment is not None and attachment['spec'].get('attacher') != DRIVER:
            return None
        pair = ((attachment['spec']['source'].get('persistentVolumeName'), attachment['spec']['nodeName'])
                if attachment else self._pairs.get(name))
        if pair is None:
            return None
        pv = find(store, self._volumes, pair[0])
        users = self._users(pv, pair[1]) if pv is not None else []
        if attachment is None:
            if not users:
                self._pairs.pop(name, None)
                return None
            if self._held_elsewhere(pv, pair[1]):
                for pod in users:
                    events.record(store, pod, 'Warning', 'FailedAttachVolume', (
                        'Multi-Attach error for volume "{0}" Volume is already exclusively attached to one node and '
                        "can't be attached to another").format(pair[0]), AD_CONTROLLER)
                return None
            attachment = store.create(self._attachments, {'metadata': {'name': name}, 'spec': {
                'attacher': DRIVER, 'nodeName': pair[1], 'source': {'persistentVolumeName': pair[0]}}})
        elif not users and not deleting(attachment):
            store.delete(self._attachments, name)
            attachment = find(store, self._attachments, name)     # gone at once when no finalizer held it
            if attachment is None:
                self._pairs.pop(name, None)
                return None
        return await self._external_attacher(attachment, pv, users)

    def _held_elsewhere(self, pv, node):
        """A volume without ReadWriteMany/ReadOnlyMany that is attached (or attaching) to another node."""
        if set(pv['spec'].get('accessModes') or ()) & {'ReadWriteMany', 'ReadOnlyMany'}:
            return False
        return any(item['spec']['source'].get('persistentVolumeName') == pv['metadata']['name']
                   and item['spec'].get('nodeName') != node for item in self.csi.store.list(self._attachments)[0])

    # ------------------------------------------------------------------ external-attacher

    async def _external_attacher(self, attachment, pv, users):
        if self.csi.controller_pod() is None:
            return None
        if deleting(attachment):
            return await self._detach(attachment, pv)
        if (attachment.get('status') or {}).get('attached'):
            return None
        store, name = self.csi.store, attachment['metadata']['name']
        add_finalizer(store, self._attachments, attachment, ATTACHER_FINALIZER)
        if pv is not None:
            add_finalizer(store, self._volumes, pv, ATTACHER_FINALIZER)
        await asyncio.sleep(self.csi.timing.delay(ATTACH_SECONDS))
        try:
            await self._attach(attachment, pv)
        except (DriverError, PveError) as err:
            error = reported(err)
            patch_status(store, self._attachments, attachment, {'attachError': {'time': now(), 'message': str(error)}})
            for pod in users:
                events.record(store, pod, 'Warning', 'FailedAttachVolume', 'AttachVolume.Attach failed for volume '
                              '"{0}" : {1}'.format(attachment['spec']['source']['persistentVolumeName'], error),
                              AD_CONTROLLER)
            return self.csi.retry(('attach', name))
        self.csi.succeeded(('attach', name))
        patch_status(store, self._attachments, attachment, {'attached': True, 'attachError': None})
        if self.csi.faults.active('csi-data-lost'):
            self.csi.volumes.forget(handle_of(pv))
        for pod in users:
            events.record(store, pod, 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume '
                          '"{0}" '.format(attachment['spec']['source']['persistentVolumeName']), AD_CONTROLLER)
        return None

    async def _attach(self, attachment, pv):
        """ControllerPublishVolume: the disk into the first free scsiN of the node's VM (nothing if it is there)."""
        handle = handle_of(pv)
        if handle is None:
            raise DriverError('NotFound', 'volume not found')
        _region, _zone, storage, disk = parse_handle(handle)
        node, vmid = await self.csi.vm_of(attachment['spec']['nodeName'])
        if await self.csi.volume_size(node, storage, disk) is None:
            raise DriverError('NotFound', 'volume not found')
        volid = volume_id(handle)
        config = await self.csi.pve.get('/nodes/{0}/qemu/{1}/config'.format(node, vmid))
        if await self.csi.attached_key(node, vmid, volid, config):
            return
        free = next((key for key in ('scsi{0}'.format(lun) for lun in LUNS) if key not in config), None)
        if free is None:
            raise DriverError('Internal', 'no free lun found')
        await self.csi.pve.put('/nodes/{0}/qemu/{1}/config'.format(node, vmid), **{free: volid + ',' + DISK_OPTIONS})

    async def _detach(self, attachment, pv):
        """ControllerUnpublishVolume, then the finalizers go (the PV's once no attachment of it is left)."""
        store, name = self.csi.store, attachment['metadata']['name']
        handle = handle_of(pv) if pv is not None else None
        if handle and (attachment.get('status') or {}).get('attached'):
            await asyncio.sleep(self.csi.timing.delay(ATTACH_SECONDS))
            try:
                node, vmid = await self.csi.vm_of(attachment['spec']['nodeName'])
                key = await self.csi.attached_key(node, vmid, volume_id(handle))
                if key:
                    await self.csi.pve.put('/nodes/{0}/qemu/{1}/config'.format(node, vmid), delete=key)
            except (DriverError, PveError) as err:
                error = reported(err)
                patch_status(store, self._attachments, attachment, {'detachError': {'time': now(),
                                                                                    'message': str(error)}})
                return self.csi.retry(('detach', name))
        self.csi.succeeded(('detach', name))
        remove_finalizer(store, self._attachments, attachment, ATTACHER_FINALIZER)
        self._pairs.pop(name, None)
        if pv is not None and not any(item['spec']['source'].get('persistentVolumeName') == pv['metadata']['name']
                                      for item in store.list(self._attachments)[0]):
            remove_finalizer(store, self._volumes, pv, ATTACHER_FINALIZER)
        return None
