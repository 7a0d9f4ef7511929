"""Wait reaction: after the lab makes a pod Ready, how long until proxqa's wait_for (with the default poll schedule
of proxqa.waits.Deadline) sees it, and how many requests per second a waiter makes meanwhile.

    .venv/bin/python -m benchmarks reaction --rounds 5 [--waiters 10] [--reaction-scale 1]

A lab at time scale --reaction-scale (1: a pod takes its realistic ~5 s: sandbox, image pull, start). Each round,
--waiters threads each create a pod in the management cluster, wait a random 0-3 s (so the polls fall at any phase
of the change, as with real durations), then wait_for it to be Ready, polling with GET. A Kubernetes watch on the
namespace gives the moment the pod became Ready (the lab's event reaches a watcher in well under a millisecond, see
the throughput benchmark): reaction = wait_for returned - Ready seen by the watch.
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
from proxqa.kube.workspace import is_ready
from proxqa.sla import percentiles
from proxqa.waits import Deadline, wait_for

NAME = "reaction"
REACTION_GOAL = 1.0        # seconds, p95
RATE_GOAL = 1.0            # requests per second per waiter
LONGEST_OFFSET = 3.0       # seconds a waiter may start after its pod was created
WAIT_SECONDS = 120.0


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


def one_waiter(kube: KubeClient, name: str, namespace: str, image: str, results: dict[str, dict]) -> None:
    kube.create(pod_body(name, namespace, image))
    time.sleep(random.uniform(0, LONGEST_OFFSET))
    polls = 0

    def probe() -> dict | None:
        nonlocal polls
        polls += 1
        return kube.get("v1", "Pod", name, namespace)

    began = time.time()
    wait_for(f"pod {namespace}/{name} Ready", probe, done=is_ready, deadline=Deadline(WAIT_SECONDS))
    results[name] = {"began": began, "seen": time.time(), "polls": polls}


def one_round(kube: KubeClient, namespace: str, waiters: int, image: str) -> list[dict]:
    """Per waiter: reaction seconds and requests per second of its wait."""
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    seen: dict[str, float] = {}
    listening = threading.Event()
    watcher = threading.Thread(target=ready_times, args=(kube.core, namespace, waiters, seen, listening), daemon=True)
    watcher.start()
    listening.wait()
    time.sleep(0.2)
    results: dict[str, dict] = {}
    threads = [threading.Thread(target=one_waiter, args=(kube, f"waiter-{n}", namespace, image, results))
               for n in range(waiters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    watcher.join(WAIT_SECONDS)
    samples = []
    for name, result in results.items():
        if name in seen and seen[name] > result["began"]:       # Ready while waiting: the case that needs polling
            samples.append({"reaction": result["seen"] - seen[name], "polls": result["polls"],
                            "rate": (result["polls"] - 1) / (result["seen"] - result["began"]),
                            "waited": result["seen"] - result["began"]})
    kube.delete_namespace(namespace)
    return samples


def measure(options, context: dict) -> list[Measure]:
    with temporary_lab(NAME, f" at time scale {options.reaction_scale:g}", time_scale=options.reaction_scale) as lab:
        kube = KubeClient(Path(lab.settings["KUBECONFIG"]), "management cluster")
        image = Settings.model_fields["test"].default.server_image
        p50 = Measure(NAME, f"pod Ready -> wait_for sees it, p50 ({options.waiters} waiters)", "s")
        p95 = Measure(NAME, "  p95", "s", limit=REACTION_GOAL)
        rate = Measure(NAME, "  looks after the first, per second of wait: p95 over waiters", "1/s", limit=RATE_GOAL)
        mean_rate = Measure(NAME, "  the same, median over waiters", "1/s")
        every = []
        for round_ in range(1, options.rounds + 1):
            progress(f"{NAME}: round {round_}/{options.rounds}: {options.waiters} pods, one waiter each")
            samples = one_round(kube, f"bench-reaction-{round_}", options.waiters, image)
            if not samples:
                raise RuntimeError(f"round {round_}: no pod became Ready while its waiter polled")
            every += samples
            reactions = percentiles(s["reaction"] for s in samples)
            rates = percentiles(s["rate"] for s in samples)
            p50.add(reactions.p50)
            p95.add(reactions.p95, p50.loads[-1])
            rate.add(rates.p95, p50.loads[-1])
            mean_rate.add(rates.p50, p50.loads[-1])
        poll = Deadline(WAIT_SECONDS)
        p50.detail = {"poll schedule": {"first_poll": poll.first_poll, "max_poll": poll.max_poll},
                      "samples": [{k: round(v, 3) for k, v in s.items()} for s in every]}
        return [p50, p95, rate, mean_rate]
