"""The healthy lab clusters: every name, size, load figure and privilege a twin starts with.

A seed is data: two instances of one structure. `standard` is the cluster the suite's docs describe;
`alt` differs in every name the suite reads (nodes, bridge, storages, template, vnets, logins), so a
run against it shows that the suite takes those names from its settings and never assumes them.
`large` (16 nodes, 2000 running VMs) is for the benchmarks of how many API calls the suite makes.
Change the lab here; the rest of the twin reads these values and holds no seed data of its own.
"""

import dataclasses
from dataclasses import dataclass

GiB = 1024 ** 3
TiB = 1024 ** 4

PVE_VERSION = '9.0.10'
PVE_RELEASE = '9.0'
PVE_REPOID = '1b4e3a0f7c2d9e85'
KERNEL = '6.14.11-2-pve'
KERNEL_BUILD = '#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)'
CPU_MODEL = 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz'
BRIDGE_VIDS = '2-4094'
# Config keys of the template that the template faults take away.
TEMPLATE_DISK = 'scsi0'
TEMPLATE_CLOUDINIT = 'ide2'

AUDIT = ('Sys.Audit', 'VM.Audit', 'Datastore.Audit', 'SDN.Audit', 'Pool.Audit')
CAPMOX_VM = ('VM.Allocate', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.HWType',
             'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.Audit',
             'VM.GuestAgent.Audit')
DATASTORE_ADMIN = ('Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit')
MANAGEMENT_VM_CORES = 16
MANAGEMENT_VM_MEMORY_MIB = 65536
MANAGEMENT_VM_DISK_GIB = 64
CSI_ROOT = ('VM.Audit', 'VM.Config.Disk', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit')
CCM_ROOT = ('VM.Audit', 'VM.GuestAgent.Audit', 'Sys.Audit')
# What the suite's backup drill (S8.7) needs on its own test VMs: clone, boot, write a file through the agent,
# back up, restore, read the file back, destroy.
BACKUP_VM = ('VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.Cloudinit',
             'VM.Config.Disk', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.GuestAgent.Audit',
             'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileWrite')


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


@dataclass(frozen=True)
class Storage:
    name: str
    options: dict      # storage.cfg options, as GET /storage shows them
    total: int         # bytes
    used: float        # fraction of total in use at start


@dataclass(frozen=True)
class Template:
    vmid: int
    name: str
    node: str
    disk_gib: int
    mac: str
    smbios_uuid: str


@dataclass(frozen=True)
class GuestVm:
    """A running VM of the lab at start: a node of the CozyStack management cluster (srv1..srv3, the names
    lab.cluster gives its Nodes), with a static address so it takes no lease from the DHCP range."""
    vmid: int
    name: str
    node: str
    mac: str
    smbios_uuid: str
    address: str


@dataclass(frozen=True)
class Identity:
    """A login of the lab. `role` is the name the launcher gives its secret under; tokens are
    privilege-separated, so `acl` is all a token holds."""
    role: str
    userid: str
    token: str         # the token name after '!', empty for a password login
    acl: tuple         # (path, privileges) rows

    @property
    def id(self):
        """user@realm, or user@realm!token for a token."""
        return '{0}!{1}'.format(self.userid, self.token) if self.token else self.userid


@dataclass(frozen=True)
class Seed:
    name: str
    cluster_name: str
    nodes: tuple             # Node
    gateway: str
    prefix_length: int
    bridge: str              # the VLAN-aware VM bridge on every node
    bridge_port: str         # the physical port under it
    link_speed_mbit: int
    sdn_zone: str            # a VLAN zone on the bridge
    vnets: tuple             # (vnet, VLAN tag) per tenant
    disk_storage: Storage    # VM disks
    iso_storage: Storage     # ISOs (the cloud-init ISOs CAPMOX uploads) and backups
    template: Template
    management_vms: tuple    # GuestVm: the CozyStack management cluster's nodes, running
    logins: dict             # role -> (userid, token name or '' for the password login)
    dhcp_range: tuple        # (first, last) IPv4 the lab's DHCP leases to guests without a static ipconfig0

    @property
    def storages(self):
        return (self.disk_storage, self.iso_storage)

    def zone_config(self):
        return {'zone': self.sdn_zone, 'type': 'vlan', 'bridge': self.bridge, 'ipam': 'pve'}

    def vnet_configs(self):
        return tuple({'vnet': vnet, 'zone': self.sdn_zone, 'tag': tag} for vnet, tag in self.vnets)

    def template_config(self):
        """The template VM's config, as GET .../config shows it."""
        t, disk = self.template, self.disk_storage.name
        return {
            'name': t.name,
            'template': 1,
            'ostype': 'l26',
            'cpu': 'x86-64-v2-AES',
            'sockets': 1,
            'cores': 2,
            'memory': '2048',
            'agent': '1',
            'scsihw': 'virtio-scsi-single',
            TEMPLATE_DISK: '{0}:base-{1}-disk-0,iothread=1,size={2}G'.format(disk, t.vmid, t.disk_gib),
            TEMPLATE_CLOUDINIT: '{0}:vm-{1}-cloudinit,media=cdrom'.format(disk, t.vmid),
            'boot': 'order=' + TEMPLATE_DISK,
            'net0': 'virtio={0},bridge={1}'.format(t.mac, self.bridge),
            'serial0': 'socket',
            'vga': 'serial0',
            'ipconfig0': 'ip=dhcp',
            'smbios1': 'uuid=' + t.smbios_uuid,
        }

    def management_vm_config(self, vm):
        """A management node VM's config (Talos on a virtio-scsi-single controller, so the CSI can hotplug
        scsiN disks), as GET .../config shows it."""
        return {
            'name': vm.name,
            'ostype': 'l26',
            'cpu': 'host',
            'sockets': 1,
            'cores': MANAGEMENT_VM_CORES,
            'memory': str(MANAGEMENT_VM_MEMORY_MIB),
            'agent': '1',
            'onboot': 1,
            'scsihw': 'virtio-scsi-single',
            'scsi0': '{0}:vm-{1}-disk-0,iothread=1,size={2}G'.format(self.disk_storage.name, vm.vmid,
                                                                      MANAGEMENT_VM_DISK_GIB),
            'boot': 'order=scsi0',
            'net0': 'virtio={0},bridge={1}'.format(vm.mac, self.bridge),
            'ipconfig0': 'ip={0}/{1},gw={2}'.format(vm.address, self.prefix_length, self.gateway),
            'smbios1': 'uuid=' + vm.smbios_uuid,
            'tags': 'cozystack',
        }

    @property
    def identities(self):
        """The logins with the least-privilege rows of STAGES.md, on this seed's paths."""
        rows = {
            'user': (('/', AUDIT),),
            'suite': (('/', AUDIT),),
            'capmox': (
                ('/', ('Sys.Audit',)),
                ('/nodes', ('Sys.Audit',)),
                ('/vms', CAPMOX_VM),
                ('/vms/{0}'.format(self.template.vmid), ('VM.Clone', 'VM.Audit')),
                ('/sdn/zones/localnetwork/{0}'.format(self.bridge), ('SDN.Use',)),
                ('/storage/{0}'.format(self.iso_storage.name), DATASTORE_ADMIN),
                ('/storage/{0}'.format(self.disk_storage.name), ('Datastore.AllocateSpace',)),
            ),
            'csi': (('/', CSI_ROOT),),
            'ccm': (('/', CCM_ROOT),),
            'backup': (
                ('/vms', BACKUP_VM),
                ('/sdn/zones/localnetwork/{0}'.format(self.bridge), ('SDN.Use',)),
                ('/storage/{0}'.format(self.disk_storage.name), ('Datastore.AllocateSpace', 'Datastore.Audit')),
                ('/storage/{0}'.format(self.iso_storage.name), ('Datastore.AllocateSpace', 'Datastore.Audit')),
            ),
        }
        return tuple(Identity(role, userid, token, rows[role]) for role, (userid, token) in self.logins.items())


STANDARD = Seed(
    name='standard',
    cluster_name='proxqa-lab',
    nodes=(
        Node('pve1', '192.0.2.11', Load(cpu=0.11, memory=0.36, network=0.05), uptime_days=41.3),
        Node('pve2', '192.0.2.12', Load(cpu=0.09, memory=0.34, network=0.04), uptime_days=41.1),
        Node('pve3', '192.0.2.13', Load(cpu=0.10, memory=0.35, network=0.06), uptime_days=12.7),
    ),
    gateway='192.0.2.1',
    prefix_length=24,
    bridge='vmbr0',
    bridge_port='eno1',
    link_speed_mbit=10000,
    sdn_zone='tenants',
    vnets=(('tenanta', 101), ('tenantb', 102)),
    disk_storage=Storage('local-lvm', {'type': 'lvmthin', 'content': 'images,rootdir', 'vgname': 'pve',
                                       'thinpool': 'data'}, total=2 * TiB, used=0.20),
    iso_storage=Storage('local', {'type': 'dir', 'content': 'iso,vztmpl,backup', 'path': '/var/lib/vz'},
                        total=200 * GiB, used=0.14),
    template=Template(9000, 'ubuntu-2404-cloudinit', 'pve1', disk_gib=20, mac='BC:24:11:5E:90:00',
                      smbios_uuid='6f1c2a4e-9b0d-4c1e-8a52-3d7e9f000900'),
    management_vms=(
        GuestVm(101, 'srv1', 'pve1', 'BC:24:11:C0:01:01', '1d7a5c3e-2b4f-4e61-9a0c-5f3e8b000101', '192.0.2.21'),
        GuestVm(102, 'srv2', 'pve2', 'BC:24:11:C0:01:02', '1d7a5c3e-2b4f-4e61-9a0c-5f3e8b000102', '192.0.2.22'),
        GuestVm(103, 'srv3', 'pve3', 'BC:24:11:C0:01:03', '1d7a5c3e-2b4f-4e61-9a0c-5f3e8b000103', '192.0.2.23'),
    ),
    logins={'user': ('qa@pve', ''), 'suite': ('qa@pve', 'suite'), 'capmox': ('capmox@pve', 'capi'),
            'csi': ('csi@pve', 'csi'), 'ccm': ('ccm@pve', 'ccm'), 'backup': ('qa@pve', 'backup')},
    dhcp_range=('192.0.2.100', '192.0.2.199'),
)

ALT = Seed(
    name='alt',
    cluster_name='acme-edge',
    nodes=(
        Node('hv-a', '198.51.100.21', Load(cpu=0.14, memory=0.41, network=0.07), uptime_days=88.0, cores=32,
             memory=128 * GiB, rootfs=128 * GiB),
        Node('hv-b', '198.51.100.22', Load(cpu=0.12, memory=0.38, network=0.06), uptime_days=87.6, cores=24,
             memory=96 * GiB, rootfs=128 * GiB),
    ),
    gateway='198.51.100.1',
    prefix_length=24,
    bridge='vmbr7',
    bridge_port='enp65s0f0',
    link_speed_mbit=25000,
    sdn_zone='tn',
    vnets=(('blue', 301), ('green', 302)),
    disk_storage=Storage('ceph-vm', {'type': 'rbd', 'content': 'images,rootdir', 'pool': 'vm', 'krbd': 0,
                                     'shared': 1}, total=8 * TiB, used=0.31),
    iso_storage=Storage('cephfs-iso', {'type': 'cephfs', 'content': 'iso,snippets,backup',
                                       'path': '/mnt/pve/cephfs-iso', 'fs-name': 'cephfs', 'shared': 1},
                        total=1 * TiB, used=0.08),
    template=Template(8100, 'debian-12-genericcloud', 'hv-b', disk_gib=8, mac='BC:24:11:81:00:00',
                      smbios_uuid='0d5e8a61-3c2f-4b7a-9e14-5a6b7c008100'),
    management_vms=(
        GuestVm(211, 'srv1', 'hv-a', 'BC:24:11:C2:11:01', '7c2e9b14-6a3d-4f85-b1e0-2d4c6e000211', '198.51.100.31'),
        GuestVm(212, 'srv2', 'hv-b', 'BC:24:11:C2:11:02', '7c2e9b14-6a3d-4f85-b1e0-2d4c6e000212', '198.51.100.32'),
        GuestVm(213, 'srv3', 'hv-a', 'BC:24:11:C2:11:03', '7c2e9b14-6a3d-4f85-b1e0-2d4c6e000213', '198.51.100.33'),
    ),
    logins={'user': ('acceptance@pve', ''), 'suite': ('acceptance@pve', 'ci'), 'capmox': ('capi@pve', 'capmox'),
            'csi': ('pvecsi@pve', 'plugin'), 'ccm': ('pveccm@pve', 'ccm'), 'backup': ('acceptance@pve', 'drill')},
    dhcp_range=('198.51.100.150', '198.51.100.199'),
)



def large_seed(node_count=16, vm_count=2000):
    """A big cluster for the benchmarks of the suite's API economy: node_count nodes and vm_count running VMs
    (the management nodes srv1..srv3 among them, the rest spread over the nodes in turn), on one /20."""
    nodes = tuple(Node('pve{0:02d}'.format(index), '10.40.0.{0}'.format(10 + index),
                       Load(cpu=0.08 + 0.01 * (index % 5), memory=0.30 + 0.01 * (index % 7), network=0.04),
                       uptime_days=30.0 + index) for index in range(1, node_count + 1))

    def guest(index, name):
        """The index-th VM (0-based): VMID 1000 + index, on node index mod node_count, address 10.40.1.0 + index."""
        node = nodes[index % node_count].name
        address = '10.40.{0}.{1}'.format(1 + index // 256, index % 256)
        return GuestVm(1000 + index, name, node, 'BC:24:11:D0:{0:02X}:{1:02X}'.format(index // 256, index % 256),
                       '3b9e6f2a-5c1d-4a7e-8f30-{0:012x}'.format(index), address)

    management = tuple(guest(index, 'srv{0}'.format(index + 1)) for index in range(3))
    others = tuple(guest(index, 'guest-{0:04d}'.format(index)) for index in range(3, vm_count))
    # The standard seed's bridge, SDN, node-local storages and logins; its own nodes, network, template and guests.
    return dataclasses.replace(
        STANDARD,
        name='large',
        cluster_name='proxqa-large',
        nodes=nodes,
        gateway='10.40.0.1',
        prefix_length=20,
        link_speed_mbit=25000,
        template=Template(9000, 'ubuntu-2404-cloudinit', nodes[0].name, disk_gib=20, mac='BC:24:11:5E:90:00',
                          smbios_uuid='6f1c2a4e-9b0d-4c1e-8a52-3d7e9f000900'),
        management_vms=management + others,
        dhcp_range=('10.40.15.100', '10.40.15.199'),
    )


LARGE = large_seed()

SEEDS = dict((seed.name, seed) for seed in (STANDARD, ALT, LARGE))
