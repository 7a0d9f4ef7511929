"""The lab's CAPMOX picks VMIDs for clones requested at once without colliding, as clones of one MachineDeployment
are: each request gets a VMID no other request of the moment has."""

import asyncio
from types import SimpleNamespace

import pytest

from lab.cluster.capmox import ProxmoxMachineReconciler
from lab.cluster.pve import PveError


class SlowTwin(object):
    """/cluster/resources and clone requests that each yield to the event loop, as HTTP calls do."""

    def __init__(self):
        self.vmids = {100}

    async def get(self, path, **_params):
        await asyncio.sleep(0)
        return [{'vmid': vmid} for vmid in self.vmids] if path == '/cluster/resources' else str(max(self.vmids) + 1)

    async def post(self, path, newid, **_options):
        await asyncio.sleep(0)
        if newid in self.vmids:
            raise PveError('POST', path, 500, 'unable to create VM {0}: config file already exists'.format(newid))
        self.vmids.add(newid)
        return 'UPID:{0}'.format(newid)


@pytest.mark.parametrize('vmid_range', [{'start': 9900, 'end': 9999}, None])
def test_clones_requested_at_once_get_different_vmids(vmid_range):
    reconciler = ProxmoxMachineReconciler(SimpleNamespace(mgmt=None, timing=None))
    twin = SlowTwin()

    async def clone_many(count):
        return await asyncio.gather(*(reconciler._clone_call(twin, {'vmIDRange': vmid_range}, 'pve1', 9000, {})
                                      for _ in range(count)))
    made = asyncio.run(clone_many(8))
    assert len({vmid for vmid, _upid in made}) == 8
