"""NetworkPolicy manifests (networking.k8s.io/v1) the network checks apply: plain dicts that work on any cluster."""
from __future__ import annotations

API_VERSION = "networking.k8s.io/v1"
# The API server sets this label on every namespace, so a selector on it always has something to match.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_NAMESPACE = "kube-system"
DNS_PODS = {"k8s-app": "kube-dns"}          # CoreDNS's pods keep kube-dns's label
DNS_PORT = 53


def _policy(name: str, namespace: str, pods: dict[str, str], types: list[str], **rules: list) -> dict:
    return {"apiVersion": API_VERSION, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": dict(pods)}, "policyTypes": types, **rules}}


def deny_all_ingress(name: str, namespace: str) -> dict:
    """Every pod of the namespace is isolated for ingress and nothing is allowed in."""
    return _policy(name, namespace, {}, ["Ingress"])


def allow_ingress(name: str, namespace: str, pods: dict[str, str], from_pods: dict[str, str], port: int,
                  protocol: str = "TCP") -> dict:
    """Pods labelled `pods` accept `port` from pods of the same namespace labelled `from_pods`."""
    return _policy(name, namespace, pods, ["Ingress"],
                   ingress=[{"from": [{"podSelector": {"matchLabels": dict(from_pods)}}],
                             "ports": [{"protocol": protocol, "port": port}]}])


def egress_dns_only(name: str, namespace: str, pods: dict[str, str]) -> dict:
    """Pods labelled `pods` may send only DNS (UDP and TCP 53) to the cluster's DNS pods in kube-system."""
    dns = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}},
           "podSelector": {"matchLabels": dict(DNS_PODS)}}
    return _policy(name, namespace, pods, ["Egress"],
                   egress=[{"to": [dns], "ports": [{"protocol": "UDP", "port": DNS_PORT},
                                                   {"protocol": "TCP", "port": DNS_PORT}]}])
