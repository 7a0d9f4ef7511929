"""CAPMOX v0.7 (infrastructure.cluster.x-k8s.io/v1alpha1): ProxmoxCluster and ProxmoxMachine controllers that
drive the Proxmox twin over HTTPS with the credentials in Secret capmox-manager-credentials.

A ProxmoxMachine moves through the reasons of its VMProvisioned condition, as CAPMOX's state machine does:
Cloning (clone task) -> WaitingForDiskReconcilation (cores, memory, net0, tags; boot disk resize) ->
WaitingForStaticIPAllocation (IPAddressClaim from the cluster's pool; ipconfig0) -> WaitingForBootstrapReady
(cloud-init ISO uploaded and attached as ide0) -> WaitingForVMPowerUp -> PoweringOn (start task, guest agent IP)
-> True with status.ready. Each step compares the VM with the spec and acts only on a difference, so a step is
repeated safely after a failed task. A ready machine's VM is checked periodically and started again when it was
stopped on the Proxmox side. A ProxmoxMachine no Machine owns is never reconciled, as in CAPMOX.
"""

import base64
import itertools
import logging
import re
from dataclasses import dataclass

from . import conditions
from .ipam import check_pool_spec, not_served
from .kinds import (CLUSTER, CLUSTER_NAME_LABEL, IN_CLUSTER_IP_POOL, IP_ADDRESS, IP_ADDRESS_CLAIM, MACHINE,
                    PROXMOX_CLUSTER, PROXMOX_CLUSTER_FINALIZER, PROXMOX_MACHINE, PROXMOX_MACHINE_FINALIZER, SECRET,
                    rtype)
from .pve import PveClient, PveError
from .runtime import (add_finalizer, delete_if_present, deleting, find, key_of, owned_by, owner_of,
                      owner_reference, patch_status, remove_finalizer, served)
from .seed import read_credentials

log = logging.getLogger('lab.cluster.capmox')

VM_PROVISIONED = 'VMProvisioned'
CLUSTER_READY = 'ClusterReady'
TASK_POLL = 2.0            # realistic seconds between looks at a running Proxmox task
DEFAULT_REQUEUE = 10.0     # CAPMOX's DefaultReconcilerRequeue
RESYNC_READY = 30.0        # realistic seconds between power-state checks of a ready machine
RETRY_FLOOR = 0.5          # real seconds at least between retries after an error, even at time scale 0
RESYNC_FLOOR = 1.0         # real seconds at least between power-state checks of a ready machine
ISO_DEVICE = 'ide0'
DEFAULT_DEVICE = 'net0'
DRIVE = re.compile(r'^(scsi|virtio|sata|ide)\d+$')
DISK_SIZE = re.compile(r'(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)')
UNITS = {'': 1.0 / 1024 ** 3, 'K': 1.0 / 1024 ** 2, 'M': 1.0 / 1024, 'G': 1.0, 'T': 1024.0}


class CapmoxError(Exception):
    """A problem CAPMOX reports that is not a Proxmox answer: credentials, a spec it cannot use."""


class Capmox(object):
    """What both CAPMOX controllers share: the session, the faults, the timing and the credentials."""

    def __init__(self, mgmt, session, faults, timing):
        self.mgmt = mgmt
        self.session = session
        self.faults = faults
        self.timing = timing

    @property
    def down(self):
        return self.faults.active('capmox-down')

    def client(self):
        """A PveClient from the credentials Secret; CapmoxError naming what is missing."""
        try:
            url, token_id, token_secret = read_credentials(self.mgmt)
        except KeyError as err:
            raise CapmoxError(err.args[0]) from None
        return PveClient(self.session, url, token_id, token_secret)


def infrastructure_of(store, cluster):
    """The ProxmoxCluster a Cluster points at, or None."""
    reference = (cluster or {}).get('spec', {}).get('infrastructureRef') or {}
    if reference.get('kind') != PROXMOX_CLUSTER[1]:
        return None
    return find(store, rtype(store, PROXMOX_CLUSTER), reference['name'], cluster['metadata']['namespace'])


def disk_gib(drive):
    """The size in GiB of a drive option like 'local-lvm:vm-100-disk-0,iothread=1,size=20G'."""
    found = DISK_SIZE.search(drive or '')
    return float(found.group(1)) * UNITS[found.group(2)] if found else 0.0


def pool_name(proxmox_cluster):
    return proxmox_cluster['metadata']['name'] + '-v4-icip'


# ------------------------------------------------------------------------------------------- ProxmoxCluster

class ProxmoxClusterReconciler(object):
    """Ready once the Cluster owns it, its controlPlaneEndpoint is set, its ipv4Config makes an InClusterIPPool
    (`<name>-v4-icip`), dnsServers are given, and the credentials reach Proxmox with every allowed node online."""

    name = 'proxmoxcluster'
    primary = PROXMOX_CLUSTER

    def __init__(self, capmox):
        self.capmox = capmox
        self.mgmt = capmox.mgmt
        self.related = [(self.mgmt, CLUSTER, self._of_cluster), (self.mgmt, PROXMOX_MACHINE, self._of_machine)]

    def _of_cluster(self, cluster):
        reference = cluster['spec'].get('infrastructureRef') or {}
        return [(cluster['metadata']['namespace'], reference['name'])] if reference.get('kind') == 'ProxmoxCluster' \
            else []

    def _of_machine(self, machine):
        name = (machine['metadata'].get('labels') or {}).get(CLUSTER_NAME_LABEL)
        cluster = find(self.mgmt, rtype(self.mgmt, CLUSTER), name, machine['metadata']['namespace']) if name else None
        return self._of_cluster(cluster) if cluster else []

    async def reconcile(self, key):
        kind = rtype(self.mgmt, PROXMOX_CLUSTER)
        pc = find(self.mgmt, kind, key[1], key[0])
        if pc is None or self.capmox.down:
            return None
        owner = owner_of(pc, 'Cluster')
        cluster = find(self.mgmt, rtype(self.mgmt, CLUSTER), owner['name'], key[0]) if owner else None
        if cluster is None:
            log.info('proxmoxcluster %s: waiting for the Cluster controller to set an OwnerRef', key[1])
            return None
        if deleting(pc):
            return self._delete(kind, pc, cluster)
        pc = add_finalizer(self.mgmt, kind, pc, PROXMOX_CLUSTER_FINALIZER)
        problem = self._endpoint_problem(pc)
        if problem:
            return self._not_ready(kind, pc, 'MissingControlPlaneEndpoint', problem)
        problem = self._pool(pc, cluster)
        if problem:
            return self._not_ready(kind, pc, 'ReconcileError', problem)
        try:
            problem = await self._nodes_problem(pc)
        except (CapmoxError, PveError) as err:
            problem = str(err)
        if problem:
            return self._not_ready(kind, pc, 'ProxmoxUnreachable', problem)
        items = conditions.with_condition((pc.get('status') or {}).get('conditions'), CLUSTER_READY, 'True')
        items = conditions.with_condition(items, 'Ready', 'True')
        patch_status(self.mgmt, kind, pc, {'ready': True, 'conditions': items,
                                           'inClusterIpPoolRef': [{'name': pool_name(pc)}]})
        return None

    def _not_ready(self, kind, pc, reason, message):
        before = conditions.get((pc.get('status') or {}).get('conditions'), CLUSTER_READY) or {}
        if before.get('message') != message:
            log.info('proxmoxcluster %s: not ready: %s', pc['metadata']['name'], message)
        items = conditions.with_condition((pc.get('status') or {}).get('conditions'), CLUSTER_READY, 'False', reason,
                                          message, 'Warning')
        items = conditions.with_condition(items, 'Ready', 'False', reason, message, 'Warning')
        patch_status(self.mgmt, kind, pc, {'ready': False, 'conditions': items})
        return self.capmox.timing.poll(DEFAULT_REQUEUE, floor=RETRY_FLOOR)

    @staticmethod
    def _endpoint_problem(pc):
        endpoint = pc['spec'].get('controlPlaneEndpoint') or {}
        for field in ('host', 'port'):
            if not endpoint.get(field):
                return 'The ProxmoxCluster is missing or waiting for a ControlPlaneEndpoint ' + field
        return None

    def _pool(self, pc, cluster):
        """Create or update the cluster's InClusterIPPool from ipv4Config; why it cannot be, or None."""
        spec = pc['spec']
        config = spec.get('ipv4Config')
        if not config:
            return 'ipv4Config is required: this lab models IPv4 pools only'
        problem = check_pool_spec(config)
        if problem:
            return 'ipv4Config: ' + problem
        if not spec.get('dnsServers'):
            return 'dnsServers: at least one nameserver is required'
        pools = served(self.mgmt, *IN_CLUSTER_IP_POOL)
        if pools is None:
            return 'failed to create InClusterIPPool {0}: {1}'.format(pool_name(pc), not_served(IN_CLUSTER_IP_POOL))
        wanted = dict((field, config.get(field)) for field in ('addresses', 'prefix', 'gateway'))
        meta = pc['metadata']
        pool = find(self.mgmt, pools, pool_name(pc), meta['namespace'])
        if pool is None:
            self.mgmt.create(pools, {'metadata': {
                'name': pool_name(pc), 'namespace': meta['namespace'],
                'labels': {CLUSTER_NAME_LABEL: cluster['metadata']['name']}, 'ownerReferences': [owner_reference(pc)]},
                'spec': wanted})
        elif dict((field, pool['spec'].get(field)) for field in wanted) != wanted:
            self.mgmt.patch(pools, pool_name(pc), {'spec': wanted}, 'merge', meta['namespace'])
        return None

    async def _nodes_problem(self, pc):
        """Why the credentials do not reach every allowed node, or None."""
        nodes = await self.capmox.client().get('/nodes')
        online = dict((node['node'], node.get('status')) for node in nodes)
        for name in pc['spec'].get('allowedNodes') or ():
            if name not in online:
                return 'allowed node {0} is not in the Proxmox cluster (nodes: {1})'.format(
                    name, ', '.join(sorted(online)) or 'none')
            if online[name] != 'online':
                return 'allowed node {0} is {1}'.format(name, online[name])
        return None

    def _delete(self, kind, pc, cluster):
        """Wait until the cluster's ProxmoxMachines are gone, then let the ProxmoxCluster go (its pool with it)."""
        if not deleting(cluster):
            log.info('proxmoxcluster %s: deletion was requested but the owning cluster was not deleted',
                     pc['metadata']['name'])
            return None
        machines = self.mgmt.list(rtype(self.mgmt, PROXMOX_MACHINE), pc['metadata']['namespace'],
                                  labels='{0}={1}'.format(CLUSTER_NAME_LABEL, cluster['metadata']['name']))[0]
        if machines:
            return None       # each machine's deletion requeues the cluster
        remove_finalizer(self.mgmt, kind, pc, PROXMOX_CLUSTER_FINALIZER)
        return None


# ------------------------------------------------------------------------------------------- ProxmoxMachine

class Requeue(Exception):
    """A step cannot go on now. `message`, if any, goes on the condition; reconcile again after `delay` (None: only
    on a change)."""

    def __init__(self, delay, message=''):
        super().__init__(message)
        self.delay = delay
        self.message = message


@dataclass
class Job:
    """One reconcile of a ProxmoxMachine: its kind, the machine as last stored, and what it belongs to."""
    kind: object
    pm: dict
    machine: dict = None
    pc: dict = None
    vm: object = None


class ProxmoxMachineReconciler(object):
    """Clones, configures, starts and deletes a Machine's VM (see the module's docstring)."""

    name = 'proxmoxmachine'
    primary = PROXMOX_MACHINE

    def __init__(self, capmox):
        self.capmox = capmox
        self.mgmt = capmox.mgmt
        self.timing = capmox.timing
        self.related = [(self.mgmt, MACHINE, self._of_machine), (self.mgmt, PROXMOX_CLUSTER, self._of_cluster),
                        (self.mgmt, IP_ADDRESS_CLAIM, owned_by('ProxmoxMachine'))]
        self._choosing = set()      # VMIDs picked for clone requests not answered yet: machines cloned at once differ

    def _of_machine(self, machine):
        reference = machine['spec'].get('infrastructureRef') or {}
        return [(machine['metadata']['namespace'], reference['name'])] if reference.get('kind') == 'ProxmoxMachine' \
            else []

    def _of_cluster(self, pc):
        owner = owner_of(pc, 'Cluster')
        if owner is None:
            return []
        return [key_of(pm) for pm in self.mgmt.list(rtype(self.mgmt, PROXMOX_MACHINE), pc['metadata']['namespace'],
                                                    labels='{0}={1}'.format(CLUSTER_NAME_LABEL, owner['name']))[0]]

    @property
    def retry(self):
        """CAPMOX's requeue interval after an error."""
        return self.timing.poll(DEFAULT_REQUEUE, floor=RETRY_FLOOR)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key):
        kind = rtype(self.mgmt, PROXMOX_MACHINE)
        pm = find(self.mgmt, kind, key[1], key[0])
        if pm is None or owner_of(pm, 'Machine') is None or self.capmox.down:
            return None
        job = Job(kind, pm)
        if deleting(pm):
            return await self._guarded(job, self._delete)
        job.machine = find(self.mgmt, rtype(self.mgmt, MACHINE), owner_of(pm, 'Machine')['name'], key[0])
        if job.machine is None:
            return None
        job.pm = add_finalizer(self.mgmt, kind, pm, PROXMOX_MACHINE_FINALIZER)
        if (job.pm.get('status') or {}).get('failureReason'):
            return None
        cluster = find(self.mgmt, rtype(self.mgmt, CLUSTER), job.machine['spec'].get('clusterName', ''), key[0])
        job.pc = infrastructure_of(self.mgmt, cluster)
        if not ((job.pc or {}).get('status') or {}).get('ready'):
            self._mark(job, 'False', 'WaitingForClusterInfrastructure')
            return None
        if not (job.machine['spec'].get('bootstrap') or {}).get('dataSecretName'):
            self._mark(job, 'False', 'WaitingForBootstrapData')
            return None
        return await self._guarded(job, self._provision)

    async def _guarded(self, job, work):
        """work(api, job); a Proxmox, credentials or spec error shows on the condition and is retried later: before
        the VM exists (and while it is configured) as CloningFailed, afterwards under the step's own reason."""
        try:
            return await work(self.capmox.client(), job)
        except Requeue as wait:
            if wait.message:
                self._mark(job, 'False', self._reason(job.pm), wait.message)
            return wait.delay
        except (CapmoxError, PveError) as err:
            reason = self._reason(job.pm)
            if job.pm['spec'].get('virtualMachineID') is None or reason in ('Cloning', 'CloningFailed'):
                reason = 'CloningFailed'
            before = conditions.get((job.pm.get('status') or {}).get('conditions'), VM_PROVISIONED) or {}
            if before.get('message') != str(err):
                log.info('proxmoxmachine %s: %s', job.pm['metadata']['name'], err)
            if not self.capmox.faults.active('capmox-errors-hidden'):
                self._mark(job, 'False', reason, str(err), 'Warning')
            return self.retry

    @staticmethod
    def _reason(pm):
        condition = conditions.get((pm.get('status') or {}).get('conditions'), VM_PROVISIONED) or {}
        return condition.get('reason') if condition.get('status') == 'False' else None

    def _mark(self, job, status, reason='', message='', severity=None, **fields):
        """Set VMProvisioned (and Ready, which mirrors it) and other status fields on job.pm."""
        items = (job.pm.get('status') or {}).get('conditions')
        for condition in (VM_PROVISIONED, 'Ready'):
            items = conditions.with_condition(items, condition, status, reason, message, severity)
        job.pm = patch_status(self.mgmt, job.kind, job.pm, dict(fields, conditions=items))

    def _advance(self, job, reason):
        """Move to the step of that reason (a message of the step before goes with it)."""
        if self._reason(job.pm) != reason:
            self._mark(job, 'False', reason)

    def _set(self, job, **status):
        job.pm = patch_status(self.mgmt, job.kind, job.pm, status)

    def _started(self, job, upid, reason=None):
        """Record a task just started (and the step it moves to); Requeue to look at it soon."""
        self._set(job, taskRef=upid)
        if reason:
            self._advance(job, reason)
        raise Requeue(self.timing.poll(TASK_POLL))

    async def _task_done(self, api, job):
        """Return once no task is in flight (clearing a finished one's taskRef); Requeue while it runs or after it
        failed. A failed clone is terminal (CloningFailed, failureReason and failureMessage)."""
        upid = (job.pm.get('status') or {}).get('taskRef')
        if not upid:
            return
        running, exit_status = await api.task(upid)
        if running:
            raise Requeue(self.timing.poll(TASK_POLL))
        if exit_status == 'OK':
            self._set(job, taskRef=None)
            return
        if self._reason(job.pm) == 'Cloning':
            message = 'clone task {0} failed: {1}'.format(upid, exit_status)
            log.info('proxmoxmachine %s: %s', job.pm['metadata']['name'], message)
            self._mark(job, 'False', 'CloningFailed', message, 'Warning', taskRef=None, failureReason='CreateError',
                       failureMessage=message)
            raise Requeue(None)
        self._set(job, taskRef=None)
        raise Requeue(self.retry, 'task {0} failed: {1}'.format(upid, exit_status))

    # ------------------------------------------------------------------ provisioning

    async def _provision(self, api, job):
        await self._task_done(api, job)
        vmid = job.pm['spec'].get('virtualMachineID')
        if vmid is None:
            return await self._clone(api, job)
        node = (job.pm.get('status') or {}).get('proxmoxNode') or job.pm['spec'].get('sourceNode')
        job.vm = VmRef(api, node, vmid)
        reason = self._reason(job.pm)
        if not await job.vm.belongs_to(job.pm['metadata']['name']):
            self._mark(job, 'False', 'NotFound', 'VM {0} not found on node {1}'.format(vmid, job.vm.node), 'Warning')
            return self.timing.poll(RESYNC_READY, floor=RESYNC_FLOOR)
        if reason in (None, 'NotFound'):
            return await self._keep_running(job)
        steps = (('Cloning', self._configure), ('WaitingForDiskReconcilation', self._resize),
                 ('WaitingForStaticIPAllocation', self._address), ('WaitingForBootstrapReady', self._bootstrap_iso),
                 ('WaitingForVMPowerUp', self._power_up), ('PoweringOn', self._wait_for_guest))
        names = [name for name, _step in steps]
        current = 'Cloning' if reason == 'CloningFailed' else reason
        for name, step in steps[names.index(current) if current in names else 0:]:
            if name != current:
                self._advance(job, name)
            await step(job)
        return self.timing.poll(RESYNC_READY, floor=RESYNC_FLOOR)

    async def _clone(self, api, job):
        """Start the clone of the template onto a free VMID; Requeue until its task ends."""
        spec, meta = job.pm['spec'], job.pm['metadata']
        source, template = await self._template(api, spec)
        target = await self._target(api, spec, job.pc, source, template)
        options = dict(name=meta['name'], full=0 if spec.get('full') is False else 1)
        options.update((field, spec[field]) for field in ('format', 'storage', 'pool', 'description')
                       if spec.get(field))
        if spec.get('snapName'):
            options['snapname'] = spec['snapName']
        if target != source:
            options['target'] = target
        vmid, upid = await self._clone_call(api, spec, source, template, options)
        log.info('proxmoxmachine %s: cloning template %s on %s into VM %s on %s', meta['name'], template, source, vmid,
                 target)
        self.mgmt.patch(job.kind, meta['name'], {'spec': {'virtualMachineID': vmid}}, 'merge', meta['namespace'])
        job.pm = find(self.mgmt, job.kind, meta['name'], meta['namespace'])
        self._record_location(job.pc, meta['name'], target)
        self._set(job, proxmoxNode=target, vmStatus='pending')
        self._started(job, upid, reason='Cloning')

    async def _clone_call(self, api, spec, source, template, options, attempts=3):
        """(vmid, UPID) of the clone request; a VMID taken meanwhile (by another client) is retried with the next
        free one. The VMID stays reserved while the request is on its way, so clones started together differ."""
        for attempt in range(attempts):
            vmid = await self._free_vmid(api, spec.get('vmIDRange'))
            self._choosing.add(vmid)
            try:
                return vmid, await api.post('/nodes/{0}/qemu/{1}/clone'.format(source, template), newid=vmid,
                                            **options)
            except PveError as err:
                if 'already exists' not in err.message or attempt == attempts - 1:
                    raise
            finally:
                self._choosing.discard(vmid)
        raise CapmoxError('no free VMID after {0} attempts'.format(attempts))

    @staticmethod
    async def _template(api, spec):
        """(source node, template VMID): sourceNode and templateID, or the template with templateSelector's tags."""
        selector = (spec.get('templateSelector') or {}).get('matchTags')
        if not selector:
            if not spec.get('sourceNode') or spec.get('templateID') is None:
                raise CapmoxError('must define either SourceNode with TemplateID, OR TemplateSelector')
            return spec['sourceNode'], spec['templateID']
        for vm in await api.get('/cluster/resources', type='vm'):
            tags = set(filter(None, re.split(r'[;, ]+', vm.get('tags') or '')))
            if vm.get('template') and set(selector) <= tags:
                return vm['node'], vm['vmid']
        raise CapmoxError('no VM template carries the tags {0}'.format(', '.join(selector)))

    async def _target(self, api, spec, pc, source, template):
        """The node the VM is cloned onto: spec.target; else, when the template's disks are on shared storage, the
        allowed node with the most free memory; else the source node (PVE refuses a cross-node clone of a VM on
        local storage)."""
        if spec.get('target'):
            return spec['target']
        allowed = pc['spec'].get('allowedNodes') or []
        if not allowed or not await self._shared(api, source, template, spec.get('storage')):
            return source
        nodes = dict((node['node'], node) for node in await api.get('/nodes') if node.get('status') == 'online')
        candidates = [name for name in allowed if name in nodes] or [source]
        return max(candidates, key=lambda name: nodes.get(name, {}).get('maxmem', 0) - nodes.get(name, {}).get(
            'mem', 0))

    @staticmethod
    async def _shared(api, source, template, storage):
        """True when every disk the clone reads or writes is on shared storage."""
        try:
            config = await api.get('/nodes/{0}/qemu/{1}/config'.format(source, template))
        except PveError:
            return False     # the clone request will say what is wrong
        used = set(storage or str(value).split(':', 1)[0] for key, value in config.items()
                   if DRIVE.match(key) and 'media=cdrom' not in str(value))
        shared = dict((item['storage'], item.get('shared')) for item in await api.get(
            '/nodes/{0}/storage'.format(source)))
        return bool(used) and all(shared.get(name) for name in used)

    async def _free_vmid(self, api, vmid_range):
        """The lowest VMID neither in use nor being chosen: within vmIDRange, else from /cluster/nextid on."""
        if vmid_range:
            used = set(vm['vmid'] for vm in await api.get('/cluster/resources', type='vm')) | self._choosing
            candidates = range(vmid_range['start'], vmid_range['end'] + 1)
        else:
            used, candidates = self._choosing, itertools.count(int(await api.get('/cluster/nextid')))
        free = next((vmid for vmid in candidates if vmid not in used), None)
        if free is None:
            raise CapmoxError('No free vmid found in vmIDRange')
        return free

    def _record_location(self, pc, machine, node):
        locations = ((pc.get('status') or {}).get('nodeLocations') or {}).get('workers') or []
        if not any(item['machine']['name'] == machine for item in locations):
            patch_status(self.mgmt, rtype(self.mgmt, PROXMOX_CLUSTER), pc, {'nodeLocations': {
                'workers': locations + [{'machine': {'name': machine}, 'node': node}]}})

    async def _configure(self, job):
        """Cores, sockets, memory, description, net0 and the cluster's tag as the spec says; providerID from the
        VM's SMBIOS UUID."""
        config = await job.vm.config()
        spec, meta = job.pm['spec'], job.pm['metadata']
        smbios = dict(part.split('=', 1) for part in str(config.get('smbios1', '')).split(',') if '=' in part)
        if smbios.get('uuid') and spec.get('providerID') != 'proxmox://' + smbios['uuid']:
            self.mgmt.patch(job.kind, meta['name'], {'spec': {'providerID': 'proxmox://' + smbios['uuid']}}, 'merge',
                            meta['namespace'])
            job.pm = find(self.mgmt, job.kind, meta['name'], meta['namespace'])
        wanted = {'cores': spec.get('numCores'), 'sockets': spec.get('numSockets'), 'memory': spec.get('memoryMiB'),
                  'description': spec.get('description')}
        options = dict((key, value) for key, value in wanted.items()
                       if value is not None and str(config.get(key)) != str(value))
        network = (spec.get('network') or {}).get('default')
        if network:
            net0 = network_device(network, config.get(DEFAULT_DEVICE, ''))
            if net0 != config.get(DEFAULT_DEVICE):
                options[DEFAULT_DEVICE] = net0
        cluster = (meta.get('labels') or {}).get(CLUSTER_NAME_LABEL)
        tags = with_tags(config.get('tags'), [cluster] if cluster else [])
        if tags != (config.get('tags') or ''):
            options['tags'] = tags
        if options:
            self._started(job, await job.vm.post_config(**options))

    async def _resize(self, job):
        boot = (job.pm['spec'].get('disks') or {}).get('bootVolume')
        if not boot:
            return
        config = await job.vm.config()
        if boot.get('disk') not in config or disk_gib(config[boot['disk']]) != float(boot['sizeGb']):
            self._started(job, await job.vm.api.put(job.vm.path + '/resize', disk=boot['disk'],
                                                     size='{0}G'.format(boot['sizeGb'])))

    async def _address(self, job):
        """An address from the cluster's pool (IPAddressClaim `<machine>-net0-inet`) as ipconfig0, with the
        nameservers and an ip_net0_<address> tag."""
        address = self._claimed_address(job)
        if ((job.pm.get('status') or {}).get('ipAddresses') or {}).get(DEFAULT_DEVICE, {}).get('ipv4') != \
                address['address']:
            self._set(job, ipAddresses={DEFAULT_DEVICE: {'ipv4': address['address']}})
        config = await job.vm.config()
        wanted = {'ipconfig0': 'ip={0}/{1},gw={2}'.format(address['address'], address['prefix'], address['gateway']),
                  'nameserver': ' '.join(job.pc['spec'].get('dnsServers') or ()),
                  'tags': with_tags(config.get('tags'), ['ip_{0}_{1}'.format(DEFAULT_DEVICE, address['address'])])}
        options = dict((key, value) for key, value in wanted.items() if str(config.get(key) or '') != value)
        if options:
            self._started(job, await job.vm.post_config(**options))

    def _claimed_address(self, job):
        """The IPAddress spec of the machine's claim (made when missing); Requeue until the claim is bound."""
        claims, addresses = served(self.mgmt, *IP_ADDRESS_CLAIM), served(self.mgmt, *IP_ADDRESS)
        if claims is None or addresses is None:
            raise Requeue(self.retry, 'unable to handle IPAddress for device {0}: {1}'.format(
                DEFAULT_DEVICE, not_served(IP_ADDRESS_CLAIM if claims is None else IP_ADDRESS)))
        meta = job.pm['metadata']
        name = claim_name(job.pm)
        claim = find(self.mgmt, claims, name, meta['namespace'])
        if claim is None:
            self.mgmt.create(claims, {
                'metadata': {'name': name, 'namespace': meta['namespace'],
                             'labels': {CLUSTER_NAME_LABEL: (meta.get('labels') or {}).get(CLUSTER_NAME_LABEL, '')},
                             'ownerReferences': [owner_reference(job.pm)]},
                'spec': {'poolRef': {'apiGroup': 'ipam.cluster.x-k8s.io', 'kind': 'InClusterIPPool',
                                     'name': pool_name(job.pc)}}})
            raise Requeue(self.timing.poll(TASK_POLL))
        bound = ((claim.get('status') or {}).get('addressRef') or {}).get('name')
        address = find(self.mgmt, addresses, bound, meta['namespace']) if bound else None
        if address is None:
            ready = conditions.get((claim.get('status') or {}).get('conditions'), 'Ready') or {}
            raise Requeue(self.retry, 'IPAddressClaim {0}: {1}'.format(
                name, ready.get('message') or 'waiting for an address'))
        return address['spec']

    async def _bootstrap_iso(self, job):
        """The cloud-init ISO user-data-<vmid>.iso (bootstrap data, meta-data, network-config) uploaded to the
        node's ISO storage, waited for, and attached as ide0, as go-proxmox's CloudInit does."""
        vm = job.vm
        storage = await vm.iso_storage()
        volid = '{0}:iso/{1}'.format(storage, iso_name(vm.vmid))
        config = await vm.config()
        if str(config.get(ISO_DEVICE, '')).startswith(volid + ','):
            if not (job.pm.get('status') or {}).get('bootstrapDataProvided'):
                self._set(job, bootstrapDataProvided=True)
            return
        upload = await vm.api.upload_iso(vm.node, storage, iso_name(vm.vmid), self._cloud_init(job))
        exit_status = await vm.api.wait(upload, self.timing.poll(TASK_POLL))
        if exit_status != 'OK':
            raise CapmoxError('cloud-init iso inject failed: upload task {0}: {1}'.format(upload, exit_status))
        self._started(job, await vm.post_config(**{ISO_DEVICE: volid + ',media=cdrom'}))

    def _cloud_init(self, job):
        secret_name = job.machine['spec']['bootstrap']['dataSecretName']
        secret = find(self.mgmt, rtype(self.mgmt, SECRET), secret_name, job.pm['metadata']['namespace'])
        if secret is None or 'value' not in (secret.get('data') or {}):
            raise Requeue(self.retry, 'failed to retrieve bootstrap data secret {0}'.format(secret_name))
        user_data = base64.b64decode(secret['data']['value']).decode()
        address = ((job.pm.get('status') or {}).get('ipAddresses') or {}).get(DEFAULT_DEVICE, {}).get('ipv4', '')
        meta_data = 'instance-id: {0}\nlocal-hostname: {1}\n'.format(
            (job.pm['spec'].get('providerID') or '').replace('proxmox://', ''), job.pm['metadata']['name'])
        network = 'version: 2\nethernets:\n  eth0:\n    addresses: [{0}]\n'.format(address)
        return '\n'.join(('#user-data', user_data, '#meta-data', meta_data, '#network-config', network)).encode()

    async def _power_up(self, job):
        if (await job.vm.status()).get('status') != 'running':
            self._started(job, await job.vm.api.post(job.vm.path + '/status/start'), reason='PoweringOn')

    async def _wait_for_guest(self, job):
        """Ready once the guest agent reports an IPv4 address on the VM's NIC."""
        vm = job.vm
        if (await vm.status()).get('status') != 'running':
            self._started(job, await vm.api.post(vm.path + '/status/start'))
        try:
            interfaces = (await vm.api.get(vm.path + '/agent/network-get-interfaces')).get('result') or []
        except PveError as err:
            raise Requeue(self.timing.poll(TASK_POLL), 'waiting for the QEMU guest agent: {0}'.format(err.message))
        address = guest_ipv4(interfaces)
        if address is None:
            raise Requeue(self.timing.poll(TASK_POLL), 'the QEMU guest agent reports no IPv4 address')
        log.info('proxmoxmachine %s: VM %s is ready at %s', job.pm['metadata']['name'], vm.vmid, address)
        self._mark(job, 'True', ready=True, vmStatus='ready', addresses=[
            {'type': 'InternalIP', 'address': address}, {'type': 'Hostname', 'address': job.pm['metadata']['name']}])

    async def _keep_running(self, job):
        """A ready machine: its VM is started again when it was stopped on the Proxmox side."""
        vm = job.vm
        state = (await vm.status()).get('status')
        if state != 'running':
            log.info('proxmoxmachine %s: VM %s is %s: starting it', job.pm['metadata']['name'], vm.vmid, state)
            self._started(job, await vm.api.post(vm.path + '/status/start'), reason='PoweringOn')
        if self._reason(job.pm) is not None:
            self._mark(job, 'True')
        return self.timing.poll(RESYNC_READY, floor=RESYNC_FLOOR)

    # ------------------------------------------------------------------ deletion

    async def _delete(self, api, job):
        """Stop and delete the VM (purge, unreferenced disks) and its ISO, release its address, then let the
        ProxmoxMachine go. A VM under its VMID that is not this machine's (deleted behind CAPMOX's back, the VMID
        taken again) is left alone, and so is the ISO of that VMID."""
        self._advance(job, 'VMTerminated')
        await self._task_done(api, job)
        vmid = job.pm['spec'].get('virtualMachineID')
        node = (job.pm.get('status') or {}).get('proxmoxNode')
        if vmid is not None and node:
            job.vm = VmRef(api, node, vmid)
            if await job.vm.belongs_to(job.pm['metadata']['name']):
                await self._destroy(job)
            if not await job.vm.exists() and not self.capmox.faults.active('capmox-iso-leak'):
                await self._delete_iso(job)
        claims = served(self.mgmt, *IP_ADDRESS_CLAIM)
        if claims is not None:
            delete_if_present(self.mgmt, claims, claim_name(job.pm), job.pm['metadata']['namespace'])
        self._forget_location(job.pm)
        log.info('proxmoxmachine %s: deleted', job.pm['metadata']['name'])
        remove_finalizer(self.mgmt, job.kind, job.pm, PROXMOX_MACHINE_FINALIZER)
        return None

    async def _destroy(self, job):
        """Requeue until the VM is stopped, then until it is deleted."""
        vm = job.vm
        if (await vm.status()).get('status') == 'running':
            self._started(job, await vm.api.post(vm.path + '/status/stop'))
        self._started(job, await vm.api.delete(vm.path, purge=1, **{'destroy-unreferenced-disks': 1}))

    async def _delete_iso(self, job):
        vm = job.vm
        storage = await vm.iso_storage()
        volid = '{0}:iso/{1}'.format(storage, iso_name(vm.vmid))
        if volid in await vm.iso_volumes(storage):
            self._started(job, await vm.api.delete('/nodes/{0}/storage/{1}/content/{2}'.format(
                vm.node, storage, volid)))

    def _forget_location(self, pm):
        cluster_name = (pm['metadata'].get('labels') or {}).get(CLUSTER_NAME_LABEL, '')
        pc = infrastructure_of(self.mgmt, find(self.mgmt, rtype(self.mgmt, CLUSTER), cluster_name,
                                               pm['metadata']['namespace']))
        workers = (((pc or {}).get('status') or {}).get('nodeLocations') or {}).get('workers') or []
        kept = [item for item in workers if item['machine']['name'] != pm['metadata']['name']]
        if len(kept) != len(workers):
            patch_status(self.mgmt, rtype(self.mgmt, PROXMOX_CLUSTER), pc, {'nodeLocations': {'workers': kept}})


# ------------------------------------------------------------------------------------------------- helpers

class VmRef(object):
    """One VM on one node, for one client."""

    def __init__(self, api, node, vmid):
        self.api = api
        self.node = node
        self.vmid = vmid
        self.path = '/nodes/{0}/qemu/{1}'.format(node, vmid)

    async def config(self):
        return await self.api.get(self.path + '/config')

    async def post_config(self, **options):
        return await self.api.post(self.path + '/config', **options)

    async def status(self):
        return await self.api.get(self.path + '/status/current')

    async def iso_storage(self):
        """The first storage of the node that holds ISO images (where CAPMOX uploads the cloud-init ISO)."""
        storages = await self.api.get('/nodes/{0}/storage'.format(self.node), content='iso')
        if not storages:
            raise CapmoxError('no storage with content iso on node {0}'.format(self.node))
        return storages[0]['storage']

    async def exists(self):
        try:
            await self.config()
        except PveError as err:
            if err.missing:
                return False
            raise
        return True

    async def belongs_to(self, name):
        """True when the VM exists and carries that name (CAPMOX names a VM after its ProxmoxMachine)."""
        try:
            return (await self.config()).get('name') == name
        except PveError as err:
            if err.missing:
                return False
            raise

    async def iso_volumes(self, storage):
        listed = await self.api.get('/nodes/{0}/storage/{1}/content'.format(self.node, storage), content='iso')
        return set(item['volid'] for item in listed)


def claim_name(pm):
    return '{0}-{1}-inet'.format(pm['metadata']['name'], DEFAULT_DEVICE)


def iso_name(vmid):
    return 'user-data-{0}.iso'.format(vmid)


def network_device(network, current):
    """net0 as the spec wants it ('virtio=<MAC>,bridge=vmbr0[,tag=..][,mtu=..]'), keeping the VM's MAC."""
    model = network.get('model') or 'virtio'
    first = current.split(',')[0]
    mac = first.partition('=')[2] if first.startswith(model + '=') else ''
    parts = [model + ('=' + mac if mac else ''), 'bridge=' + network['bridge']]
    if network.get('vlan'):
        parts.append('tag={0}'.format(network['vlan']))
    if network.get('mtu'):
        parts.append('mtu={0}'.format(network['mtu']))
    return ','.join(parts)


def with_tags(current, added):
    """PVE's tag list (unique, sorted, ';'-joined) with these tags added."""
    tags = set(filter(None, re.split(r'[;, ]+', current or ''))) | set(added)
    return ';'.join(sorted(tags))


def guest_ipv4(interfaces):
    """The first IPv4 address the guest agent reports on an interface other than lo."""
    for interface in interfaces:
        if interface.get('name') == 'lo':
            continue
        for address in interface.get('ip-addresses') or ():
            if address.get('ip-address-type') == 'ipv4':
                return address.get('ip-address')
    return None
