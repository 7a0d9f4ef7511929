"""The tenant cluster's kubelets, and what the node lifecycle controller and the CNI do to their Nodes.

A ProxmoxMachine whose VM booted (CAPMOX reports it ready with the guest agent's address) gets, after the join
delay, a Node named like its Machine: providerID, topology labels (region = cluster, zone = Proxmox node),
capacity from the VM's cores and memory, NotReady and tainted until Cilium's agent is up (the CNI delay), then
Ready. While the VM runs and its guest agent answers, the kubelet renews its Lease; once it has been silent for the
node monitor grace period the Node goes Ready=Unknown with the unreachable taints, and back when the VM is up again.
The kubelet sees the VM through the Proxmox API with its own token (the CCM's view), never through CAPMOX.
"""

import logging
import secrets
import time
import uuid

from . import conditions
from .capmox import disk_gib
from .kinds import CLUSTER_NAME_LABEL, LEASE, MACHINE, NODE, PROXMOX_MACHINE, rtype
from .pve import PveError
from .runtime import deleting, find, owner_of, owner_reference
from .seed import KUBERNETES_VERSION

log = logging.getLogger('lab.cluster.kubelet')

JOIN_SECONDS = 30.0          # realistic seconds from a booted VM to its kubelet registering (cloud-init, kubeadm join)
CNI_SECONDS = 20.0           # from registration until Cilium's agent is ready on the node
LEASE_SECONDS = 10.0         # the kubelet's lease renewal interval
GRACE_SECONDS = 40.0         # node-monitor-grace-period
HEARTBEAT_FLOOR = 0.5        # real seconds at least between heartbeats, even at time scale 0
CILIUM_TAINT = {'key': 'node.cilium.io/agent-not-ready', 'value': 'true', 'effect': 'NoSchedule'}
UNINITIALIZED_TAINT = {'key': 'node.cloudprovider.kubernetes.io/uninitialized', 'value': 'true',
                       'effect': 'NoSchedule'}
UNREACHABLE_TAINTS = [{'key': 'node.kubernetes.io/unreachable', 'effect': 'NoSchedule'},
                      {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute'}]
NETWORK_NOT_READY = ('container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady '
                     'message:Network plugin returns error: cni plugin not initialized')
KERNEL = '6.8.0-51-generic'
OS_IMAGE = 'Ubuntu 24.04.1 LTS'
RUNTIME = 'containerd://1.7.24'
RESERVED_MEMORY_KI = 100 * 1024       # the kubelet's default memory.available eviction threshold


class KubeletReconciler(object):
    """One kubelet per booted ProxmoxMachine (key: the ProxmoxMachine)."""

    name = 'kubelet'
    primary = PROXMOX_MACHINE

    def __init__(self, mgmt, tenant, pve, faults, timing):
        self.mgmt = mgmt
        self.tenant = tenant
        self.pve = pve
        self.faults = faults
        self.timing = timing
        self.related = []
        self._booted = {}        # key -> when the VM was first seen booted (monotonic seconds)
        self._registered = {}    # key -> when the Node registered
        self._silent = {}        # key -> when the VM was first seen down

    async def reconcile(self, key):
        pm = find(self.mgmt, rtype(self.mgmt, PROXMOX_MACHINE), key[1], key[0])
        owner = owner_of(pm, 'Machine') if pm else None
        machine = find(self.mgmt, rtype(self.mgmt, MACHINE), owner['name'], key[0]) if owner else None
        if machine is None or deleting(pm) or deleting(machine) or not self._booted_once(pm):
            self._forget(key)
            return None
        nodes = rtype(self.tenant, NODE)
        node = find(self.tenant, nodes, machine['metadata']['name'])
        vm_up = await self._vm_up(pm)
        now = time.monotonic()
        if node is None:
            return await self._join(key, pm, machine, vm_up, now)
        if vm_up:
            self._silent.pop(key, None)
            self._renew_lease(node)
        else:
            self._silent.setdefault(key, now)
        self._update(key, nodes, node, vm_up, now)
        return self.timing.poll(LEASE_SECONDS, floor=HEARTBEAT_FLOOR)

    @staticmethod
    def _booted_once(pm):
        status = pm.get('status') or {}
        return bool(status.get('ready') and pm['spec'].get('providerID') and status.get('proxmoxNode')
                    and pm['spec'].get('virtualMachineID') is not None)

    def _forget(self, key):
        for memory in (self._booted, self._registered, self._silent):
            memory.pop(key, None)

    async def _vm_up(self, pm):
        """True while the VM runs and its guest agent answers."""
        path = '/nodes/{0}/qemu/{1}'.format(pm['status']['proxmoxNode'], pm['spec']['virtualMachineID'])
        try:
            if (await self.pve.get(path + '/status/current')).get('status') != 'running':
                return False
            await self.pve.get(path + '/agent/network-get-interfaces')
        except PveError:
            return False
        return True

    async def _join(self, key, pm, machine, vm_up, now):
        """Register the Node once the VM has been up for the join delay."""
        if not vm_up:
            return self.timing.poll(LEASE_SECONDS, floor=HEARTBEAT_FLOOR)
        left = self._booted.setdefault(key, now) + self.timing.delay(JOIN_SECONDS) - now
        if left > 0:
            return left
        node = self.tenant.create(rtype(self.tenant, NODE), await self._node(pm, machine))
        self._registered[key] = now
        self._renew_lease(node)
        log.info('kubelet: node %s registered (providerID %s)', node['metadata']['name'], node['spec']['providerID'])
        return self.timing.delay(CNI_SECONDS)

    async def _node(self, pm, machine):
        """A new Node as its kubelet registers it: NotReady, tainted until the CNI and the cloud provider are done."""
        name = machine['metadata']['name']
        cpus, memory_ki, disk_ki = await self._capacity(pm)
        capacity = {'cpu': str(cpus), 'memory': '{0}Ki'.format(memory_ki), 'pods': '110',
                    'ephemeral-storage': '{0}Ki'.format(disk_ki)}
        allocatable = dict(capacity, memory='{0}Ki'.format(max(memory_ki - RESERVED_MEMORY_KI, 0)))
        address = next((item['address'] for item in (pm.get('status') or {}).get('addresses') or ()
                        if item.get('type') == 'InternalIP'), '')
        version = machine['spec'].get('version') or KUBERNETES_VERSION
        region = (machine['metadata'].get('labels') or {}).get(CLUSTER_NAME_LABEL, '')
        labels = {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
                  'node-role.kubernetes.io/worker': ''}
        if not self.faults.active('node-topology-missing'):
            labels.update({'topology.kubernetes.io/region': region,
                           'topology.kubernetes.io/zone': pm['status']['proxmoxNode']})
        heartbeat = conditions.now()
        pressure = [{'type': kind, 'status': 'False', 'reason': 'KubeletHas' + reason, 'message': message,
                     'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat}
                    for kind, reason, message in (
                        ('MemoryPressure', 'SufficientMemory', 'kubelet has sufficient memory available'),
                        ('DiskPressure', 'NoDiskPressure', 'kubelet has no disk pressure'),
                        ('PIDPressure', 'SufficientPID', 'kubelet has sufficient PID available'))]
        ready = {'type': 'Ready', 'status': 'False', 'reason': 'KubeletNotReady', 'message': NETWORK_NOT_READY,
                 'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat}
        return {'metadata': {'name': name, 'labels': labels,
                             'annotations': {'node.alpha.kubernetes.io/ttl': '0',
                                             'volumes.kubernetes.io/controller-managed-attach-detach': 'true'}},
                'spec': {'providerID': pm['spec']['providerID'],
                         'taints': [dict(CILIUM_TAINT), dict(UNINITIALIZED_TAINT)]},
                'status': {'capacity': capacity, 'allocatable': allocatable, 'conditions': pressure + [ready],
                           'addresses': [{'type': 'InternalIP', 'address': address},
                                         {'type': 'Hostname', 'address': name}],
                           'daemonEndpoints': {'kubeletEndpoint': {'Port': 10250}},
                           'nodeInfo': node_info(pm['spec']['providerID'], version)}}

    async def _capacity(self, pm):
        """(cpus, memory in Ki, disk in Ki) of the VM, as its kubelet reports them."""
        config = await self.pve.get('/nodes/{0}/qemu/{1}/config'.format(pm['status']['proxmoxNode'],
                                                                       pm['spec']['virtualMachineID']))
        cpus = int(config.get('cores', 1)) * int(config.get('sockets', 1))
        disk = max((disk_gib(str(value)) for name, value in config.items() if name.startswith(('scsi', 'virtio'))),
                   default=0.0)
        return cpus, int(config.get('memory', 512)) * 1024, int(disk * 1024 * 1024)

    def _update(self, key, nodes, node, vm_up, now):
        """The Node's taints and Ready condition as the CNI, the cloud provider and the node lifecycle controller
        leave them now."""
        taints = [taint for taint in (node.get('spec') or {}).get('taints') or ()
                  if taint['key'] not in (UNINITIALIZED_TAINT['key'], UNREACHABLE_TAINTS[0]['key'])]
        items = (node.get('status') or {}).get('conditions') or []
        registered = self._registered.setdefault(key, now)
        network_up = now - registered >= self.timing.delay(CNI_SECONDS) and not self.faults.active('node-taint-stuck')
        if network_up and not self.faults.active('node-taint-left'):
            taints = [taint for taint in taints if taint['key'] != CILIUM_TAINT['key']]
        elif not any(taint['key'] == CILIUM_TAINT['key'] for taint in taints):
            taints.append(dict(CILIUM_TAINT))
        silent_since = self._silent.get(key)
        if silent_since is not None and now - silent_since >= self.timing.delay(GRACE_SECONDS):
            ready = ('Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.')
            taints += [dict(taint) for taint in UNREACHABLE_TAINTS]
        elif silent_since is not None:
            return      # within the grace period nothing changes yet
        elif network_up:
            ready = ('True', 'KubeletReady', 'kubelet is posting ready status')
        else:
            ready = ('False', 'KubeletNotReady', NETWORK_NOT_READY)
        items = with_node_condition(items, *ready)
        if taints != ((node.get('spec') or {}).get('taints') or []):
            # An empty list is left out, as the API server's JSON leaves it.
            node = self.tenant.patch(nodes, node['metadata']['name'], {'spec': {'taints': taints or None}}, 'merge')
        if items != (node.get('status') or {}).get('conditions'):
            self.tenant.patch(nodes, node['metadata']['name'], {'status': {'conditions': items}}, 'merge',
                              subresource='status')

    def _renew_lease(self, node):
        leases = rtype(self.tenant, LEASE)
        name = node['metadata']['name']
        spec = {'holderIdentity': name, 'leaseDurationSeconds': 40, 'renewTime': conditions.micro_now()}
        if find(self.tenant, leases, name, 'kube-node-lease') is None:
            self.tenant.create(leases, {'metadata': {'name': name, 'namespace': 'kube-node-lease',
                                                     'ownerReferences': [owner_reference(node, controller=False)]},
                                        'spec': spec})
        else:
            self.tenant.patch(leases, name, {'spec': spec}, 'merge', 'kube-node-lease')


def node_info(provider_id, version):
    return {'machineID': secrets.token_hex(16), 'systemUUID': provider_id.replace('proxmox://', ''),
            'bootID': str(uuid.uuid4()), 'kernelVersion': KERNEL, 'osImage': OS_IMAGE,
            'containerRuntimeVersion': RUNTIME, 'kubeletVersion': version, 'kubeProxyVersion': version,
            'operatingSystem': 'linux', 'architecture': 'amd64'}


def with_node_condition(items, status, reason, message):
    """A Node's conditions with Ready set; its lastTransitionTime changes with its status."""
    now = conditions.now()
    updated = []
    for item in items:
        if item['type'] == 'Ready' and (item['status'], item.get('reason')) != (status, reason):
            transition = now if item['status'] != status else item.get('lastTransitionTime', now)
            item = dict(item, status=status, reason=reason, message=message, lastHeartbeatTime=now,
                        lastTransitionTime=transition)
        updated.append(item)
    return updated
