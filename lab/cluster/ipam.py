"""The in-cluster IPAM provider (ipam.cluster.x-k8s.io): an IPAddressClaim against an InClusterIPPool gets the
pool's lowest free address as an IPAddress named like the claim; pools count their addresses in status.

Pool addresses are written as in the provider: `10.0.0.10-10.0.0.20`, `10.0.0.0/28` (network and broadcast
excluded) or single addresses; the gateway is never handed out.
"""

import ipaddress

from . import conditions
from .kinds import IN_CLUSTER_IP_POOL, IP_ADDRESS, IP_ADDRESS_CLAIM
from .runtime import deleting, find, owner_reference, patch_status, served

POOL_KIND = 'InClusterIPPool'
POOL_GROUP = 'ipam.cluster.x-k8s.io'


def pool_addresses(spec):
    """Every address the pool spec ({addresses, prefix, gateway}) can hand out, in order; ValueError naming a bad
    entry."""
    found = []
    for entry in spec.get('addresses') or ():
        text = str(entry).strip()
        try:
            if '-' in text:
                first, last = (ipaddress.IPv4Address(part.strip()) for part in text.split('-', 1))
                if last < first:
                    raise ValueError('range ends before it starts')
                found.extend(ipaddress.IPv4Address(n) for n in range(int(first), int(last) + 1))
            elif '/' in text:
                found.extend(ipaddress.IPv4Network(text, strict=False).hosts())
            else:
                found.append(ipaddress.IPv4Address(text))
        except ValueError as err:
            raise ValueError('address {0!r} is not an IPv4 address, range or CIDR: {1}'.format(text, err)) from None
    gateway = spec.get('gateway')
    return [str(address) for address in dict.fromkeys(found) if str(address) != gateway]


def check_pool_spec(spec):
    """Why an ipv4Config / pool spec cannot be used, or None."""
    if not spec or not spec.get('addresses'):
        return 'IPv4Config addresses must be provided'
    try:
        pool_addresses(spec)
    except ValueError as err:
        return str(err)
    prefix = spec.get('prefix')
    if not isinstance(prefix, int) or isinstance(prefix, bool) or not 0 < prefix <= 32:
        return 'prefix must be a whole number from 1 to 32; got {0!r}'.format(prefix)
    try:
        ipaddress.IPv4Address(str(spec.get('gateway')))
    except ValueError:
        return 'gateway {0!r} is not an IPv4 address'.format(spec.get('gateway'))
    return None


def not_served(ref):
    """The API server's error for a kind whose CRD is not installed."""
    return 'no matches for kind "{0}" in version "{1}"'.format(ref[1], ref[0])


class IpamReconciler(object):
    """Allocates addresses to IPAddressClaims and keeps each pool's status.ipAddresses counts."""

    name = 'ipam'
    primary = IP_ADDRESS_CLAIM

    def __init__(self, mgmt):
        self.mgmt = mgmt
        self.related = [(mgmt, IN_CLUSTER_IP_POOL, self._claims_of_pool), (mgmt, IP_ADDRESS, self._claim_of)]

    def _claims_of_pool(self, pool):
        claims = served(self.mgmt, *IP_ADDRESS_CLAIM)
        if claims is None:
            return []
        meta = pool['metadata']
        return [(meta['namespace'], claim['metadata']['name'])
                for claim in self.mgmt.list(claims, meta['namespace'])[0]
                if (claim['spec'].get('poolRef') or {}).get('name') == meta['name']]

    @staticmethod
    def _claim_of(address):
        name = (address['spec'].get('claimRef') or {}).get('name')
        return [(address['metadata']['namespace'], name)] if name else []

    async def reconcile(self, key):
        claims, pools, addresses = (served(self.mgmt, *ref) for ref in (IP_ADDRESS_CLAIM, IN_CLUSTER_IP_POOL,
                                                                            IP_ADDRESS))
        if None in (claims, pools, addresses):
            return None
        claim = find(self.mgmt, claims, key[1], key[0])
        if claim is None or deleting(claim):
            self._count_all(pools, addresses, key[0])
            return None
        pool_ref = claim['spec'].get('poolRef') or {}
        pool = find(self.mgmt, pools, pool_ref.get('name', ''), key[0]) if pool_ref.get('kind') == POOL_KIND else None
        if pool is None:
            self._claim_status(claims, claim, 'False', 'PoolNotReady', 'InClusterIPPool {0}/{1} not found'.format(
                key[0], pool_ref.get('name')))
            return None
        address = find(self.mgmt, addresses, key[1], key[0])
        if address is None:
            address = self._allocate(addresses, claim, pool)
        if address is None:
            self._claim_status(claims, claim, 'False', 'PoolExhausted',
                               'no free addresses in InClusterIPPool {0}/{1}'.format(key[0], pool['metadata']['name']))
        else:
            self._claim_status(claims, claim, 'True', address_ref=address['metadata']['name'])
        self._count(pools, addresses, pool)
        return None

    def _allocate(self, addresses, claim, pool):
        """The new IPAddress for claim, or None when the pool has no free address."""
        try:
            candidates = pool_addresses(pool['spec'])
        except ValueError:
            return None
        taken = set(item['spec'].get('address') for item in self._addresses_of(addresses, pool))
        free = next((candidate for candidate in candidates if candidate not in taken), None)
        if free is None:
            return None
        meta = claim['metadata']
        return self.mgmt.create(addresses, {
            'metadata': {'name': meta['name'], 'namespace': meta['namespace'], 'labels': dict(meta.get('labels') or {}),
                         'ownerReferences': [owner_reference(claim)]},
            'spec': {'address': free, 'prefix': pool['spec'].get('prefix'), 'gateway': pool['spec'].get('gateway'),
                     'claimRef': {'name': meta['name']},
                     'poolRef': {'apiGroup': POOL_GROUP, 'kind': POOL_KIND, 'name': pool['metadata']['name']}}})

    def _addresses_of(self, addresses, pool):
        return [item for item in self.mgmt.list(addresses, pool['metadata']['namespace'])[0]
                if (item['spec'].get('poolRef') or {}).get('name') == pool['metadata']['name']]

    def _claim_status(self, claims, claim, ready, reason='', message='', address_ref=None):
        items = conditions.with_condition((claim.get('status') or {}).get('conditions'), 'Ready', ready, reason,
                                          message, 'Warning' if ready == 'False' else None)
        status = {'conditions': items}
        if address_ref:
            status['addressRef'] = {'name': address_ref}
        patch_status(self.mgmt, claims, claim, status)

    def _count(self, pools, addresses, pool):
        try:
            total = len(pool_addresses(pool['spec']))
        except ValueError:
            total = 0
        used = len(self._addresses_of(addresses, pool))
        patch_status(self.mgmt, pools, pool, {'ipAddresses': {'total': total, 'used': used,
                                                              'free': max(total - used, 0)}})

    def _count_all(self, pools, addresses, namespace):
        """Recount the namespace's pools (after a claim, and with it its address, went)."""
        for pool in self.mgmt.list(pools, namespace)[0]:
            self._count(pools, addresses, pool)
