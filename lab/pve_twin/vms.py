"""VmLifecycle: what Cluster API (CAPMOX) and CSI controllers need from the twin beyond fakepve's VM routes.

Clone, start and boot take Proxmox seconds (FakePve.pause scales them by --time-scale; 0: at once), a
clone holds `lock: clone` until its disks are copied and gets its own cloud-init drive, disks grow with
PUT .../resize, the guest agent reports an IPv4 address once the guest booted (its static cloud-init
address, else a lease from the seed's DHCP range), and disks hotplug on running VMs. The faults
clone-fails, clone-slow, agent-no-ip and storage-lock-timeout are read here.
"""

import ipaddress
import re
import time
from dataclasses import dataclass

from fakepve.lxc import format_size, parse_size, split_props
from fakepve.model import FakeVm, PveError, TaskError
from fakepve.qemu import DRIVE_KEY, drives_of, is_cdrom, join_drive, split_drive, volume_ref
from fakepve.routing import die, param_error, split_list

from . import views

GiB = 1024 ** 3
# Proxmox seconds.
CLONE_SECONDS = 10              # a full clone, besides copying its disks
COPY_SECONDS_PER_GIB = 1        # so a full clone of a 20 GiB template takes 30 s
LINKED_CLONE_SECONDS = 3
START_SECONDS = 2               # the start task: until QEMU runs
BOOT_SECONDS = 20               # from a finished start until the guest agent answers
RESIZE_SECONDS = 2
STORAGE_LOCK_WAIT = 10          # a clone waits this long for a busy storage's lock before it gives up
CLOUDINIT_SIZE = '4M'
DEFAULT_HOTPLUG = ('network', 'disk', 'usb')
HOTPLUG_DRIVE = re.compile(r'^(scsi|virtio)\d+$')
UNUSED = re.compile(r'^unused\d+$')
SIZE_CHANGE = re.compile(r'^(\+)?(\d+(?:\.\d+)?[KMGT]?)$')
OWNER = re.compile(r'(?:^|[:/])(?:vm|base)-(\d+)-')


@dataclass(frozen=True)
class CloneJob:
    full: bool
    source: FakeVm
    storage: str       # where the request put the disks; None: beside the source's


def agent_enabled(config):
    """The `agent` option is on: '1', or 'enabled=1,...' / '1,fstrim_cloned_disks=1'."""
    first, props = split_props(config.get('agent', '0'))
    return (props.get('enabled') or first or '0') == '1'


def hotplug_features(config):
    value = str(config.get('hotplug', ','.join(DEFAULT_HOTPLUG)))
    return DEFAULT_HOTPLUG if value == '1' else () if value == '0' else tuple(split_list(value))


def static_ipv4(ipconfig):
    """(address, prefix length) of a cloud-init ipconfig like 'ip=10.1.2.3/24,gw=10.1.2.1'; None for DHCP."""
    address = split_props(ipconfig or '')[1].get('ip')
    if address in (None, 'dhcp'):
        return None
    try:
        interface = ipaddress.IPv4Interface(address)
    except ValueError:
        return None  # a config the guest cannot use: it comes up without an address
    return str(interface.ip), interface.network.prefixlen


def nic_mac(config):
    """The MAC address of net0 ('virtio=BC:24:11:..,bridge=vmbr0'), or a fixed one when it has none."""
    first = str(config.get('net0', '')).split(',')[0]
    return first.partition('=')[2] or 'BC:24:11:00:00:00'


def normalized_tags(text):
    """PVE's form of a tag list: unique tags, sorted, joined by ';'."""
    unique = dict((tag.lower(), tag) for tag in re.split(r'[;, ]+', text) if tag)
    return ';'.join(unique[key] for key in sorted(unique))


def lock_timeout_message(name, store):
    """PVE's storage lock timeout: a cluster-wide lock for shared storage, a node-local file lock otherwise."""
    if store.get('shared'):
        return "cfs-lock 'storage-{0}' error: got lock request timeout".format(name)
    return "can't lock file '/var/lock/pve-manager/pve-storage-{0}' - got timeout".format(name)


class VmLifecycle(object):
    """Mixin of PveTwin, before FakePve in its bases; uses PveTwin's seed and fault()."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clone_jobs = {}       # newid -> CloneJob, from the clone request until its copy starts
        self._copying = {}          # storage -> clones copying onto it now
        self._leases = {}           # vmid -> the IPv4 address the lab's DHCP gave the guest

    def _routes_vms(self):
        return [('PUT', '/nodes/{node}/qemu/{vmid}/resize', self._qm_resize)]

    # ----------------------------------------------------------------- clone

    async def _qm_clone(self, v, user):
        """fakepve's clone; refused, as PVE refuses it, towards another node for a VM on local storage."""
        source = self.vm(int(v['vmid']))
        target = v.get('target')
        if source and target in self.nodes and target != v['node'] and not self._shared(source, v.get('storage')):
            raise die("can't clone VM to node '{0}' (VM uses local storage)".format(target))
        full, newid = v.get('full'), int(v['newid'])
        linked_by_default = bool(source and source.template)
        self._clone_jobs[newid] = CloneJob(bool(full) if full is not None else not linked_by_default, source,
                                           v.get('storage'))
        try:
            return await super()._qm_clone(v, user)
        except PveError:
            del self._clone_jobs[newid]
            raise

    def _shared(self, vm, storage):
        """PVE's check_storage_access_clone: every volume the clone reads or writes is on shared storage."""
        for _key, volume, props in drives_of(vm.config):
            sid = volume_ref(volume)[0]
            if sid is None:
                continue
            if not is_cdrom(volume, props):
                sid = storage or sid
            if not self.storages.get(sid, {}).get('shared'):
                return False
        return True

    async def ceph_io(self, vm, keys=None):
        """fakepve calls this for every disk operation. Its clone task calls it once the new VM's disks are
        allocated, while `lock: clone` still holds: the copy happens there."""
        await super().ceph_io(vm, keys)
        job = self._clone_jobs.pop(vm.vmid, None) if vm.lock == 'clone' else None
        if job:
            await self._copy_disks(vm, job)
            await self._fresh_cloudinit(vm, job.storage)

    async def _copy_disks(self, vm, job):
        disks = drives_of(vm.config, skip_cdrom=True)
        if not disks:
            return
        storages = set(volume_ref(volume)[0] for _key, volume, _props in disks)
        await self._check_storage_lock(storages)
        for sid in storages:
            self._copying[sid] = self._copying.get(sid, 0) + 1
        try:
            seconds = self._clone_seconds(job.full, disks)
            if self.fault('clone-fails'):
                await self.pause(seconds / 2)
                raise TaskError(self._copy_failed(job.source, disks))
            await self.pause(seconds)
        finally:
            for sid in storages:
                self._copying[sid] -= 1

    async def _check_storage_lock(self, storages):
        limit = self.fault('storage-lock-timeout')
        disk = self.seed.disk_storage.name
        if limit and disk in storages and self._copying.get(disk, 0) >= limit:
            await self.pause(STORAGE_LOCK_WAIT)
            raise TaskError(lock_timeout_message(disk, self.storages[disk]))

    def _clone_seconds(self, full, disks):
        slow = self.fault('clone-slow')
        if slow is not None:
            return slow
        if not full:
            return LINKED_CLONE_SECONDS
        size = sum(parse_size(props.get('size', '0')) or 0 for _key, _volume, props in disks)
        return CLONE_SECONDS + COPY_SECONDS_PER_GIB * size / GiB

    def _copy_failed(self, source, disks):
        """PVE's wording when qemu-img fails copying the first disk."""
        paths = []
        for volume in (split_drive(source.config.get(disks[0][0], ''))[0], disks[0][1]):
            sid, name = volume_ref(volume)
            paths.append(self._volume_path(sid, name, 'images') if sid in self.storages else volume)
        return "copy failed: command '/usr/bin/qemu-img convert -p -n -f raw -O raw {0} {1}' failed: exit code 1" \
            .format(*paths)

    async def _fresh_cloudinit(self, vm, storage):
        """PVE gives a clone its own cloud-init drive, vm-<newid>-cloudinit: on the clone's storage, else on
        the storage of the source's."""
        for key, volume, props in drives_of(vm.config):
            sid, name = volume_ref(volume)
            if sid in self.storages and re.search(r'vm-\d+-cloudinit', name):
                volid = await self._content_create({'storage': storage or sid, 'node': vm.node, 'vmid': vm.vmid,
                                                    'filename': 'vm-{0}-cloudinit'.format(vm.vmid),
                                                    'size': CLOUDINIT_SIZE}, 'root@pam')
                vm.config[key] = join_drive(volid, props)

    # ---------------------------------------------------------------- resize

    async def _qm_resize(self, v, user):
        """PUT .../resize: a `resize` task, which checks and grows the disk (PVE 8 and later)."""
        vm = self.find(v['node'], v['vmid'])
        if v.get('skiplock') and user != 'root@pam':
            raise param_error(skiplock='Only root may use this option.')
        change = SIZE_CHANGE.match(str(v['size']))
        if not change:
            raise param_error(size='value does not match the regex pattern')

        async def body():
            await self.pause(RESIZE_SECONDS)
            try:
                self._resize(vm, user, v, bool(change.group(1)), parse_size(change.group(2)))
            except PveError as err:
                raise TaskError(err.message) from err
        return await self.task(vm.node, 'resize', vm.vmid, user, body, vm=vm)

    def _resize(self, vm, user, v, grow, amount):
        """qemu-server's resize_vm, in its order of checks and with its messages."""
        if v.get('digest') and v['digest'] != vm.digest():
            raise die('checksum missmatch (file change by other user?)')
        if vm.lock and not v.get('skiplock'):
            raise die('VM is locked ({0})'.format(vm.lock))
        disk = v['disk']
        if disk not in vm.config:
            raise die("disk '{0}' does not exist".format(disk))
        volume, props = split_drive(vm.config[disk])
        if is_cdrom(volume, props):
            raise die("you can't resize a cdrom")
        sid, name = volume_ref(volume)
        if sid is None:
            raise die("unable to parse volume ID '{0}'".format(volume))
        self.require(user, '/storage/' + sid, 'Datastore.AllocateSpace')
        store = self._store(sid)
        size = int((self._volumes(sid).get(name) or {}).get('size') or parse_size(props.get('size', '')) or 0)
        new = size + amount if grow else amount
        if new < size:
            raise die('shrinking disks is not supported')
        if new == size:
            return
        accounted = store.get('volumes', {}).get(name)   # allocated through the API, so it counts against avail
        if accounted is not None:
            if new - size > store.get('avail', new - size):
                raise die("unable to write to storage '{0}': No space left on device".format(sid))
            if 'avail' in store:
                store['avail'] -= new - size
            accounted['size'] = new
        vm.config[disk] = join_drive(volume, dict(props, size=format_size(new)))

    # ----------------------------------------------------------- boot, agent

    async def _do_start(self, vm, user, p):
        vm.start_secs = START_SECONDS
        return await super()._do_start(vm, user, p)

    async def _agent_call(self, match, values):
        """PVE's assert_agent_available, then fakepve's answer from what the booted guest reports."""
        vm = self.find(values['node'], values['vmid'])
        if not agent_enabled(vm.config):
            raise PveError(500, 'No QEMU guest agent configured')
        if vm.status != 'running':
            raise PveError(500, 'VM {0} is not running'.format(vm.vmid))
        vm.agent = self._guest_agent(vm)
        return await super()._agent_call(match, values)

    def _guest_agent(self, vm):
        """What the guest agent reports once the guest booted; None (not running) before."""
        if time.time() < (vm.started_at or 0) + BOOT_SECONDS * self.time_scale:
            return None
        ipv4 = None if self.fault('agent-no-ip') else self._guest_ipv4(vm)
        return {'interfaces': views.guest_interfaces(nic_mac(vm.config), ipv4)}

    def _guest_ipv4(self, vm):
        """(address, prefix length): the VM's static cloud-init address, else its DHCP lease; None if none is free."""
        static = static_ipv4(vm.config.get('ipconfig0'))
        if static:
            return static
        address = self._lease(vm.vmid)
        return (address, self.seed.prefix_length) if address else None

    def _lease(self, vmid):
        """The guest's DHCP lease: kept while the VM exists; a new one gets the lowest free address."""
        live = set(vm.vmid for vm in self.vms)
        self._leases = dict((owner, address) for owner, address in self._leases.items() if owner in live)
        if vmid not in self._leases:
            first, last = (int(ipaddress.IPv4Address(end)) for end in self.seed.dhcp_range)
            taken = set(self._leases.values())
            free = (str(ipaddress.IPv4Address(n)) for n in range(first, last + 1))
            address = next((a for a in free if a not in taken), None)
            if address is None:
                return None
            self._leases[vmid] = address
        return self._leases[vmid]

    # ---------------------------------------------------------------- config

    async def _apply_config(self, vm, user, p):
        """fakepve's config change, with PVE's tag normalisation, disk hotplug on a running VM, and what
        PVE does with a removed disk: an owned one stays as unusedN, a cloud-init drive and a removed unusedN
        are freed."""
        if p.get('tags'):
            p = dict(p, tags=normalized_tags(str(p['tags'])))
        before = dict(vm.config)
        await super()._apply_config(vm, user, p)
        if vm.status == 'running':
            self._apply_at_once(vm, 'disk' in hotplug_features(vm.config))
        for key in [key for key in before if key not in vm.config]:
            self._detached(vm, key, before[key])

    @staticmethod
    def _apply_at_once(vm, hotplug_disks):
        """What PVE does not leave pending on a running VM: a removed unusedN, and with disk hotplug an added or
        removed SCSI or VirtIO disk. Other changes stay pending until the next start."""
        def now(key, value):
            hotplugged = hotplug_disks and HOTPLUG_DRIVE.match(key) and (value is None or key not in vm.config)
            return hotplugged or (UNUSED.match(key) and value is None)
        for key in [key for key, value in vm.pending.items() if now(key, value)]:
            value = vm.pending.pop(key)
            if value is None:
                vm.config.pop(key, None)
            else:
                vm.config[key] = value

    def _detached(self, vm, key, value):
        volume, props = split_drive(value)
        if UNUSED.match(key):
            self._qm_free(volume)
        elif not DRIVE_KEY.match(key) or volume_ref(volume)[0] is None:
            return
        elif re.search(r'vm-\d+-cloudinit', volume):
            self._qm_free(volume)
        elif not is_cdrom(volume, props) and OWNER.search(volume) and int(OWNER.search(volume).group(1)) == vm.vmid:
            slot = next(n for n in range(256) if 'unused{0}'.format(n) not in vm.config)
            vm.config['unused{0}'.format(slot)] = volume
