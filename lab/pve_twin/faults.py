"""The named faults of the lab: what each breaks, the value it takes, and how that value is read.

A fault only names and validates here; PveTwin applies it. `catalogue(seed)` gives the faults of a
seed: values naming a node, storage, vnet or token take that seed's names, and a fault that has a
default target defaults to the seed's own (`[VALUE]` marks a value that may be left out; the
description gives its default). `area` says which part of the twin's state the fault changes when
set or cleared (PveTwin._sync_<area>); an empty area means the twin reads the fault when it answers
and keeps no state for it.
"""

import re
from dataclasses import dataclass
from typing import Callable

from fakepve.shapes import PRIVILEGES

IDENTITY_ROLES = ('suite', 'capmox', 'csi', 'ccm')
STORAGE_LOCK_DEFAULT = 4      # clones at once on the disk storage before storage-lock-timeout bites


class FaultError(ValueError):
    """An unknown fault, or a value the fault does not take; the message says what it takes."""


@dataclass(frozen=True)
class Fault:
    name: str
    area: str
    syntax: str           # the value's format; empty when the fault takes none
    description: str      # the symptom, as a real cluster shows it
    read: Callable[[str], object]   # the given value ('' for none) -> what the twin uses

    def parse(self, value):
        """What the twin uses for this value, or FaultError naming the format."""
        try:
            return self.read(value or '')
        except FaultError as err:
            form = 'no value' if not self.syntax else self.syntax
            raise FaultError('fault {0} takes {1}: {2}'.format(self.name, form, err)) from None


# ------------------------------------------------------------------ value readers

def no_value(value):
    if value:
        raise FaultError('got {0!r}'.format(value))
    return True


def one_of(what, names, default=''):
    def read(value):
        value = value or default
        if value not in names:
            raise FaultError('{0} must be one of {1}; got {2!r}'.format(what, ', '.join(names), value))
        return value
    return read


def number(what, low, high, value, suffix=''):
    """A number in [low, high]; an optional unit suffix is allowed."""
    text = value[:-len(suffix)] if suffix and value.endswith(suffix) else value
    try:
        result = float(text)
    except ValueError:
        raise FaultError('{0} must be a number; got {1!r}'.format(what, value)) from None
    if not low <= result <= high:
        raise FaultError('{0} must be between {1:g} and {2:g}; got {3:g}'.format(what, low, high, result))
    return result


def with_percent(what, names, default_percent, default_name=''):
    """NAME[:PERCENT] -> (name, percent); the name may be left out when there is a default_name."""
    def read(value):
        name, _, percent = value.partition(':')
        return one_of(what, names, default_name)(name), number('PERCENT', 0, 100, percent) if percent \
            else default_percent
    return read


def api_path(value):
    if not value.startswith('/') or value.startswith('/api2/'):
        raise FaultError('PATH is the API path after /api2/json, like /cluster/resources; got {0!r}'.format(value))
    return value.rstrip('/') or '/'


def latency(value):
    """SECONDS or PATH:SECONDS -> (path or None, seconds)."""
    path, _, seconds = value.rpartition(':')
    return (api_path(path) if path else None), number('SECONDS', 0, 600, seconds, suffix='s')


def error_rate(value):
    """PATH:RATE -> (path, rate)."""
    path, colon, rate = value.rpartition(':')
    if not colon:
        raise FaultError('got {0!r}'.format(value))
    return api_path(path), number('RATE', 0, 1, rate)


def storage_at_node(storages, nodes):
    """STORAGE[@NODE] -> (storage, node or None)."""
    def read(value):
        storage, _, node = value.partition('@')
        return one_of('STORAGE', storages)(storage), one_of('NODE', nodes)(node) if node else None
    return read


def version(value):
    """X.Y or X.Y.Z -> (version, release) as GET /version shows them."""
    if not re.fullmatch(r'\d+\.\d+(\.\d+)?', value):
        raise FaultError('got {0!r}'.format(value))
    release = '.'.join(value.split('.')[:2])
    if value != release:
        return value, release
    # pve-manager numbered its releases X.Y-N before 8.0 and X.Y.Z since.
    return (release + '.0' if int(value.split('.')[0]) >= 8 else release + '-1'), release


def token_privilege(value):
    """IDENTITY:PRIV -> (identity, privilege)."""
    role, _, priv = value.partition(':')
    return one_of('IDENTITY', IDENTITY_ROLES)(role), one_of('PRIV', PRIVILEGES)(priv)


def token_id(tokens, default):
    """A token id, or the identity it belongs to (capmox, csi, ccm, suite), else default -> the token id.

    tokens: role -> token id."""
    def read(value):
        value = tokens.get(value, value) or default
        return one_of('TOKENID', tuple(tokens.values()))(value)
    return read


def count(what, low, high, default):
    """A whole number in [low, high], default when left out."""
    def read(value):
        if not value:
            return default
        if not value.isdigit():
            raise FaultError('{0} must be a whole number; got {1!r}'.format(what, value))
        return int(number(what, low, high, value))
    return read


def value_names(seed):
    """The names fault values take on this seed, by the placeholder that stands for them."""
    return {'NODE': [node.name for node in seed.nodes], 'STORAGE': [store.name for store in seed.storages],
            'NAME': [vnet for vnet, _tag in seed.vnets], 'IDENTITY': list(IDENTITY_ROLES),
            'TOKENID': [ident.id for ident in seed.identities if ident.token]}


# --------------------------------------------------------------------- catalogue

def catalogue(seed):
    """The faults of a lab started from this seed, in the order `python -m lab faults` lists them."""
    names = value_names(seed)
    nodes, storages, vnets = tuple(names['NODE']), tuple(names['STORAGE']), tuple(names['NAME'])
    tokens = dict((ident.role, ident.id) for ident in seed.identities if ident.token)
    template, bridge, disk = seed.template, seed.bridge, seed.disk_storage.name
    return (
        Fault('tls-expired', 'tls', '', 'the API serves a lab-CA certificate that expired yesterday (a missed '
              'certificate renewal): verifying clients refuse the handshake', no_value),
        Fault('tls-untrusted', 'tls', '', 'the API serves a self-signed certificate not issued by the lab CA (a '
              'node reinstalled with a fresh pve-ssl.pem): verification fails', no_value),
        Fault('pve-version', 'version', 'X.Y', 'GET /version reports this release (e.g. 6.4), as an outdated '
              'cluster does; node status pveversion agrees', version),
        Fault('pve-latency', '', 'SECONDS | PATH:SECONDS', 'every response, or only that exact API path (e.g. '
              '/cluster/resources:2.5), is delayed by real seconds, as by an overloaded pveproxy', latency),
        Fault('pve-http-errors', '', 'PATH:RATE', 'that share (0..1) of the requests to that exact API path get '
              'HTTP 500, as from a failing pveproxy worker', error_rate),
        Fault('pve-down', 'listener', '', 'the HTTPS port refuses connections, as when pveproxy is stopped',
              no_value),
        Fault('ticket-rejected', '', '', 'login tickets are issued, but every request with the PVEAuthCookie gets '
              '401 (clock skew, a broken authkey rotation)', no_value),
        Fault('token-rejected', 'auth', '[TOKENID]', 'that API token, or the token of that identity (default {0}, '
              "the suite's) gets 401, as after it was deleted or its secret regenerated".format(tokens['suite']),
              token_id(tokens, tokens['suite'])),
        Fault('auth-accepts-bad-credentials', '', '', 'a wrong password gets a ticket and a wrong token secret is '
              'accepted (authentication bypassed, e.g. by a misconfigured proxy)', no_value),
        Fault('auth-accepts-forged-ticket', '', '', 'any ticket-shaped PVEAuthCookie is accepted as the password '
              'user (ticket signatures not checked)', no_value),
        Fault('pve-node-offline', 'cluster', 'NODE', 'the node is down: its API paths answer 595 No route to '
              'host, /nodes shows it offline and /cluster/status online 0', one_of('NODE', nodes)),
        Fault('quorum-lost', 'cluster', '', 'the cluster lost quorum: /cluster/status shows quorate 0 and config '
              'writes fail', no_value),
        Fault('token-missing-privilege', 'acl', 'IDENTITY:PRIV', 'the token of that identity (capmox, csi, ccm '
              'or suite) lacks the privilege on every path, as with a role made without it', token_privilege),
        Fault('token-excess-privilege', 'acl', 'IDENTITY:PRIV', 'the token of that identity also holds the '
              'privilege on / (an over-powerful role, e.g. Sys.Modify)', token_privilege),
        Fault('bridge-missing', '', 'NODE', '{0} does not exist on that node (its network config was never '
              'applied)'.format(bridge), one_of('NODE', nodes)),
        Fault('bridge-not-vlan-aware', '', '', '{0} is not VLAN aware on any node: tagged VM NICs get no '
              'traffic'.format(bridge), no_value),
        Fault('bridge-inactive', '', 'NODE', '{0} exists on that node but is down'.format(bridge),
              one_of('NODE', nodes)),
        Fault('sdn-missing', '', '', 'no SDN zone and no vnet is configured', no_value),
        Fault('vnet-missing', '', 'NAME', 'that tenant vnet does not exist', one_of('NAME', vnets)),
        Fault('vnet-shared-tag', '', '', "every tenant vnet after the first has the first one's VLAN tag ({0} "
              'on tag {1}): tenants share a layer-2 segment'.format(vnets[-1], seed.vnets[0][1]), no_value),
        Fault('storage-inactive', '', 'STORAGE[@NODE]', 'the storage is not active on that node (default: on '
              'every node), as with a failed disk or an unmounted share', storage_at_node(storages, nodes)),
        Fault('storage-disabled', 'storage', 'STORAGE', 'the storage is disabled in storage.cfg',
              one_of('STORAGE', storages)),
        Fault('storage-no-images', 'storage', 'STORAGE', 'the storage no longer carries content images: VM disks '
              'cannot go there', one_of('STORAGE', storages)),
        Fault('iso-storage-missing', 'storage', '', 'no storage carries content iso: CAPMOX has nowhere to upload '
              'the cloud-init ISO', no_value),
        Fault('backup-storage-missing', 'storage', '', 'no storage carries content backup: vzdump has nowhere to '
              'write a backup', no_value),
        Fault('restore-data-lost', '', '', 'a VM restored from a backup comes up with empty disks: what the guest '
              'wrote before the backup is gone', no_value),
        Fault('storage-full', 'storage', '[STORAGE][:PERCENT]', 'the storage (default {0}, the VM disk storage) '
              'is that full (default 95 %): allocations beyond what is left fail with No space left on '
              'device'.format(disk), with_percent('STORAGE', storages, 95.0, disk)),
        Fault('template-missing', 'template', '', 'template VM {0} ({1}) does not exist'.format(
              template.vmid, template.name), no_value),
        Fault('template-not-template', 'template', '', 'VM {0} is a plain VM (template=0), never converted to a '
              'template'.format(template.vmid), no_value),
        Fault('template-no-agent', 'template', '', 'the template has the QEMU guest agent off (agent 0): clones '
              'report no IP address', no_value),
        Fault('template-no-cloudinit', 'template', '', 'the template has no cloud-init drive: clones never get '
              'their user data', no_value),
        Fault('template-no-disk', 'template', '', 'the template has no boot disk', no_value),
        Fault('node-cpu-hot', '', 'NODE[:PERCENT]', "the node's CPU is that busy (default 95 %)",
              with_percent('NODE', nodes, 95.0)),
        Fault('node-memory-full', '', 'NODE[:PERCENT]', "the node's memory is that full (default 95 %)",
              with_percent('NODE', nodes, 95.0)),
        Fault('node-net-saturated', '', 'NODE[:PERCENT]', "the node's recent netin and netout run at that share "
              'of its {0} Mbit/s link (default 90 %; healthy about 5 %)'.format(seed.link_speed_mbit),
              with_percent('NODE', nodes, 90.0)),
        Fault('clone-fails', '', '', 'every clone task ends with TASK ERROR: clone failed: copy failed: ... '
              'exit code 1 (a failing disk under the storage); the half-made VM and its disks are removed',
              no_value),
        Fault('clone-slow', '', 'SECONDS', 'every clone takes that many Proxmox seconds (scaled by --time-scale; '
              'healthy: 10 s + 1 s per GiB for a full clone, 3 s for a linked one), as on a busy storage',
              lambda value: number('SECONDS', 0, 86400, value, suffix='s')),
        Fault('agent-no-ip', '', '', 'the guest agent of a booted VM answers, but reports no IPv4 address (DHCP '
              'gets no answer, cloud-init network config broken)', no_value),
        Fault('storage-lock-timeout', '', '[N]', 'a clone onto {0} that starts while N (default {1}) others copy '
              "there waits 10 Proxmox seconds, then fails with PVE's storage lock timeout (clones overlap only "
              'with --time-scale > 0)'.format(disk, STORAGE_LOCK_DEFAULT),
              count('N', 1, 100, STORAGE_LOCK_DEFAULT)),
    )


def lookup(faults, name):
    """The fault of that name in faults (name -> Fault), or FaultError listing the known ones."""
    if name not in faults:
        raise FaultError('unknown fault {0!r}; known faults: {1}'.format(name, ', '.join(faults)))
    return faults[name]


def split_spec(spec):
    """'name=value' or 'name' -> (name, value or '')."""
    name, _, value = spec.partition('=')
    return name.strip(), value.strip()
