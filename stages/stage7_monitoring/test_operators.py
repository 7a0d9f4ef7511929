"""Operators: the operators CozyStack's monitoring is built on run in the management cluster."""
import pytest

from proxqa.kube.client import KubeClient
from proxqa.kube.workspace import pod_summary

OPERATORS = ("victoria-metrics-operator", "grafana-operator")     # CozyStack: in cozy-<name>


def unavailable(kube: KubeClient, deployment: dict) -> str | None:
    """What keeps a Deployment from being Available with every replica, naming its pods; None when it is."""
    meta, spec, status = deployment["metadata"], deployment["spec"], deployment.get("status") or {}
    wanted, available = spec.get("replicas", 1), status.get("availableReplicas") or 0
    condition = next((c for c in status.get("conditions") or [] if c["type"] == "Available"), {})
    if condition.get("status") == "True" and available >= wanted:
        return None
    selector = ",".join(f"{key}={value}" for key, value in spec["selector"].get("matchLabels", {}).items())
    pods = kube.list("v1", "Pod", meta["namespace"], selector=selector)
    return (f"{meta['namespace']}/{meta['name']}: {available}/{wanted} replicas available, Available="
            f"{condition.get('status', 'no condition')} {condition.get('reason', '')}".rstrip()
            + f"; pods: {'; '.join(pod_summary(pod) for pod in pods) or 'none'}")


@pytest.mark.check("S7.1")
def test_s7_1_monitoring_operators_available(mgmt_kube):
    """The victoria-metrics-operator and grafana-operator Deployments exist (in any namespace) and are Available
    with all their replicas; a missing one fails, naming where CozyStack puts it."""
    problems = []
    for name in OPERATORS:
        found = mgmt_kube.list("apps/v1", "Deployment", field_selector=f"metadata.name={name}")
        if not found:
            problems.append(f"Deployment {name} not found in any namespace (CozyStack installs it in cozy-{name})")
        problems += [problem for deployment in found if (problem := unavailable(mgmt_kube, deployment))]
    assert not problems, "; ".join(problems)
