"""The healthy lab cluster: every name, size, load figure and privilege the twin starts with.

Change the lab here; the rest of the twin reads these values and holds no seed data of its own.
"""

from dataclasses import dataclass, field

GiB = 1024 ** 3
TiB = 1024 ** 4

CLUSTER_NAME = 'proxqa-lab'
PVE_VERSION = '9.0.10'
PVE_RELEASE = '9.0'
PVE_REPOID = '1b4e3a0f7c2d9e85'
KERNEL = '6.14.11-2-pve'
KERNEL_BUILD = '#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)'
CPU_MODEL = 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz'
LINK_SPEED_MBIT = 10000


@dataclass(frozen=True)
class Load:
    """What a node is busy with: fractions of its CPUs, of its memory, and of its link (each direction)."""
    cpu: float
    memory: float
    network: float


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    load: Load
    uptime_days: float
    cores: int = 16
    memory: int = 64 * GiB
    swap: int = 8 * GiB
    rootfs: int = 96 * GiB
    rootfs_used: float = 0.11


NODES = (
    Node('pve1', '192.0.2.11', Load(cpu=0.11, memory=0.36, network=0.05), uptime_days=41.3),
    Node('pve2', '192.0.2.12', Load(cpu=0.09, memory=0.34, network=0.04), uptime_days=41.1),
    Node('pve3', '192.0.2.13', Load(cpu=0.10, memory=0.35, network=0.06), uptime_days=12.7),
)
GATEWAY = '192.0.2.1'
PREFIX_LENGTH = 24

# The VM bridge on every node, and the physical port under it.
BRIDGE = 'vmbr0'
BRIDGE_PORT = 'eno1'
BRIDGE_VIDS = '2-4094'

SDN_ZONE = {'zone': 'tenants', 'type': 'vlan', 'bridge': BRIDGE, 'ipam': 'pve'}
# One vnet per tenant, each with its own VLAN tag.
TENANT_VNETS = (
    {'vnet': 'tenanta', 'zone': 'tenants', 'tag': 101},
    {'vnet': 'tenantb', 'zone': 'tenants', 'tag': 102},
)


@dataclass(frozen=True)
class Storage:
    name: str
    options: dict      # storage.cfg options, as GET /storage shows them
    total: int         # bytes
    used: float        # fraction of total in use at start


DISK_STORAGE = 'local-lvm'
ISO_STORAGE = 'local'
STORAGES = (
    Storage(DISK_STORAGE, {'type': 'lvmthin', 'content': 'images,rootdir', 'vgname': 'pve', 'thinpool': 'data'},
            total=2 * TiB, used=0.20),
    Storage(ISO_STORAGE, {'type': 'dir', 'content': 'iso,vztmpl,backup', 'path': '/var/lib/vz'},
            total=200 * GiB, used=0.14),
)


@dataclass(frozen=True)
class Template:
    vmid: int
    name: str
    node: str
    config: dict


TEMPLATE = Template(9000, 'ubuntu-2404-cloudinit', 'pve1', {
    'name': 'ubuntu-2404-cloudinit',
    'template': 1,
    'ostype': 'l26',
    'cpu': 'x86-64-v2-AES',
    'sockets': 1,
    'cores': 2,
    'memory': '2048',
    'agent': '1',
    'scsihw': 'virtio-scsi-single',
    'scsi0': '{0}:base-9000-disk-0,iothread=1,size=20G'.format(DISK_STORAGE),
    'ide2': '{0}:vm-9000-cloudinit,media=cdrom'.format(DISK_STORAGE),
    'boot': 'order=scsi0',
    'net0': 'virtio=BC:24:11:5E:90:00,bridge={0}'.format(BRIDGE),
    'serial0': 'socket',
    'vga': 'serial0',
    'ipconfig0': 'ip=dhcp',
    'smbios1': 'uuid=6f1c2a4e-9b0d-4c1e-8a52-3d7e9f000900',
})
# Config keys the template faults take away or change.
TEMPLATE_DISK = 'scsi0'
TEMPLATE_CLOUDINIT = 'ide2'

AUDIT = ('Sys.Audit', 'VM.Audit', 'Datastore.Audit', 'SDN.Audit', 'Pool.Audit')
CAPMOX_VM = ('VM.Allocate', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.HWType',
             'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.Audit',
             'VM.GuestAgent.Audit')
DATASTORE_ADMIN = ('Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit')


@dataclass(frozen=True)
class Identity:
    """A login of the lab. `role` is the name the launcher gives its secret under; tokens are
    privilege-separated, so `acl` is all a token holds."""
    role: str
    userid: str
    token: str = ''    # the token name after '!', empty for a password login
    acl: tuple = field(default=())

    @property
    def id(self):
        """user@realm, or user@realm!token for a token."""
        return '{0}!{1}'.format(self.userid, self.token) if self.token else self.userid


IDENTITIES = (
    Identity('user', 'qa@pve', acl=(('/', AUDIT),)),
    Identity('suite', 'qa@pve', 'suite', acl=(('/', AUDIT),)),
    Identity('capmox', 'capmox@pve', 'capi', acl=(
        ('/', ('Sys.Audit',)),
        ('/nodes', ('Sys.Audit',)),
        ('/vms', CAPMOX_VM),
        ('/vms/{0}'.format(TEMPLATE.vmid), ('VM.Clone', 'VM.Audit')),
        ('/sdn/zones/localnetwork/{0}'.format(BRIDGE), ('SDN.Use',)),
        ('/storage/{0}'.format(ISO_STORAGE), DATASTORE_ADMIN),
        ('/storage/{0}'.format(DISK_STORAGE), ('Datastore.AllocateSpace',)),
    )),
    Identity('csi', 'csi@pve', 'csi', acl=(
        ('/', ('VM.Audit', 'VM.Config.Disk', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit')),
    )),
    Identity('ccm', 'ccm@pve', 'ccm', acl=(('/', ('VM.Audit', 'VM.GuestAgent.Audit', 'Sys.Audit')),)),
)
