"""CNI health: Cilium's agents and Kube-OVN's controller, cni and ovs-ovn pods run Ready, none stuck or restarting."""
from dataclasses import dataclass

import pytest

from proxqa.kube.workspace import is_ready, pod_summary, stuck
from proxqa.waits import wait_for

from .conftest import restarts


@dataclass(frozen=True)
class Workload:
    namespace: str
    kind: str           # DaemonSet or Deployment
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


CNI = (Workload("cozy-cilium", "DaemonSet", "cilium"),
       Workload("cozy-kubeovn", "Deployment", "kube-ovn-controller"),
       Workload("cozy-kubeovn", "DaemonSet", "kube-ovn-cni"),
       Workload("cozy-kubeovn", "DaemonSet", "ovs-ovn"))


@dataclass(frozen=True)
class Seen:
    workload: Workload
    obj: dict | None
    pods: list[dict]


def _look(kube, workload: Workload) -> Seen:
    obj = kube.get("apps/v1", workload.kind, workload.name, workload.namespace)
    if obj is None:
        return Seen(workload, None, [])
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    return Seen(workload, obj, kube.list("v1", "Pod", workload.namespace, selector=selector))


def _rollout_problem(seen: Seen) -> str | None:
    status = seen.obj.get("status") or {}
    if seen.workload.kind == "DaemonSet":
        desired, ready_ = status.get("desiredNumberScheduled") or 0, status.get("numberReady") or 0
        return None if desired and ready_ == desired else f"{seen.workload}: {ready_} of {desired} pods ready"
    available = next((c for c in status.get("conditions") or [] if c["type"] == "Available"), {})
    if available.get("status") == "True":
        return None
    return f"{seen.workload} not Available ({available.get('reason', 'no condition')}: {available.get('message', '')})"


def _init_stuck(pod: dict) -> bool:
    """Still running its init containers: kubectl's Init:N/M."""
    return any(((c.get("state") or {}).get("terminated") or {}).get("exitCode") != 0
               for c in (pod.get("status") or {}).get("initContainerStatuses") or [])


def _over_limit(pod: dict, limit: int) -> str | None:
    count = restarts(pod)
    return f"{pod['metadata']['name']}: {count} restarts (limit {limit}, capi.max_restarts)" if count >= limit else None


def _problems(state: list[Seen], limit: int) -> list[str]:
    found = []
    for seen in state:
        if seen.obj is None:
            found.append(f"{seen.workload} not found")
            continue
        if problem := _rollout_problem(seen):
            found.append(problem)
        for pod in seen.pods:
            if _init_stuck(pod):
                found.append(f"{pod_summary(pod)} (stuck in Init)")
            elif not is_ready(pod):
                found.append(pod_summary(pod))
            if too_many := _over_limit(pod, limit):
                found.append(too_many)
    return found


def _terminal(state: list[Seen], limit: int) -> str | None:
    """Missing components, crash loops, failed pulls and restarts over the limit do not heal by waiting."""
    found = [f"{seen.workload} not found" for seen in state if seen.obj is None]
    found += [reason for seen in state for pod in seen.pods for reason in (stuck(pod), _over_limit(pod, limit))
              if reason]
    return "; ".join(found) or None


@pytest.mark.check("S6.1")
def test_s6_1_cni_components_healthy(mgmt_kube, settings, deadline):
    """Cilium's DaemonSet has every desired pod ready and none stuck in Init; Kube-OVN's controller Deployment is
    Available and its cni and ovs-ovn DaemonSets have every desired pod ready; no pod restarted capi.max_restarts
    times or more."""
    limit = settings.capi.max_restarts
    wait_for("CNI components (Cilium, Kube-OVN) healthy", lambda: [_look(mgmt_kube, w) for w in CNI],
             done=lambda state: not _problems(state, limit), failed=lambda state: _terminal(state, limit),
             deadline=deadline("pod-running"), show=lambda state: "; ".join(_problems(state, limit)))
