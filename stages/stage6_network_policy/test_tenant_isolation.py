"""Tenant isolation: a pod of one CozyStack tenant cannot reach a pod of another."""
import pytest

from .conftest import HTTP_PORT, http_get


@pytest.mark.check("S6.5")
def test_s6_5_tenants_cannot_reach_each_other(traffic):
    """Two Tenants in tenant-root get namespaces tenant-<a> and tenant-<b>; a server in A is reachable from a
    client in A (the positive control) and not from a client in B, within the policy-applied wait."""
    tenant_a, tenant_b = traffic.tenant("a"), traffic.tenant("b")
    server = traffic.server(tenant_a)
    fetch = http_get(server.ip)
    traffic.expect(f"positive control: client in {tenant_a} -> server {server.ip}:{HTTP_PORT} in {tenant_a} "
                   f"allowed", tenant_a, fetch, succeeds=True)
    traffic.expect(f"isolation: client in {tenant_b} -> server {server.ip}:{HTTP_PORT} in {tenant_a} blocked",
                   tenant_b, fetch, succeeds=False)
