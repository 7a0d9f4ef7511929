"""Stage 1 fixtures: the cluster's version, read once."""
import pytest

from proxqa.pve.client import PveClient
from proxqa.pve.records import PveVersion


@pytest.fixture(scope="module")
def pve_version(pve: PveClient) -> PveVersion:
    return pve.version()
