"""Pod networking: pods get addresses in the pod CIDR and reach each other directly and through a ClusterIP."""
import ipaddress

import pytest

from proxqa.kube.watching import Watched, wait_watching

from .conftest import http_get

# CozyStack states its pod network here; Kube-OVN allocates from it and ignores the nodes' podCIDRs.
COZYSTACK_CONFIG = ("cozy-system", "cozystack")
POD_CIDR_KEY = "ipv4-pod-cidr"


def _pod_cidrs(kube, node_name: str) -> tuple[list[str], str]:
    """(CIDRs, who states them): CozyStack's pod CIDR, else the node's spec.podCIDRs; none when neither says."""
    config = kube.get("v1", "ConfigMap", COZYSTACK_CONFIG[1], COZYSTACK_CONFIG[0])
    if cidr := ((config or {}).get("data") or {}).get(POD_CIDR_KEY):
        return [cidr], f"ConfigMap {'/'.join(COZYSTACK_CONFIG)} {POD_CIDR_KEY}"
    node = kube.get("v1", "Node", node_name) or {"spec": {}}
    return node["spec"].get("podCIDRs") or [], f"node {node_name} spec.podCIDRs"


def _ready_addresses(kube, namespace: str, service: str) -> list[str]:
    slices = kube.list("discovery.k8s.io/v1", "EndpointSlice", namespace,
                       selector=f"kubernetes.io/service-name={service}")
    return [address for item in slices for endpoint in item.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready") for address in endpoint.get("addresses") or []]


@pytest.mark.check("S6.3")
def test_s6_3_pod_to_pod_and_cluster_ip(traffic, deadline):
    """The server's IP is inside the pod CIDR; a client pod fetches from it by pod IP and through its ClusterIP
    Service (once the Service's EndpointSlice lists the pod ready)."""
    namespace = traffic.space.namespace("podnet")
    server = traffic.server(namespace)
    cidrs, stated_by = _pod_cidrs(traffic.kube, server.node)
    if cidrs:
        address = ipaddress.ip_address(server.ip)
        assert any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs), (
            f"pod {server.name} on {server.node} has IP {server.ip}, outside the pod CIDR {', '.join(cidrs)} "
            f"({stated_by})")
    service = traffic.service(server)
    name, cluster_ip = service["metadata"]["name"], service["spec"]["clusterIP"]
    wait_watching([Watched(traffic.kube, "discovery.k8s.io/v1", "EndpointSlice", namespace,
                                         selector=f"kubernetes.io/service-name={name}")],
                  f"EndpointSlice of Service {name} lists {server.ip} ready",
                  lambda: _ready_addresses(traffic.kube, namespace, name), done=lambda found: server.ip in found,
                  deadline=deadline("pod-running"),
                  show=lambda found: f"ready addresses: {', '.join(found) or 'none'}")
    for target, address in (("pod IP", server.ip), (f"ClusterIP of Service {name}", cluster_ip)):
        result = traffic.probe(namespace, http_get(address))
        assert result.succeeded, (f"a client pod cannot fetch http://{address}:80/ from server {server.name} by its "
                                  f"{target}; probe log: {result.log or '(empty)'}")
