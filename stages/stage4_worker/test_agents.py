"""Node agents: the CNI's agents (Cilium, Kube-OVN) run Ready on the worker."""
import pytest

from proxqa.kube.workspace import is_ready, pod_summary
from proxqa.kube.watching import Watched, wait_watching

from .conftest import NODE_AGENTS

CRASHING = ("CrashLoopBackOff", "ImagePullBackOff")


def _agent_pods(kube, node: str) -> dict[str, dict | None]:
    """"namespace/daemonset" -> its pod on the node, or None."""
    found: dict[str, dict | None] = {}
    for namespace, daemonset in NODE_AGENTS:
        pods = [p for p in kube.list("v1", "Pod", namespace, field_selector=f"spec.nodeName={node}")
                if any(o.get("kind") == "DaemonSet" and o.get("name") == daemonset
                       for o in p["metadata"].get("ownerReferences") or [])]
        found[f"{namespace}/{daemonset}"] = pods[0] if pods else None
    return found


def _problems(agents: dict[str, dict | None]) -> list[str]:
    return [f"{agent}: no pod on the node" if pod is None else f"{agent}: {pod_summary(pod)}"
            for agent, pod in agents.items() if pod is None or not is_ready(pod)]


@pytest.mark.check("S4.6")
def test_s4_6_node_agents_ready_on_the_worker(worker, deadline):
    """Cilium's agent and Kube-OVN's cni and ovs-ovn pods on the worker are Ready."""
    def crashing(agents):
        broken = [f"{agent}: {pod_summary(pod)}" for agent, pod in agents.items()
                  if pod is not None and any(reason in pod_summary(pod) for reason in CRASHING)]
        return "; ".join(broken) or None

    wait_watching([Watched(worker.kube, "v1", "Pod", namespace, fields=f"spec.nodeName={worker.node}")
                   for namespace in {ns for ns, _ in NODE_AGENTS}],
                  f"node agents on {worker.node} Ready", lambda: _agent_pods(worker.kube, worker.node),
                  done=lambda agents: not _problems(agents), failed=crashing, deadline=deadline("node-ready"),
                  show=lambda agents: "; ".join(_problems(agents)))
