"""DNS: CoreDNS runs Ready and a pod resolves the API server's Service name in the cluster domain."""
import pytest

from proxqa.kube.policies import DNS_NAMESPACE, DNS_PODS
from proxqa.kube.workspace import is_ready, pod_summary, stuck
from proxqa.waits import wait_for

from .conftest import lookup

DNS_SELECTOR = ",".join(f"{key}={value}" for key, value in DNS_PODS.items())


@pytest.mark.check("S6.2")
def test_s6_2_coredns_ready_and_names_resolve(mgmt_kube, traffic, settings, deadline):
    """Every CoreDNS pod (k8s-app=kube-dns in kube-system) is Ready; nslookup of
    kubernetes.default.svc.<cluster domain> succeeds from a probe pod."""
    def not_ready(pods: list[dict]) -> list[str]:
        return [pod_summary(p) for p in pods if not is_ready(p)]

    wait_for(f"CoreDNS pods ({DNS_SELECTOR} in {DNS_NAMESPACE}) all Ready",
             lambda: mgmt_kube.list("v1", "Pod", DNS_NAMESPACE, selector=DNS_SELECTOR),
             done=lambda pods: bool(pods) and not not_ready(pods),
             failed=lambda pods: "; ".join(filter(None, map(stuck, pods))) or None,
             deadline=deadline("pod-running"), show=lambda pods: "; ".join(not_ready(pods)) or "no pod")
    name = f"kubernetes.default.svc.{settings.test.cluster_domain}"
    namespace = traffic.space.namespace("dns")
    result = traffic.probe(namespace, lookup(name))
    assert result.succeeded, f"nslookup {name} failed in a pod of {namespace}; probe log: {result.log or '(empty)'}"
