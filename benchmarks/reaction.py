"""Wait reaction: after the lab makes a pod Ready, how long until the suite's waits see it, and how many requests a
waiter makes meanwhile; for both kinds of wait the suite has.

    .venv/bin/python -m benchmarks reaction --rounds 5 [--waiters 10] [--reaction-scale 1]

- watched: proxqa.kube.watching.wait_watching, as every Kubernetes wait of the suite: a watch on the pod wakes
  the wait, which then reads the pod (GET).
- polled: proxqa.waits.wait_for with a GET a second, as the waits on Proxmox tasks and the monitoring APIs
  (neither has a watch).

A lab at time scale --reaction-scale (1: a pod takes its realistic ~5 s: sandbox, image pull, start). Each round
creates --waiters pods in the management cluster; each pod gets one waiter of each kind, each starting after its
own random 0-3 s (so the looks fall at any phase of the change, as with real durations). A separate Kubernetes watch
on the namespace gives the moment the pod became Ready (the lab's event reaches a watcher in well under a
millisecond, see the throughput benchmark): reaction = the wait returned - Ready seen by that watch. Requests are
counted per waiter on its own client: every GET, and for the watched kind the list that gives the watch its
resourceVersion and each watch request.
"""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from kubernetes import client, watch

from benchmarks.common import Measure, progress, temporary_lab
from proxqa.config import Settings
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import is_ready
from proxqa.sla import percentiles
from proxqa.waits import POLL, Deadline, wait_for

NAME = "reaction"
KINDS = ("watched", "polled")
REACTION_GOAL = 1.0        # seconds, p95
RATE_GOAL = 1.0            # requests per second per waiter (or a watch)
LONGEST_OFFSET = 3.0       # seconds a waiter may start after its pod was created
WAIT_SECONDS = 120.0


class CountingKube(KubeClient):
    """A waiter's own client, counting the requests of its wait."""

    def __init__(self, kubeconfig: Path):
        super().__init__(kubeconfig, "management cluster")
        self.requests = 0

    def get(self, *args, **options):
        self.requests += 1
        return super().get(*args, **options)

    def resource_version(self, *args, **options):
        self.requests += 1
        return super().resource_version(*args, **options)

    def watch(self, *args, **options):
        self.requests += 1
        return super().watch(*args, **options)


def ready_times(core: client.CoreV1Api, namespace: str, count: int, seen: dict[str, float],
                listening: threading.Event) -> None:
    """Fill seen: pod name -> when the watch saw its Ready condition True, until count pods are in."""
    stream = watch.Watch()
    listening.set()
    for event in stream.stream(core.list_namespaced_pod, namespace, timeout_seconds=int(WAIT_SECONDS)):
        pod = event["object"]
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        if ready and pod.metadata.name not in seen:
            seen[pod.metadata.name] = time.time()
            if len(seen) == count:
                stream.stop()


def pod_body(name: str, namespace: str, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]}}


def one_waiter(kube: CountingKube, kind: str, name: str, namespace: str, results: dict[tuple[str, str], dict]) -> None:
    """Wait for the pod to be Ready the way the suite's waits of this kind do."""
    time.sleep(random.uniform(0, LONGEST_OFFSET))
    kube.requests = 0
    began, what, deadline = time.time(), f"pod {namespace}/{name} Ready", Deadline(WAIT_SECONDS)
    probe = lambda: kube.get("v1", "Pod", name, namespace)      # noqa: E731
    if kind == "watched":
        wait_watching([Watched(kube, "v1", "Pod", namespace, name)], what, probe, done=is_ready, deadline=deadline)
    else:
        wait_for(what, probe, done=is_ready, deadline=deadline)
    results[kind, name] = {"began": began, "seen": time.time(), "requests": kube.requests}


def one_round(kube: KubeClient, waiters: dict[str, list[CountingKube]], namespace: str, image: str) -> list[dict]:
    """Per waiter: its kind, reaction seconds and requests per second of its wait."""
    count = len(waiters[KINDS[0]])
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    seen: dict[str, float] = {}
    listening = threading.Event()
    watcher = threading.Thread(target=ready_times, args=(kube.core, namespace, count, seen, listening), daemon=True)
    watcher.start()
    listening.wait()
    time.sleep(0.2)
    results: dict[tuple[str, str], dict] = {}
    threads = []
    for n in range(count):
        name = f"waiter-{n}"
        kube.create(pod_body(name, namespace, image))
        threads += [threading.Thread(target=one_waiter, args=(waiters[kind][n], kind, name, namespace, results))
                    for kind in KINDS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    watcher.join(WAIT_SECONDS)
    samples = []
    for (kind, name), result in results.items():
        if name in seen and seen[name] > result["began"]:       # Ready while waiting: the case that needs waiting
            waited = result["seen"] - result["began"]
            samples.append({"kind": kind, "reaction": result["seen"] - seen[name], "requests": result["requests"],
                            "rate": (result["requests"] - 1) / waited, "waited": waited})
    kube.delete_namespace(namespace)
    return samples


def measure(options, context: dict) -> list[Measure]:
    with temporary_lab(NAME, f" at time scale {options.reaction_scale:g}", time_scale=options.reaction_scale) as lab:
        kubeconfig = Path(lab.settings["KUBECONFIG"])
        kube = KubeClient(kubeconfig, "management cluster")
        waiters = {kind: [CountingKube(kubeconfig) for _ in range(options.waiters)] for kind in KINDS}
        for client_ in (c for clients in waiters.values() for c in clients):
            client_.get("v1", "Namespace", "default")          # discovery done before the first round
        image = Settings.model_fields["test"].default.server_image
        measures, every = {}, []
        for kind in KINDS:
            measures[kind] = [
                Measure(NAME, f"{kind}: pod Ready -> the wait sees it, p50 ({options.waiters} waiters)", "s"),
                Measure(NAME, f"{kind}:   p95", "s", limit=REACTION_GOAL),
                Measure(NAME, f"{kind}:   requests per second of wait after the first, p95 over waiters", "1/s",
                        limit=None if kind == "watched" else RATE_GOAL),
                Measure(NAME, f"{kind}:   requests per wait, median", "")]
        for round_ in range(1, options.rounds + 1):
            progress(f"{NAME}: round {round_}/{options.rounds}: {options.waiters} pods, a watched and a polled "
                     "waiter each")
            samples = one_round(kube, waiters, f"bench-reaction-{round_}", image)
            every += samples
            for kind in KINDS:
                mine = [s for s in samples if s["kind"] == kind]
                if not mine:
                    raise RuntimeError(f"round {round_}: no pod became Ready while its {kind} waiter waited")
                p50, p95, rate, requests = measures[kind]
                reactions = percentiles(s["reaction"] for s in mine)
                p50.add(reactions.p50)
                p95.add(reactions.p95, p50.loads[-1])
                rate.add(percentiles(s["rate"] for s in mine).p95, p50.loads[-1])
                requests.add(percentiles(s["requests"] for s in mine).p50, p50.loads[-1])
        measures[KINDS[0]][0].detail = {"poll": POLL,
                                        "samples": [{k: round(v, 3) if isinstance(v, float) else v
                                                     for k, v in s.items()} for s in every]}
        return [m for kind in KINDS for m in measures[kind]]
