"""The driver and its StorageClass: running, registered on every workload node, configured as the plugin needs."""
import pytest

from proxqa.kube.storage_classes import DRIVER, storage_classes_of_driver
from proxqa.kube.workspace import is_ready, pod_summary
from proxqa.waits import wait_for

from .conftest import CONTROLLER, NODE_PLUGIN, TOPOLOGY

STUCK = ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError")


def _workload_pods(kube, kind: str, name: str) -> tuple[str, list[dict]]:
    """("kind name in namespace" or "", the pods its selector matches)."""
    found = kube.list("apps/v1", kind, field_selector=f"metadata.name={name}")
    if not found:
        return "", []
    owner = found[0]
    selector = ",".join(f"{k}={v}" for k, v in owner["spec"]["selector"].get("matchLabels", {}).items())
    namespace = owner["metadata"]["namespace"]
    return f"{kind} {namespace}/{name}", kube.list("v1", "Pod", namespace, selector=selector)


def _pod_problems(kube) -> list[str]:
    problems = []
    for kind, name in (("Deployment", CONTROLLER), ("DaemonSet", NODE_PLUGIN)):
        where, pods = _workload_pods(kube, kind, name)
        if not where:
            problems.append(f"no {kind} {name} in any namespace")
        elif not pods:
            problems.append(f"{where} has no pods")
        problems += [f"{where}: {pod_summary(p)}" for p in pods if not is_ready(p)]
    return problems


def _workload_nodes(kube) -> list[dict]:
    """Ready nodes that take ordinary pods (no NoSchedule/NoExecute taint)."""
    return [n for n in kube.list("v1", "Node")
            if is_ready(n) and not any(t["effect"] in ("NoSchedule", "NoExecute") for t in n["spec"].get("taints") or [])]


@pytest.mark.check("S5.1")
def test_s5_1_driver_runs_and_is_registered_on_every_workload_node(mgmt_kube, deadline):
    """CSIDriver exists; the controller's and node plugin's pods are all Ready; every workload node has the
    topology labels and a CSINode listing the driver."""
    assert mgmt_kube.get("storage.k8s.io/v1", "CSIDriver", DRIVER) is not None, f"no CSIDriver {DRIVER}"
    wait_for(f"pods of {CONTROLLER} and {NODE_PLUGIN} Ready", lambda: _pod_problems(mgmt_kube),
             done=lambda problems: not problems, deadline=deadline("pod-running"),
             failed=lambda problems: "; ".join(p for p in problems if any(r in p for r in STUCK)) or None,
             show="; ".join)
    nodes = _workload_nodes(mgmt_kube)
    assert nodes, "no Ready node without NoSchedule taints: nothing can consume a volume"
    problems = []
    for node in nodes:
        name, labels = node["metadata"]["name"], node["metadata"].get("labels") or {}
        problems += [f"{name}: no label {key}" for key in TOPOLOGY if not labels.get(key)]
        csinode = mgmt_kube.get("storage.k8s.io/v1", "CSINode", name)
        drivers = [d["name"] for d in ((csinode or {}).get("spec") or {}).get("drivers") or []]
        if DRIVER not in drivers:
            problems.append(f"{name}: CSINode lists {', '.join(drivers) or 'no driver'}, not {DRIVER}")
    assert not problems, "; ".join(problems)


@pytest.mark.check("S5.2")
def test_s5_2_storage_class_names_a_proxmox_storage(settings, mgmt_kube, pve, target_nodes):
    """Provisioner is the driver; parameters.storage is a Proxmox storage for disk images; WaitForFirstConsumer;
    volume expansion allowed."""
    named = settings.test.storage_class
    classes = [mgmt_kube.get("storage.k8s.io/v1", "StorageClass", named)] if named else \
        storage_classes_of_driver(mgmt_kube)
    assert classes and classes[0] is not None, \
        f"StorageClass {named} (TEST_STORAGE_CLASS) does not exist" if named else f"no StorageClass of {DRIVER}"
    sc = classes[0]
    name, storage = sc["metadata"]["name"], (sc.get("parameters") or {}).get("storage")
    problems = []
    if sc.get("provisioner") != DRIVER:
        problems.append(f"provisioner {sc.get('provisioner')}, not {DRIVER}")
    offered = {s.name for node in target_nodes for s in pve.storages(node) if "images" in s.content and s.active}
    if not storage:
        problems.append("no parameters.storage")
    elif storage not in offered:
        problems.append(f"parameters.storage {storage} is no active Proxmox storage for disk images "
                        f"(there are: {', '.join(sorted(offered)) or 'none'})")
    if sc.get("volumeBindingMode") != "WaitForFirstConsumer":
        problems.append(f"volumeBindingMode {sc.get('volumeBindingMode') or 'Immediate'}, not WaitForFirstConsumer "
                        "(volumes would be made in a zone before the pod's node is known)")
    if not sc.get("allowVolumeExpansion"):
        problems.append("allowVolumeExpansion is not true")
    assert not problems, f"StorageClass {name}: " + "; ".join(problems)
