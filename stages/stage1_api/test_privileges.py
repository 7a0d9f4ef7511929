"""Privileges: each identity of the integration holds what its role needs, on the right paths."""
import warnings

import pytest

from fixtures.pve import INTEGRATION_IDENTITIES
from proxqa.pve import privileges
from proxqa.pve.client import PveClient


@pytest.fixture(scope="module")
def placement(settings, pve, pve_version) -> privileges.Placement:
    """Where the integration's objects live: from the settings, the template's VMID from the cluster."""
    template = settings.test.vm_template
    vmid = int(template) if template and template.isdigit() else next(
        (vm.vmid for vm in pve.vm_resources() if vm.template and vm.name == template), None)
    return privileges.Placement(bridge=settings.test.network_bridge, template_vmid=vmid,
                                disk_storage=settings.test.storage_pool, iso_storage=settings.test.iso_storage,
                                vm_pool=None, pve_major=pve_version.major_minor[0])


@pytest.mark.check("S1.9")
@pytest.mark.parametrize("name", INTEGRATION_IDENTITIES)
def test_s1_9_identity_holds_required_privileges(name, integration_identities, pve_endpoint, placement):
    """GET /access/permissions as the identity holds every privilege of its role on every path it needs."""
    identity = integration_identities.get(name)
    if identity is None:
        pytest.skip(f"{name} identity not configured (PROXMOX_{name.upper()}_TOKEN_ID)")
    held = PveClient(pve_endpoint, identity).permissions()
    absent = privileges.missing(held, privileges.required(name, placement))
    assert not absent, f"{name} token {identity.userid} lacks: {', '.join(absent)}"
    if extra := privileges.excess(identity.userid, held):
        warnings.warn(f"{name} token {identity.userid} holds more than it needs: {', '.join(extra)}")
