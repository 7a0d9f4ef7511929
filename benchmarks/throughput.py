"""Lab throughput on loopback: simple requests per second of the lab's Kubernetes API and of the Proxmox twin, and
the latency of a watch event (create -> the watcher sees ADDED). Medians of several rounds.

    .venv/bin/python -m benchmarks.throughput [--rounds 5] [--requests 2000] [--events 200]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from kubernetes import client, config, watch

from proxqa.labctl import start_lab, stop_lab


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proxqa-bench-") as state:
        lab = start_lab(Path(state))
        try:
            core = client.CoreV1Api(config.new_client_from_config(config_file=lab.settings["KUBECONFIG"]))
            kube = [kube_gets_per_second(core, args.requests) for _ in range(args.rounds)]
            twin = [twin_gets_per_second(lab.settings, args.requests // 4) for _ in range(args.rounds)]
            latencies = []
            for round_ in range(args.rounds):
                namespace = f"bench-{round_}"
                core.create_namespace({"metadata": {"name": namespace}})
                latencies.append(sorted(watch_latencies(core, namespace, args.events)))
        finally:
            stop_lab(Path(state))
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"kube API GET /api/v1/namespaces/default (CoreV1Api): median {statistics.median(kube):.0f} req/s "
          f"over {args.rounds} rounds of {args.requests} ({', '.join(f'{v:.0f}' for v in kube)})")
    print(f"Proxmox twin GET /api2/json/version (requests, token): median {statistics.median(twin):.0f} req/s "
          f"({', '.join(f'{v:.0f}' for v in twin)})")
    p50 = statistics.median(statistics.median(r) for r in latencies)
    p95 = statistics.median(r[int(0.95 * (len(r) - 1))] for r in latencies)
    print(f"watch event latency (create -> ADDED seen): median of rounds p50 {p50 * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms ({args.events} events per round)")


if __name__ == "__main__":
    main()
