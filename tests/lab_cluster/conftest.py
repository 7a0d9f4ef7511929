"""One Proxmox twin and one `python -m lab.cluster` (time scale 0) for the session; chains per test.

Helpers are in cluster_helpers.py. Every chain a test applies is deleted in its teardown (and its VMs waited
for), and every fault it set is cleared.
"""

import secrets

import pytest

from cluster_helpers import Chain, Pool, chain_manifest, run_lab, start_cluster, start_twin, stop_cluster, wait_for
from workload_helpers import Cluster, new_space


@pytest.fixture(scope='session')
def twin(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp('twin')
    yield start_twin(state_dir)
    run_lab('down', '--state-dir', state_dir)


@pytest.fixture(scope='session')
def lab(twin, tmp_path_factory):
    started = start_cluster(tmp_path_factory.mktemp('cluster'), twin)
    yield started
    started.close()
    status = stop_cluster(started.process)
    assert status == 0, 'lab.cluster exited with {0}; see {1}'.format(status, started.state_dir / 'cluster.log')


class Pools(object):
    """Applies chains with kubectl; remove() deletes their namespaces and waits until their VMs are gone."""

    def __init__(self, lab):
        self.lab = lab
        self.applied = []

    def apply(self, **options):
        chain = Chain('qa-' + secrets.token_hex(3), 'c' + secrets.token_hex(3))
        self.applied.append(chain)
        manifest = chain_manifest(chain, self.lab.twin, **options)
        self.lab.kubectl.run('apply', '-f', '-', stdin=manifest)
        return Pool(self.lab, chain, manifest)

    def remove(self):
        for chain in self.applied:
            self.lab.kubectl.run('delete', 'namespace', chain.namespace, '--ignore-not-found', '--wait=false')
        for chain in self.applied:
            pool = Pool(self.lab, chain, '')
            wait_for('the VMs of {0} are deleted'.format(chain.workers), pool.vmids, lambda vmids: vmids == [])


@pytest.fixture
def pools(lab):
    made = Pools(lab)
    yield made
    lab.clear_faults()
    made.remove()


@pytest.fixture(scope='module')
def mgmt(lab):
    return Cluster(lab.mgmt)


@pytest.fixture
def space(lab, mgmt):
    made = new_space(mgmt)
    yield made
    lab.clear_faults()
    made.delete()
