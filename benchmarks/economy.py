"""API economy: the Proxmox requests the suite makes, from the twin's request log, on a big cluster.

    .venv/bin/python -m benchmarks economy --rounds 5 [--seed large]

A lab of the `large` seed (16 nodes, 2000 VMs) runs with `exporter-down`, so that nothing but the suite uses the
suite's token. Stages 1-2: every request counts (the lab's controllers are idle then: the idle window before the
runs shows it), split into requests to a node's paths (/nodes/{node}/...: per node) and the rest (the constant).
Stages 3-6: only the suite's requests count, told from the lab's controllers (CAPMOX, CSI, CCM: aiohttp) by the
User-Agent the twin logs (the suite's clients use requests), whatever token they carry (S3.7 stops a VM with the
CAPMOX token, S3.6 reads the guest agent with the CCM token); per VM cloned (stages 3 and 4) and per volume created
(stage 5). The controllers' requests are counted apart.
"""
from __future__ import annotations

import re
import time
from collections import Counter

import requests

from benchmarks.common import (Measure, SuiteRun, progress, require_success, run_suite, suite_environment,
                               temporary_lab)
from proxqa.labctl import LabControl

NAME = "economy"
PER_NODE_GOAL = 5.0
WALL_GOAL = 10.0
IDLE_WINDOW = 10.0          # seconds of request log taken before the runs, with no suite running
NORMALISED = ((r"^/api2/json", ""), (r"/nodes/[^/]+", "/nodes/{node}"), (r"/(qemu|lxc)/\d+", r"/\1/{vmid}"),
              (r"/tasks/[^/]+", "/tasks/{upid}"), (r"/content/.+", "/content/{volume}"),
              (r"/storage/[^/{]+", "/storage/{storage}"))
NODE_PATH = re.compile(r"^(/api2/json)?/nodes/[^/]+(/|$)")


def endpoint(method: str, path: str) -> str:
    """"GET /nodes/{node}/qemu/{vmid}/config" for "GET /api2/json/nodes/pve3/qemu/101/config"."""
    for pattern, replacement in NORMALISED:
        path = re.sub(pattern, replacement, path)
    return f"{method} {path}"


def per_node_split(entries: list[dict], node_count: int) -> tuple[float, int]:
    """(requests per node, requests to cluster-wide paths): requests under /nodes/{node}/ are per node."""
    on_nodes = sum(1 for entry in entries if NODE_PATH.match(entry["path"]))
    return on_nodes / node_count, len(entries) - on_nodes


def by_stage(entries: list[dict], run: SuiteRun) -> dict[str, list[dict]]:
    """Log entries by the stage whose tests ran when the twin took them."""
    windows: dict[str, list[float]] = {}
    for item in run.phases.get("items", []):
        window = windows.setdefault(item["stage"], [item["started"], item["started"]])
        window[1] = max(window[1], item["started"] + item["seconds"])
    return {stage: [e for e in entries if start <= e["time"] <= end] for stage, (start, end) in windows.items()}


def is_clone(entry: dict) -> bool:
    return entry["method"] == "POST" and entry["path"].endswith("/clone") and entry["status"] == 200


def is_volume(entry: dict, csi: str) -> bool:
    return (entry["identity"] == csi and entry["method"] == "POST" and entry["status"] == 200
            and re.search(r"/storage/[^/]+/content$", entry["path"]) is not None)


class RequestLog:
    """The twin's request log, read as it grows (it keeps the last 10000 entries only)."""

    def __init__(self, control: LabControl):
        self._control = control
        self.entries: list[dict] = []
        self._next = max((entry["index"] + 1 for entry in control.requests_seen(0)), default=0)

    def drain(self) -> None:
        new = self._control.requests_seen(self._next)
        if new:
            self.entries += new
            self._next = new[-1]["index"] + 1

    def taken(self) -> list[dict]:
        self.drain()
        entries, self.entries = self.entries, []
        return entries


def measure(options, context: dict) -> list[Measure]:
    with temporary_lab(NAME, f" of the {options.seed} seed with exporter-down", seed=options.seed,
                       faults=("exporter-down",)) as lab:
        return _measure(options, lab)


def _measure(options, lab) -> list[Measure]:
    nodes = lab.settings["PROXMOX_NODES"].split(",")
    log = RequestLog(LabControl(lab.control_url))
    inventory = requests.get(f"{lab.control_url}/inventory", timeout=30).json()
    vms = sum(1 for vm in inventory["vms"] if not vm.get("template"))
    progress(f"{NAME}: {len(nodes)} nodes, {vms} VMs; {IDLE_WINDOW:g} s idle window")
    time.sleep(IDLE_WINDOW)
    idle = log.taken()
    label = f"stages 1-2, {len(nodes)} nodes, {vms} VMs"
    total, per_node, constant = (Measure(NAME, f"{label}: requests", ""), Measure(NAME, "  per node", "",
                                 limit=PER_NODE_GOAL), Measure(NAME, "  cluster-wide (the constant)", ""))
    wall = Measure(NAME, "  wall", "s", limit=WALL_GOAL)
    checks = Measure(NAME, "  of it: the checks", "s")
    reports = Measure(NAME, "  of it: after the checks (summary, reports, exit)", "s")
    background = Measure(NAME, f"  lab's own requests in {IDLE_WINDOW:g} s idle", "")
    for round_ in range(1, options.rounds + 1):
        progress(f"{NAME}: stages 1-2 round {round_}/{options.rounds}")
        run = run_suite("--stage", "1,2", env=suite_environment(lab.settings), while_running=log.drain)
        require_success(run, f"{NAME} stages 1-2")
        entries = [entry for entry in log.taken() if entry["time"] >= run.started]
        nodes_share, cluster_wide = per_node_split(entries, len(nodes))
        for item, value in ((total, len(entries)), (per_node, nodes_share), (constant, cluster_wide),
                            (wall, run.wall), (checks, run.mark("checks_end") - run.mark("checks_start")),
                            (reports, run.wall - run.mark("checks_end")), (background, len(idle))):
            item.add(value, run.load)
        total.detail = {"endpoints": dict(Counter(endpoint(e["method"], e["path"]) for e in entries).most_common()),
                        "identities": dict(Counter(e["identity"] for e in entries)),
                        "idle window": dict(Counter(e["identity"] for e in idle))}
    return [total, per_node, constant, wall, checks, reports, background, *_objects(options, lab, log)]


def by_suite(entry: dict) -> bool:
    """Sent by the suite, not by one of the lab's controllers (which are aiohttp clients)."""
    return "aiohttp" not in entry["user_agent"]


def _objects(options, lab, log: RequestLog) -> list[Measure]:
    """Stages 3-6: the suite's requests per object created."""
    csi = lab.settings["PROXMOX_CSI_TOKEN_ID"]
    per_vm = Measure(NAME, "stages 3-4: suite requests per VM cloned", "")
    per_volume = Measure(NAME, "stage 5: suite requests per volume created", "")
    stage6 = Measure(NAME, "stage 6: suite requests (it creates nothing in Proxmox)", "")
    others = Measure(NAME, "stages 3-6: requests of the lab's controllers per VM or volume", "")
    wall = Measure(NAME, "stages 3-6: wall", "s")
    for round_ in range(1, options.rounds + 1):
        progress(f"{NAME}: stages 3-6 round {round_}/{options.rounds}")
        run = run_suite("--stage", "3,4,5,6", env=suite_environment(lab.settings), while_running=log.drain)
        require_success(run, f"{NAME} stages 3-6")
        stages = by_stage([e for e in log.taken() if e["time"] >= run.started], run)
        vm_stages = stages.get("stage3", []) + stages.get("stage4", [])
        volume_stage = stages.get("stage5", [])
        vms_made = sum(map(is_clone, vm_stages))
        volumes_made = sum(is_volume(e, csi) for e in volume_stage)
        every = vm_stages + volume_stage + stages.get("stage6", [])
        per_vm.add(sum(map(by_suite, vm_stages)) / max(vms_made, 1), run.load)
        per_volume.add(sum(map(by_suite, volume_stage)) / max(volumes_made, 1), run.load)
        stage6.add(sum(map(by_suite, stages.get("stage6", []))), run.load)
        others.add(sum(not by_suite(e) for e in every) / max(vms_made + volumes_made, 1), run.load)
        wall.add(run.wall, run.load)
        per_vm.detail = {"VMs cloned": vms_made, "volumes created": volumes_made,
                         "suite endpoints, stages 3-4": dict(Counter(endpoint(e["method"], e["path"])
                                                                     for e in vm_stages if by_suite(e))),
                         "suite endpoints, stage 5": dict(Counter(endpoint(e["method"], e["path"])
                                                                  for e in volume_stage if by_suite(e))),
                         "suite identities": dict(Counter(e["identity"] for e in every if by_suite(e))),
                         "controller identities": dict(Counter(e["identity"] for e in every if not by_suite(e)))}
    return [per_vm, per_volume, stage6, others, wall]
