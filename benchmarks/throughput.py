"""Lab throughput on loopback: simple requests per second of the lab's Kubernetes API and of the Proxmox twin, and
the latency of a watch event (create -> the watcher sees ADDED). Medians of several rounds.

    .venv/bin/python -m benchmarks throughput --rounds 5 [--requests 2000] [--events 200]
    .venv/bin/python -m benchmarks.throughput --rounds 5        (the same)
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from kubernetes import client, config, watch

from benchmarks.common import Measure, progress
from proxqa.labctl import start_lab, stop_lab
from proxqa.sla import percentiles

NAME = "throughput"


def kube_gets_per_second(core: client.CoreV1Api, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        core.read_namespace("default")
    return count / (time.perf_counter() - started)


def twin_gets_per_second(settings: dict, count: int) -> float:
    session, ca = requests.Session(), settings["PROXMOX_CA_BUNDLE"]      # verify per request: REQUESTS_CA_BUNDLE
    session.headers["Authorization"] = f"PVEAPIToken={settings['PROXMOX_TOKEN_ID']}={settings['PROXMOX_TOKEN_SECRET']}"
    url = f"https://{settings['PROXMOX_HOST']}:{settings['PROXMOX_PORT']}/api2/json/version"
    started = time.perf_counter()
    for _ in range(count):
        session.get(url, verify=ca).raise_for_status()
    return count / (time.perf_counter() - started)


def watch_latencies(core: client.CoreV1Api, namespace: str, count: int) -> list[float]:
    """Seconds from a ConfigMap's create call returning to its ADDED event reaching a watcher."""
    created: dict[str, float] = {}
    seen: dict[str, float] = {}
    ready = threading.Event()

    def watcher() -> None:
        stream = watch.Watch()
        ready.set()
        for event in stream.stream(core.list_namespaced_config_map, namespace, timeout_seconds=120):
            name = event["object"].metadata.name
            if event["type"] == "ADDED" and name.startswith("bench-"):
                seen[name] = time.perf_counter()
                if len(seen) == count:
                    stream.stop()

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(0.5)
    for index in range(count):
        name = f"bench-{index}"
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
        created[name] = time.perf_counter()
        time.sleep(0.005)
    thread.join(timeout=120)
    return [max(seen[name] - created[name], 0.0) for name in created if name in seen]


def measure(options, context: dict) -> list[Measure]:
    kube = Measure(NAME, "lab Kubernetes API GET /api/v1/namespaces/default (CoreV1Api)", "req/s", limit=500,
                   at_least=True)
    twin = Measure(NAME, "Proxmox twin GET /api2/json/version (requests, token)", "req/s")
    p50 = Measure(NAME, "watch event latency (create -> ADDED seen), p50", "ms")
    p95 = Measure(NAME, "  p95", "ms")
    with tempfile.TemporaryDirectory(prefix="proxqa-bench-") as state:
        progress(f"{NAME}: starting a lab")
        lab = start_lab(Path(state), watch_pid=os.getpid())
        try:
            core = client.CoreV1Api(config.new_client_from_config(config_file=lab.settings["KUBECONFIG"]))
            for round_ in range(1, options.rounds + 1):
                progress(f"{NAME}: round {round_}/{options.rounds}: {options.requests} kube GETs, "
                         f"{options.requests // 4} twin GETs, {options.events} watch events")
                kube.add(kube_gets_per_second(core, options.requests))
                twin.add(twin_gets_per_second(lab.settings, options.requests // 4))
                namespace = f"bench-{round_}"
                core.create_namespace({"metadata": {"name": namespace}})
                latencies = percentiles(watch_latencies(core, namespace, options.events))
                p50.add(latencies.p50 * 1000)
                p95.add(latencies.p95 * 1000)
        finally:
            stop_lab(Path(state))
    return [kube, twin, p50, p95]


if __name__ == "__main__":
    from benchmarks.__main__ import main
    sys.exit(main([NAME, *sys.argv[1:]]))
