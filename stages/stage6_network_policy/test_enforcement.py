"""NetworkPolicy enforcement, by traffic: deny, allow again, and an egress lockdown that keeps DNS."""
import pytest

from proxqa.kube import policies

from .conftest import CLIENT_LABELS, HTTP_PORT, SERVER_LABELS, http_get, lookup


@pytest.mark.check("S6.4")
def test_s6_4_policies_block_and_allow_traffic(traffic, settings):
    """In one namespace: client (role=client) -> server TCP 80 works; after a deny-all ingress policy it is
    blocked; after a policy allowing role=client on TCP 80 it works again; after an egress policy letting the
    client send only DNS to kube-dns, the server is blocked while kubernetes.default.svc.<domain> still resolves.
    Each change takes effect within the policy-applied wait."""
    space = traffic.space
    namespace = space.namespace("netpol")
    server = traffic.server(namespace)
    fetch = http_get(server.ip)
    traffic.expect(f"1 baseline, no policy: client -> server {server.ip}:{HTTP_PORT} allowed", namespace, fetch,
                   succeeds=True)

    space.create(policies.deny_all_ingress(space.names.new("deny-all"), namespace))
    traffic.expect(f"2 after a deny-all ingress policy: client -> server {server.ip}:{HTTP_PORT} blocked",
                   namespace, fetch, succeeds=False)

    space.create(policies.allow_ingress(space.names.new("allow-client"), namespace, SERVER_LABELS, CLIENT_LABELS,
                                        HTTP_PORT))
    traffic.expect(f"3 after allowing role=client on TCP {HTTP_PORT}: client -> server {server.ip}:{HTTP_PORT} "
                   f"allowed", namespace, fetch, succeeds=True)

    space.create(policies.egress_dns_only(space.names.new("egress-dns"), namespace, CLIENT_LABELS))
    traffic.expect(f"4 after an egress policy allowing only DNS: client -> server {server.ip}:{HTTP_PORT} blocked",
                   namespace, fetch, succeeds=False)
    name = f"kubernetes.default.svc.{settings.test.cluster_domain}"
    traffic.expect(f"4 after an egress policy allowing only DNS: client resolves {name}", namespace, lookup(name),
                   succeeds=True)
