"""External access: a LoadBalancer Service gets an address and answers on it."""
import pytest

from proxqa.kube.watching import Watched, wait_watching

from .conftest import http_get


def _ingress_ip(service: dict | None) -> str:
    ingress = (((service or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}]
    return ingress[0].get("ip") or ""


@pytest.mark.check("S6.6")
def test_s6_6_load_balancer_gets_address_and_answers(traffic, settings, deadline):
    """A LoadBalancer Service in front of a server gets status.loadBalancer.ingress[0].ip within the lb-address
    wait, and a client pod fetches from that address."""
    if not settings.test.external_access:
        pytest.skip("external access not configured (test.external_access)")
    namespace = traffic.space.namespace("lb")
    server = traffic.server(namespace)
    name = traffic.service(server, "LoadBalancer")["metadata"]["name"]

    def show(service: dict | None) -> str:
        if service is None:
            return "Service gone"
        events = traffic.kube.events_of(service)
        return f"no address yet; events: {'; '.join(map(str, events)) or 'none'}"

    service = wait_watching([Watched(traffic.kube, "v1", "Service", namespace, name)],
                            f"LoadBalancer Service {namespace}/{name} gets an address",
                            lambda: traffic.kube.get("v1", "Service", name, namespace),
                            done=lambda s: bool(_ingress_ip(s)), deadline=deadline("lb-address"), show=show)
    address = _ingress_ip(service)
    result = traffic.probe(namespace, http_get(address))
    assert result.succeeded, (f"a client pod cannot fetch http://{address}:80/ (Service {name}'s load balancer "
                              f"address); probe log: {result.log or '(empty)'}")
