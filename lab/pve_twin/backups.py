"""VmBackups: vzdump backups of VMs and their restore, with what the guest wrote on its disks.

A guest's files (written and read through the guest agent's file-write and file-read) live on its boot disk's
volume record, so they go where the disk goes: a backup carries them, a restore puts them on the new disk, a
destroyed disk takes them with it. `POST /nodes/{node}/vzdump` writes `backup/vzdump-qemu-<vmid>-<time>.vma.zst`
on the storage named (it must carry content backup); `POST /nodes/{node}/qemu` with `archive` restores it into a
new VM whose disks go on `storage`. The faults backup-storage-missing (in twin._sync_storage) and
restore-data-lost are read here.
"""

import base64
import copy
import re
import time

from fakepve.lxc import format_size, parse_size
from fakepve.model import FakeVm, PveError, TaskError
from fakepve.qemu import drives_of, join_drive, volume_ref, with_mac
from fakepve.routing import die, split_list

BACKUP_SECONDS = 30        # Proxmox seconds a vzdump of a small test VM takes
RESTORE_SECONDS = 20
BACKUP_FORMAT = 'vma.zst'
CLOUDINIT = re.compile(r'vm-\d+-cloudinit')


def boot_drive(config):
    """(key, volume) of the disk the guest boots from: the first disk of `boot: order=...`, else the first disk."""
    disks = dict((key, volume) for key, volume, _props in drives_of(config, skip_cdrom=True)
                 if not CLOUDINIT.search(volume))
    order = str(config.get('boot', '')).partition('order=')[2].split(',')[0]
    for key in split_list(order.replace(';', ',')) + sorted(disks):
        if key in disks:
            return key, disks[key]
    return None, None


def archive_name(vmid, when):
    return 'backup/vzdump-qemu-{0}-{1}.{2}'.format(vmid, time.strftime('%Y_%m_%d-%H_%M_%S', time.gmtime(when)),
                                                    BACKUP_FORMAT)


def expand_notes(template, vm, cluster):
    values = {'guestname': vm.name, 'vmid': str(vm.vmid), 'node': vm.node, 'cluster': cluster}
    return re.sub(r'\{\{(\w+)\}\}', lambda found: values.get(found.group(1), found.group(0)), template)


class VmBackups(object):
    """Mixin of PveTwin, before VmLifecycle in its bases."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._archives = {}         # backup volid -> what the archive holds: config, guest files

    def _routes_backups(self):
        return [('POST', '/nodes/{node}/vzdump', self._vzdump)]

    # ------------------------------------------------------------ guest files

    def guest_files(self, vm):
        """path -> text of what the guest wrote on its boot disk ({} for a disk the API did not allocate)."""
        record = self._disk_record(vm)
        return record.setdefault('guest_files', {}) if record is not None else {}

    def _disk_record(self, vm):
        volume = boot_drive(vm.config)[1]
        if volume is None:
            return None
        sid, name = volume_ref(volume)
        return self.storages.get(sid, {}).get('volumes', {}).get(name)

    def _guest_agent(self, vm):
        state = super()._guest_agent(vm)
        return dict(state, files=self.guest_files(vm)) if state is not None else None

    async def _agent_call(self, match, values):
        answer = await super()._agent_call(match, values)
        if match.template.endswith('/file-write'):
            vm = self.find(values['node'], values['vmid'])
            content = str(values['content'])
            encoded = values.get('encode') in (0, '0', False)
            self.guest_files(vm)[values['file']] = base64.b64decode(content).decode() if encoded else content
        return answer

    # ----------------------------------------------------------------- vzdump

    async def _vzdump(self, v, user):
        """One VM (vmid) to one storage; PVE checks VM.Backup on the guest and space on the storage."""
        node, sid = v['node'], v.get('storage') or 'local'
        vmids = [int(vmid) for vmid in split_list(v.get('vmid'))]
        if len(vmids) != 1:
            raise die('the lab backs up one VM per request (vmid); got {0!r}'.format(v.get('vmid')))
        vm = self.find(node, vmids[0])
        self.require(user, '/vms/{0}'.format(vm.vmid), 'VM.Backup')
        self.require(user, '/storage/' + sid, 'Datastore.AllocateSpace')

        async def body():
            store = self.storages.get(sid)
            if store is None:
                raise TaskError("storage '{0}' does not exist".format(sid))
            if 'backup' not in split_list(store.get('content')):
                raise TaskError("can't use storage '{0}' for backups - wrong content type".format(sid))
            self._qm_lock(vm, 'backup')
            try:
                await self.pause(BACKUP_SECONDS)
            finally:
                self._qm_lock(vm, None)
            self._write_archive(vm, sid, v.get('notes-template'))
        return await self.task(node, 'vzdump', vm.vmid, user, body, vm=vm, lock=False)

    def _write_archive(self, vm, sid, notes_template):
        when = time.time()
        volname = archive_name(vm.vmid, when)
        size = sum(parse_size(props.get('size', '0')) or 0 for _key, _volume, props in drives_of(vm.config))
        record = {'content': 'backup', 'format': BACKUP_FORMAT, 'size': max(size // 8, 1), 'vmid': vm.vmid,
                  'ctime': int(when)}
        if notes_template:
            record['notes'] = expand_notes(notes_template, vm, self.cluster_name)
        self.storages[sid].setdefault('volumes', {})[volname] = record
        self._archives['{0}:{1}'.format(sid, volname)] = {'config': dict(vm.config),
                                                           'files': copy.deepcopy(self.guest_files(vm))}

    # ---------------------------------------------------------------- restore

    async def _qm_create(self, v, user):
        if not v.get('archive'):
            return await super()._qm_create(v, user)
        node, vmid, archive = v['node'], int(v['vmid']), str(v['archive'])
        self.need_quorum()
        self.require(user, '/vms/{0}'.format(vmid), 'VM.Allocate')
        sid = volume_ref(archive)[0]
        if sid is None or sid not in self.storages:
            raise die("unable to parse volume ID '{0}'".format(archive))
        self.require(user, '/storage/' + sid, 'Datastore.AllocateSpace')
        if v.get('storage'):
            self._qm_image_store(v['storage'], user)
        if self._qm_taken(vmid):
            raise die('unable to restore VM {0} - VM {0} already exists on node \'{1}\''.format(
                vmid, (self.vm(vmid) or self.guest(vmid)).node))
        vm = FakeVm(vmid, 'VM {0}'.format(vmid), node=node)
        self._qm_lock(vm, 'create')
        self.vms.append(vm)

        async def body():
            try:
                await self.pause(RESTORE_SECONDS)
                await self._restore(vm, archive, v.get('storage'), bool(v.get('unique')))
            except (PveError, TaskError) as err:
                self.vms.remove(vm)
                raise TaskError(getattr(err, 'message', str(err))) from err
            finally:
                self._qm_lock(vm, None)
        return await self.task(node, 'qmrestore', vmid, user, body, vm=vm, lock=False)

    async def _restore(self, vm, archive, storage, unique):
        """qmrestore: the archived config with its disks allocated anew (on `storage` if given), a fresh cloud-init
        drive, new MAC addresses if `unique`, and the guest's files on the new boot disk."""
        held = self._archives.get(archive)
        sid, volname = volume_ref(archive)
        if held is None or volname not in self.storages[sid].get('volumes', {}):
            raise TaskError("can't find archive file '{0}'".format(archive))
        config = dict(held['config'])
        for key, volume, props in drives_of(config, skip_cdrom=True):
            if not CLOUDINIT.search(volume):
                size = parse_size(props.get('size', '0')) or 0
                volid, _fmt = self._qm_alloc(storage or volume_ref(volume)[0], vm.vmid, None, size)
                config[key] = join_drive(volid, dict(props, size=format_size(size)))
        if unique:
            config.update((key, with_mac(value, fresh=True)) for key, value in config.items()
                          if re.fullmatch(r'net\d+', key))
        vm.config = dict(config, lock='create')
        vm.name = config.get('name', vm.name)
        await self._fresh_cloudinit(vm, storage)
        if not self.fault('restore-data-lost'):
            self.guest_files(vm).update(copy.deepcopy(held['files']))
