"""A Proxmox twin and the monitoring stack against it, per test module (helpers in monitoring_helpers.py)."""

import pytest

from monitoring_helpers import alive, descendants, run_lab, start_stack, start_twin, stop_stack


@pytest.fixture(scope='module')
def twin(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp('lab')
    yield state_dir, start_twin(state_dir)
    run_lab('down', '--state-dir', state_dir)


@pytest.fixture(scope='module')
def stack(twin):
    """The stack started against the twin; stopped after the module, and none of its processes left."""
    state_dir, settings = twin
    stack = start_stack(state_dir, settings)
    yield stack
    children = descendants(stack.process.pid)
    status = stop_stack(stack.process)
    assert status == 0, 'lab.monitoring exited with {0}; see {1}'.format(status, state_dir / 'monitoring-stderr.log')
    assert alive(children) == [], 'processes of the stack still run after it stopped: {0}'.format(alive(children))


@pytest.fixture
def faulty_stack(stack):
    """The module's stack; every monitoring fault set during the test is cleared after it."""
    yield stack
    stack.clear_faults()
