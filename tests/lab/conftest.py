"""A lab per test module, started and stopped with `python -m lab` (helpers in lab_helpers.py)."""

import pytest

from lab_helpers import run_lab, start_lab


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp('lab')
    yield start_lab(state_dir)
    done = run_lab('down', '--state-dir', state_dir)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def faulty_lab(lab):
    """The module's lab; every fault set during the test is cleared after it."""
    yield lab
    lab.clear_faults()
