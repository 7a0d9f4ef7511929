"""Run-labelled objects on one cluster, each removed in teardown unless the run keeps its resources."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxqa.diagnostics import Diagnostics
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.naming import Names
from proxqa.waits import Deadline


@dataclass(frozen=True)
class ProbeResult:
    succeeded: bool
    log: str            # what the probe printed (its evidence)


class Workspace:
    """Creates objects with the run's labels and registers their deletion (with a wait until gone) first, so even a
    test that fails half way leaves nothing behind."""

    def __init__(self, kube: KubeClient, names: Names, *, delete_deadline: Deadline,
                 add_cleanup: Callable[[Callable[[], None]], None], diagnostics: Diagnostics):
        self.kube, self.names = kube, names
        self._delete_deadline, self._add_cleanup = delete_deadline, add_cleanup
        self._diagnostics = diagnostics

    def namespace(self, what: str, labels: dict[str, str] | None = None) -> str:
        """A new namespace named after the run; its pods and events are reported if the check fails."""
        name = self.names.new(what)
        self._add_cleanup(self._diagnostics.watch(f"namespace {name} on the {self.kube.name}",
                                                  lambda: namespace_report(self.kube, name)))
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
        return name

    def create(self, body: dict) -> dict:
        """Create the object with the run's labels, its deletion registered and its record in the run's ledger
        written first."""
        meta = body["metadata"]
        meta["labels"] = {**meta.get("labels", {}), **self.names.labels}
        self._add_cleanup(lambda: self.remove(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace")))
        self.names.intend(self.kube.name, body)
        return self.kube.create(body)

    def remove(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete and wait until the object is gone."""
        delete_and_wait(self.kube, api_version, kind, name, namespace, self._delete_deadline)

    def run_probe(self, job: dict, deadline: Deadline) -> ProbeResult:
        """Run a probe Job (backoffLimit 0) to its end; its exit status is the verdict."""
        meta = job["metadata"]
        self.create(job)
        name, namespace = meta["name"], meta["namespace"]

        def state() -> dict:
            return self.kube.get("batch/v1", "Job", name, namespace) or {}

        finished = wait_watching([Watched(self.kube, "batch/v1", "Job", namespace, name)], f"probe Job {name}",
                                 state, done=_job_finished, deadline=deadline,
                                 show=lambda job_: self._pod_detail(namespace, name) or "no pod yet")
        conditions = {c["type"]: c["status"] for c in finished.get("status", {}).get("conditions") or []}
        pods = self.kube.list("v1", "Pod", namespace, selector=f"job-name={name}")
        log = "\n".join(self.kube.pod_log(namespace, p["metadata"]["name"]) for p in pods).strip()
        return ProbeResult(conditions.get("Complete") == "True", log)

    def _pod_detail(self, namespace: str, job_name: str) -> str:
        pods = self.kube.list("v1", "Pod", namespace, selector=f"job-name={job_name}")
        return "; ".join(pod_summary(p) for p in pods)


def delete_and_wait(kube: KubeClient, api_version: str, kind: str, name: str, namespace: str | None,
                    deadline: Deadline) -> None:
    """Delete the object (a no-op when it is gone already) and wait until the API no longer has it."""
    if kube.delete(api_version, kind, name, namespace):
        wait_watching([Watched(kube, api_version, kind, namespace, name)],
                      f"{kind} {name} to be deleted from the {kube.name}",
                      lambda: kube.get(api_version, kind, name, namespace), done=lambda obj: obj is None,
                      deadline=deadline, show=lambda obj: "still there")


def _job_finished(job: dict) -> bool:
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
               for c in job.get("status", {}).get("conditions") or [])


def is_ready(obj: dict | None) -> bool:
    """True when a pod or node exists and its Ready condition is True."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def pod_summary(pod: dict) -> str:
    """"name: phase, waiting reason / condition message" as a reader wants it in a failure message."""
    status = pod.get("status") or {}
    parts = [status.get("phase") or "no phase"]
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            parts.append(f"{container['name']} {waiting.get('reason')}: {waiting.get('message', '')}".rstrip(": "))
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            parts.append(f"{condition['type']} {condition['reason']}: {condition.get('message', '')}".rstrip(": "))
    return f"{pod['metadata']['name']}: " + ", ".join(parts)


STUCK_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
                 "CreateContainerConfigError")


def stuck(pod: dict) -> str | None:
    """"pod container: reason: message" of a container (init containers too) waiting in a state it will not leave by
    itself, or None: a wait on the pod stops there instead of running into its deadline."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_WAITING:
            return f"{pod['metadata']['name']} {container['name']}: {waiting['reason']}: " \
                   f"{waiting.get('message', '')}".rstrip(": ")
    return None


def namespace_report(kube: KubeClient, namespace: str, last_events: int = 30) -> str:
    """The namespace's pods and its latest events, one line each."""
    lines = [pod_summary(pod) for pod in kube.list("v1", "Pod", namespace)] or ["no pods"]
    events = kube.list("v1", "Event", namespace)
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    lines += [f"{e.get('type')} {e.get('reason')} {e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}: "
              f"{e.get('message', '')}" for e in events[-last_events:]]
    return "\n".join(lines)
