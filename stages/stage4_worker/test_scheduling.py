"""Scheduling on the worker: a pinned pod starts within the SLA; one that does not fit stays Pending."""
import time

import pytest

from proxqa.kube import manifests
from proxqa.kube.quantities import cpu_millicores
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import pod_summary, stuck

def _condition(pod: dict, kind: str) -> dict:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})



@pytest.mark.check("S4.4")
def test_s4_4_pinned_pod_starts_within_sla(worker, make_workspace, names, settings, deadline, sla):
    """A pod pinned to the worker reaches Running and Ready; SLA: created -> Ready below pod_startup."""
    space = make_workspace(worker.kube)
    namespace = space.namespace("pods")
    name = names.new("pod")
    started = time.perf_counter()
    space.create(manifests.pod(name, namespace, settings.test.pod_image, node=worker.node))
    pod = wait_watching([Watched(worker.kube, "v1", "Pod", namespace, name)],
                        f"pod {name} on {worker.node} Running and Ready",
                        lambda: worker.kube.get("v1", "Pod", name, namespace),
                        done=lambda p: p["status"].get("phase") == "Running"
                        and _condition(p, "Ready").get("status") == "True",
                        failed=stuck, deadline=deadline("pod-running"), show=pod_summary)
    elapsed = time.perf_counter() - started
    assert pod["spec"].get("nodeName") == worker.node, f"{name} runs on {pod['spec'].get('nodeName')}"
    sla.expect("pod-startup", elapsed, threshold="pod_startup")


@pytest.mark.check("S4.5")
def test_s4_5_oversized_pod_stays_pending_insufficient(worker, make_workspace, names, settings, deadline):
    """The node reports allocatable CPU and memory; a pod asking for more CPU than that stays Pending with reason
    Insufficient cpu."""
    node = worker.kube.get("v1", "Node", worker.node)
    allocatable = node["status"].get("allocatable") or {}
    assert cpu_millicores(allocatable.get("cpu", "0")) > 0 and allocatable.get("memory"), \
        f"node {worker.node} reports no allocatable CPU/memory: {allocatable}"
    space = make_workspace(worker.kube)
    namespace = space.namespace("pods")
    name = names.new("big")
    wanted = f"{cpu_millicores(allocatable['cpu']) + 1000}m"
    space.create(manifests.pod(name, namespace, settings.test.pod_image, node=worker.node,
                               requests={"cpu": wanted}))
    pod = wait_watching([Watched(worker.kube, "v1", "Pod", namespace, name)],
                        f"pod {name} (cpu {wanted}, allocatable {allocatable['cpu']}) reported unschedulable",
                        lambda: worker.kube.get("v1", "Pod", name, namespace),
                   done=lambda p: _condition(p, "PodScheduled").get("reason") == "Unschedulable",
                   failed=lambda p: f"scheduled onto {p['spec']['nodeName']} although it asks for more CPU than "
                                    f"allocatable" if p["spec"].get("nodeName") else None,
                   deadline=deadline("pod-scheduled"), show=pod_summary)
    message = _condition(pod, "PodScheduled").get("message", "")
    assert "Insufficient cpu" in message, f"{name} is unschedulable for another reason: {message}"
