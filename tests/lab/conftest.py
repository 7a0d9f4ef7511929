"""Labs per test module, started and stopped with `python -m lab` (helpers in lab_helpers.py).

A module that makes VMs defines a `cluster` fixture (lab_helpers.Cluster) for `clones` and `running`.
"""

import pytest

from lab_helpers import Clones, running_lab


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """The standard seed at time scale 0."""
    yield from running_lab(tmp_path_factory)


@pytest.fixture(scope='module')
def alt_lab(tmp_path_factory):
    """The alt seed, whose every name differs from the standard one's."""
    yield from running_lab(tmp_path_factory, '--seed', 'alt')


@pytest.fixture(scope='module', params=['standard', 'alt'])
def seeded_lab(request, tmp_path_factory):
    """Each seed in turn, at time scale 0: the tests read every name from the lab's settings."""
    yield from running_lab(tmp_path_factory, '--seed', request.param)


@pytest.fixture
def faulty_lab(lab):
    """The module's lab; every fault set during the test is cleared after it."""
    yield lab
    lab.clear_faults()


@pytest.fixture
def clones(cluster):
    """lab_helpers.Clones of the module's cluster; its faults are cleared and its clones deleted after the test."""
    made = Clones(cluster)
    yield made
    cluster.lab.clear_faults()
    made.remove()


@pytest.fixture
def running(cluster, clones):
    """A started clone's VMID."""
    vmid, exit_status = clones.make()
    assert exit_status == 'OK'
    assert cluster.run(cluster.vm(vmid).status.start.post()) == 'OK'
    return vmid
