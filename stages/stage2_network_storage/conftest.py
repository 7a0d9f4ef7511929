"""Stage 2 fixtures: the storages each target node sees, and the VM template, read once."""
import pytest

from proxqa.pve.client import PveClient
from proxqa.pve.records import StorageStatus, VmResource


@pytest.fixture(scope="module")
def node_storages(pve: PveClient, target_nodes) -> dict[str, dict[str, StorageStatus]]:
    """node -> storage name -> status."""
    return {node: {s.name: s for s in pve.storages(node)} for node in target_nodes}


@pytest.fixture(scope="module")
def template(pve: PveClient, settings) -> VmResource | None:
    """The configured template (by VMID or name) as /cluster/resources lists it; None when absent."""
    wanted = settings.test.vm_template
    if not wanted:
        pytest.fail("no VM template configured (TEST_VM_TEMPLATE): give its name or VMID")
    return next((vm for vm in pve.vm_resources() if str(vm.vmid) == wanted or vm.name == wanted), None)
