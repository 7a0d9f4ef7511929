"""The named faults of the lab: what each breaks, the value it takes, and how that value is read.

A fault only names and validates here; PveTwin applies it. `area` says which part of the twin's state
the fault changes when set or cleared (PveTwin._sync_<area>); an empty area means the twin reads the
fault when it answers and keeps no state for it.
"""

import re
from dataclasses import dataclass
from typing import Callable

from fakepve.shapes import PRIVILEGES

from . import seed

NODE_NAMES = tuple(node.name for node in seed.NODES)
STORAGE_NAMES = tuple(store.name for store in seed.STORAGES)
VNET_NAMES = tuple(vnet['vnet'] for vnet in seed.TENANT_VNETS)
TOKENS = dict((ident.role, ident.id) for ident in seed.IDENTITIES if ident.token)
SUITE_TOKEN = TOKENS['suite']


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


def with_percent(what, names, default_percent):
    """NAME[:PERCENT] -> (name, percent)."""
    def read(value):
        name, _, percent = value.partition(':')
        return one_of(what, names)(name), number('PERCENT', 0, 100, percent) if percent else default_percent
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


def storage_at_node(value):
    """STORAGE[@NODE] -> (storage, node or None)."""
    storage, _, node = value.partition('@')
    return one_of('STORAGE', STORAGE_NAMES)(storage), one_of('NODE', NODE_NAMES)(node) if node else None


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
    return one_of('IDENTITY', tuple(TOKENS))(role), one_of('PRIV', PRIVILEGES)(priv)


def token_id(value):
    """A token id, or the identity it belongs to (capmox, csi, ccm, suite) -> the token id."""
    value = TOKENS.get(value, value) or SUITE_TOKEN
    return one_of('TOKENID', tuple(TOKENS.values()))(value)


# --------------------------------------------------------------------- catalogue

_T = seed.TEMPLATE
CATALOGUE = (
    Fault('tls-expired', 'tls', '', 'the API serves a lab-CA certificate that expired yesterday (a missed '
          'certificate renewal): verifying clients refuse the handshake', no_value),
    Fault('tls-untrusted', 'tls', '', 'the API serves a self-signed certificate not issued by the lab CA (a node '
          'reinstalled with a fresh pve-ssl.pem): verification fails', no_value),
    Fault('pve-version', 'version', 'X.Y', 'GET /version reports this release (e.g. 6.4), as an outdated cluster '
          'does; node status pveversion agrees', version),
    Fault('pve-latency', '', 'SECONDS | PATH:SECONDS', 'every response, or only that exact API path (e.g. '
          '/cluster/resources:2.5), is delayed by real seconds, as by an overloaded pveproxy', latency),
    Fault('pve-api-errors', '', 'PATH:RATE', 'that share (0..1) of the requests to that exact API path get HTTP '
          '500, as from a failing pveproxy worker', error_rate),
    Fault('pve-down', 'listener', '', 'the HTTPS port refuses connections, as when pveproxy is stopped', no_value),
    Fault('ticket-rejected', '', '', 'login tickets are issued, but every request with the PVEAuthCookie gets 401 '
          '(clock skew, a broken authkey rotation)', no_value),
    Fault('token-rejected', 'auth', 'TOKENID', 'that API token (default {0}) gets 401, as after it was deleted or '
          'its secret regenerated'.format(SUITE_TOKEN), token_id),
    Fault('auth-accepts-bad-credentials', '', '', 'a wrong password gets a ticket and a wrong token secret is '
          'accepted (authentication bypassed, e.g. by a misconfigured proxy)', no_value),
    Fault('auth-accepts-forged-ticket', '', '', 'any ticket-shaped PVEAuthCookie is accepted as the password '
          'user (ticket signatures not checked)', no_value),
    Fault('pve-node-offline', 'cluster', 'NODE', 'the node is down: its API paths answer 595 No route to host, '
          '/nodes shows it offline and /cluster/status online 0', one_of('NODE', NODE_NAMES)),
    Fault('quorum-lost', 'cluster', '', 'the cluster lost quorum: /cluster/status shows quorate 0 and config '
          'writes fail', no_value),
    Fault('token-missing-privilege', 'acl', 'IDENTITY:PRIV', 'the token of that identity (capmox, csi, ccm or '
          'suite) lacks the privilege on every path, as with a role made without it', token_privilege),
    Fault('token-excess-privilege', 'acl', 'IDENTITY:PRIV', 'the token of that identity also holds the privilege '
          'on / (an over-powerful role, e.g. Sys.Modify)', token_privilege),
    Fault('bridge-missing', '', 'NODE', '{0} does not exist on that node (its network config was never '
          'applied)'.format(seed.BRIDGE), one_of('NODE', NODE_NAMES)),
    Fault('bridge-not-vlan-aware', '', '', '{0} is not VLAN aware on any node: tagged VM NICs get no '
          'traffic'.format(seed.BRIDGE), no_value),
    Fault('bridge-inactive', '', 'NODE', '{0} exists on that node but is down'.format(seed.BRIDGE),
          one_of('NODE', NODE_NAMES)),
    Fault('sdn-missing', '', '', 'no SDN zone and no vnet is configured', no_value),
    Fault('vnet-missing', '', 'NAME', 'that tenant vnet does not exist', one_of('NAME', VNET_NAMES)),
    Fault('vnet-shared-tag', '', '', 'every tenant vnet after the first has the first one\'s VLAN tag ({0} on tag '
          '{1}): tenants share a layer-2 segment'.format(VNET_NAMES[-1], seed.TENANT_VNETS[0]['tag']), no_value),
    Fault('storage-inactive', '', 'STORAGE[@NODE]', 'the storage is not active on that node (default: on every '
          'node), as with a failed disk or an unmounted share', storage_at_node),
    Fault('storage-disabled', 'storage', 'STORAGE', 'the storage is disabled in storage.cfg',
          one_of('STORAGE', STORAGE_NAMES)),
    Fault('storage-no-images', 'storage', 'STORAGE', 'the storage no longer carries content images: VM disks '
          'cannot go there', one_of('STORAGE', STORAGE_NAMES)),
    Fault('iso-storage-missing', 'storage', '', 'no storage carries content iso: CAPMOX has nowhere to upload '
          'the cloud-init ISO', no_value),
    Fault('storage-full', 'storage', 'STORAGE[:PERCENT]', 'the storage is that full (default 95 %): allocations '
          'beyond what is left fail with No space left on device', with_percent('STORAGE', STORAGE_NAMES, 95.0)),
    Fault('template-missing', 'template', '', 'template VM {0} ({1}) does not exist'.format(_T.vmid, _T.name),
          no_value),
    Fault('template-not-template', 'template', '', 'VM {0} is a plain VM (template=0), never converted to a '
          'template'.format(_T.vmid), no_value),
    Fault('template-no-agent', 'template', '', 'the template has the QEMU guest agent off (agent 0): clones '
          'report no IP address', no_value),
    Fault('template-no-cloudinit', 'template', '', 'the template has no cloud-init drive: clones never get '
          'their user data', no_value),
    Fault('template-no-disk', 'template', '', 'the template has no boot disk', no_value),
    Fault('node-cpu-hot', '', 'NODE[:PERCENT]', "the node's CPU is that busy (default 95 %)",
          with_percent('NODE', NODE_NAMES, 95.0)),
    Fault('node-memory-full', '', 'NODE[:PERCENT]', "the node's memory is that full (default 95 %)",
          with_percent('NODE', NODE_NAMES, 95.0)),
    Fault('node-net-saturated', '', 'NODE[:PERCENT]', "the node's recent netin and netout run at that share of "
          'its {0} Mbit/s link (default 90 %; healthy about 5 %)'.format(seed.LINK_SPEED_MBIT),
          with_percent('NODE', NODE_NAMES, 90.0)),
)
FAULTS = dict((fault.name, fault) for fault in CATALOGUE)


def lookup(name):
    """The fault of that name, or FaultError listing the known ones."""
    if name not in FAULTS:
        raise FaultError('unknown fault {0!r}; known faults: {1}'.format(name, ', '.join(FAULTS)))
    return FAULTS[name]


def split_spec(spec):
    """'name=value' or 'name' -> (name, value or '')."""
    name, _, value = spec.partition('=')
    return name.strip(), value.strip()
