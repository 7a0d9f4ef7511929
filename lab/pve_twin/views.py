"""What a node's status, RRD history and network interfaces, and a guest agent's interfaces, look like in
PVE 9's answers.

Pure functions of a seed node and its current load, or of a guest's MAC and address; PveTwin decides the
load and the address (faults included).
"""

import ipaddress
import time

from . import seed

# The span of each RRD timeframe, in seconds; every timeframe answers POINTS points.
TIMEFRAMES = {'hour': 3600, 'day': 86400, 'week': 7 * 86400, 'month': 30 * 86400, 'year': 365 * 86400,
              'decade': 3650 * 86400}
POINTS = 60


def memory_used(node, load):
    return int(node.memory * load.memory)


def rootfs_used(node):
    return int(node.rootfs * node.rootfs_used)


def uptime(node, booted):
    """Seconds since the node booted; `booted` is when the twin started, the node booted uptime_days earlier."""
    return int(time.time() - booted + node.uptime_days * 86400)


def loadavg(node, load):
    return ['{0:.2f}'.format(node.cores * load.cpu * factor) for factor in (1.0, 0.96, 0.93)]


def status(node, load, booted, version):
    """GET /nodes/{node}/status."""
    used = memory_used(node, load)
    root = rootfs_used(node)
    return {
        'cpu': load.cpu,
        'wait': 0.0011,
        'idle': 0,
        'cpuinfo': {'model': seed.CPU_MODEL, 'sockets': 1, 'cores': node.cores, 'cpus': node.cores,
                    'mhz': '2400.000', 'hvm': '1', 'user_hz': 100, 'flags': 'fpu vme de pse tsc msr pae mce'},
        'loadavg': loadavg(node, load),
        'memory': {'total': node.memory, 'used': used, 'free': node.memory - used, 'available': node.memory - used},
        'swap': {'total': node.swap, 'used': 0, 'free': node.swap},
        'rootfs': {'total': node.rootfs, 'used': root, 'free': node.rootfs - root, 'avail': node.rootfs - root},
        'ksm': {'shared': 0},
        'uptime': uptime(node, booted),
        'pveversion': 'pve-manager/{0}/{1}'.format(version, seed.PVE_REPOID),
        'kversion': 'Linux {0} {1}'.format(seed.KERNEL, seed.KERNEL_BUILD),
        'current-kernel': {'sysname': 'Linux', 'release': seed.KERNEL, 'version': seed.KERNEL_BUILD,
                           'machine': 'x86_64'},
        'boot-info': {'mode': 'efi', 'secureboot': 0},
    }


def summary(node, load, booted):
    """The usage fields /nodes and /cluster/resources give an online node; they agree with status()."""
    return {'cpu': load.cpu, 'maxcpu': node.cores, 'mem': memory_used(node, load), 'maxmem': node.memory,
            'disk': rootfs_used(node), 'maxdisk': node.rootfs, 'uptime': uptime(node, booted)}


def _wobble(index, depth):
    """A repeatable dip below 1.0, so a history is not flat; never above 1, so a figure is its own peak."""
    return 1.0 - depth * ((index * 7) % 5) / 4


def rrd_points(node, load, timeframe, cf, link_mbit):
    """GET /nodes/{node}/rrddata: POINTS points, oldest first, network in bytes per second of a link_mbit link.

    MAX answers the peak of each step (the load itself); AVERAGE a little below it.
    """
    step = TIMEFRAMES[timeframe] // POINTS
    last = int(time.time()) // step * step
    dip = 0.1 if cf == 'AVERAGE' else 0.0
    net = link_mbit * 1000 * 1000 // 8 * load.network
    points = []
    for i in range(POINTS):
        busy = _wobble(i, dip)
        points.append({
            'time': last - (POINTS - 1 - i) * step,
            'cpu': round(load.cpu * busy, 4),
            'maxcpu': node.cores,
            'iowait': 0.0011,
            'loadavg': round(node.cores * load.cpu * busy, 2),
            'memtotal': node.memory,
            'memused': int(memory_used(node, load) * _wobble(i, dip / 4)),
            'memavailable': node.memory - memory_used(node, load),
            'swaptotal': node.swap,
            'swapused': 0,
            'roottotal': node.rootfs,
            'rootused': rootfs_used(node),
            'netin': round(net * _wobble(i, dip), 1),
            'netout': round(net * _wobble(i + 2, dip), 1),
        })
    return points


def interfaces(cluster, node, bridge):
    """GET /nodes/{node}/network: the physical port and, unless `bridge` is None, the VM bridge.

    cluster: the seed.Seed; bridge: None (missing), or {'active': bool, 'vlan_aware': bool}.
    """
    port = {'iface': cluster.bridge_port, 'type': 'eth', 'method': 'manual', 'method6': 'manual',
            'families': ['inet'], 'priority': 3, 'active': 1, 'exists': 1}
    if bridge is None:
        return [port]
    item = {'iface': cluster.bridge, 'type': 'bridge', 'method': 'static', 'method6': 'manual', 'families': ['inet'],
            'priority': 4, 'autostart': 1, 'address': node.address, 'netmask': str(cluster.prefix_length),
            'cidr': '{0}/{1}'.format(node.address, cluster.prefix_length), 'gateway': cluster.gateway,
            'bridge_ports': cluster.bridge_port, 'bridge_stp': 'off', 'bridge_fd': '0'}
    # PVE leaves keys out rather than sending 0: a down bridge has no `active`, a plain one no `bridge_vlan_aware`.
    if bridge['active']:
        item['active'] = 1
    if bridge['vlan_aware']:
        item.update(bridge_vlan_aware=1, bridge_vids=seed.BRIDGE_VIDS)
    return [port, item]


def link_local(mac):
    """The IPv6 link-local address a guest derives from its MAC (modified EUI-64)."""
    octets = [int(part, 16) for part in mac.split(':')]
    octets[0] ^= 0x02
    eui64 = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui64)))


def guest_interfaces(mac, ipv4=None):
    """The guest agent's network-get-interfaces result: loopback and the first NIC, named as a cloud image
    names a virtio NIC. ipv4: (address, prefix length), or None when the guest has no IPv4 address."""
    nic = [{'ip-address-type': 'ipv4', 'ip-address': ipv4[0], 'prefix': ipv4[1]}] if ipv4 else []
    nic.append({'ip-address-type': 'ipv6', 'ip-address': link_local(mac), 'prefix': 64})
    return [
        {'name': 'lo', 'hardware-address': '00:00:00:00:00:00',
         'ip-addresses': [{'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', 'prefix': 8},
                          {'ip-address-type': 'ipv6', 'ip-address': '::1', 'prefix': 128}],
         'statistics': {'rx-bytes': 0, 'rx-packets': 0, 'tx-bytes': 0, 'tx-packets': 0}},
        {'name': 'ens18', 'hardware-address': mac.lower(), 'ip-addresses': nic,
         'statistics': {'rx-bytes': 4823, 'rx-packets': 41, 'tx-bytes': 3920, 'tx-packets': 37}},
    ]
