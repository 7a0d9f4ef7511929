"""Health gate and version: the CozyStack version is recorded and the management cluster is healthy."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from proxqa import cozystack
from proxqa.kube.client import KubeClient
from proxqa.kube.workspace import pod_summary, stuck
from proxqa.waits import wait_for

VERSION_CONFIG_MAP = ("cozy-system", "cozystack-version")
SHOWN = 20                          # offenders named in a message; the rest are counted


@dataclass(frozen=True)
class Offender:
    what: str
    hopeless: bool = False          # a failed Helm release or a stuck container: waiting will not heal it


def unhealthy(kube: KubeClient) -> list[Offender]:
    """Every HelmRelease not Ready, Node not Ready, PVC not Bound and pod neither Running nor Succeeded (a Running
    pod with a container stuck in CrashLoopBackOff and the like counts too)."""
    found = []
    for hr in kube.list(cozystack.HELM_API, "HelmRelease"):
        ready = cozystack.condition(hr, "Ready")
        if ready.get("status") != "True":
            found.append(Offender(f"HelmRelease {hr['metadata']['namespace']}/{hr['metadata']['name']}: "
                                  f"{cozystack.shown(ready)} {ready.get('message', '')}".rstrip(),
                                  bool(cozystack.release_failure(ready))))
    for node in kube.list("v1", "Node"):
        ready = cozystack.condition(node, "Ready")
        if ready.get("status") != "True":
            found.append(Offender(f"Node {node['metadata']['name']}: {cozystack.shown(ready)}"))
    for pvc in kube.list("v1", "PersistentVolumeClaim"):
        phase = (pvc.get("status") or {}).get("phase", "no phase")
        if phase != "Bound":
            found.append(Offender(f"PVC {pvc['metadata']['namespace']}/{pvc['metadata']['name']}: {phase}"))
    for pod in kube.list("v1", "Pod"):
        reason = stuck(pod)
        if reason or (pod.get("status") or {}).get("phase") not in ("Running", "Succeeded"):
            found.append(Offender(f"pod {pod['metadata']['namespace']}/{reason or pod_summary(pod)}", bool(reason)))
    return found


def listed(offenders: list[Offender]) -> str:
    more = f"; and {len(offenders) - SHOWN} more" if len(offenders) > SHOWN else ""
    return f"{len(offenders)} unhealthy: " + "; ".join(o.what for o in offenders[:SHOWN]) + more


def hopeless(offenders: list[Offender]) -> str | None:
    found = sum(o.hopeless for o in offenders)
    return f"{found} will not heal by waiting (a failed Helm release or a stuck container)" if found else None


@pytest.mark.check("S8.8")
def test_s8_8_platform_is_healthy_and_versioned(mgmt_kube, record_environment, deadline):
    """The CozyStack version (ConfigMap cozy-system/cozystack-version) goes into the report; every HelmRelease is
    Ready, every Node Ready, every PVC Bound and every pod Running or Succeeded (transient states get the
    pod-running wait to settle; a failed release or a stuck container ends it at once)."""
    namespace, name = VERSION_CONFIG_MAP
    version = ((mgmt_kube.get("v1", "ConfigMap", name, namespace) or {}).get("data") or {}).get("version")
    assert version, f"ConfigMap {namespace}/{name} with data.version not found: the CozyStack version is unknown"
    record_environment("CozyStack version", version)
    wait_for("management cluster: every HelmRelease and Node Ready, PVC Bound, pod Running or Succeeded",
             lambda: unhealthy(mgmt_kube), done=lambda found: not found, failed=hopeless,
             deadline=deadline("pod-running"), show=listed)
