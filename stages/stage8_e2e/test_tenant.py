"""Tenant: a CozyStack Tenant in tenant-root becomes Ready with its namespace tenant-<name>."""
import pytest

from proxqa import cozystack


@pytest.mark.check("S8.1")
def test_s8_1_tenant_gets_its_namespace(mgmt_kube, stage_tenant, deadline):
    """The stage's Tenant (lowercase alphanumerics) in tenant-root reaches Ready and namespace tenant-<name>
    exists."""
    cozystack.wait_tenant(mgmt_kube, stage_tenant, deadline("tenant-ready"))
