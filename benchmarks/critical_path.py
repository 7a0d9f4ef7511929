"""Critical path: the full run at a realistic time scale against the waits it cannot avoid.

    .venv/bin/python -m benchmarks critical-path --rounds 5 --time-scale 0.05

The lab models clone, boot, join, pod start, provisioning ... in realistic seconds, times the time scale. The
critical path is, per stage, the chain of modelled durations its checks wait for one after another (the suite runs
one check at a time; waits inside one check that the lab runs side by side count once), summed over the stages.
The durations are read from the lab's own constants (lab/pve_twin/vms.py, backups.py, lab/cluster/kubelet.py,
pods.py, csi.py, csi_volumes.py), so the figure follows the lab when its timings change; STAGE_WAITS says which
waits each stage does. The ratio that has a goal is wall(s) / (wall(0) + critical path(s)): the scaled run against
the same run at time scale 0 (its work) plus the waits it must do; 1.0 means no polling tails and nothing waited
for in series that could overlap.
"""
from __future__ import annotations

import ast
import math
import statistics
from pathlib import Path

from benchmarks.common import REPO, Measure, progress
from benchmarks.overhead import full_runs, stage_seconds, top_waits
from proxqa.config import Settings

NAME = "critical-path"
GOAL_RATIO = 1.15
# (file, constant) -> the name the model uses; realistic seconds
LAB_CONSTANTS = {
    ("lab/pve_twin/vms.py", "CLONE_SECONDS"): "clone_base",
    ("lab/pve_twin/vms.py", "COPY_SECONDS_PER_GIB"): "copy_per_gib",
    ("lab/pve_twin/vms.py", "START_SECONDS"): "vm_start",
    ("lab/pve_twin/vms.py", "BOOT_SECONDS"): "boot",
    ("lab/pve_twin/vms.py", "RESIZE_SECONDS"): "resize",
    ("lab/pve_twin/backups.py", "BACKUP_SECONDS"): "backup",
    ("lab/pve_twin/backups.py", "RESTORE_SECONDS"): "restore",
    ("lab/cluster/kubelet.py", "JOIN_SECONDS"): "join",
    ("lab/cluster/kubelet.py", "CNI_SECONDS"): "cni",
    ("lab/cluster/pods.py", "SANDBOX_SECONDS"): "sandbox",
    ("lab/cluster/pods.py", "PULL_SECONDS"): "pull",
    ("lab/cluster/pods.py", "START_SECONDS"): "container_start",
    ("lab/cluster/pods.py", "STOP_SECONDS"): "container_stop",
    ("lab/cluster/csi_volumes.py", "PROVISION_SECONDS"): "provision",
    ("lab/cluster/csi.py", "ATTACH_SECONDS"): "attach",
    ("stages/stage6_network_policy/conftest.py", "PROBE_TIMEOUT"): "probe_timeout",
}
# stage -> (check, what it waits for, {duration: how many times in series})
STAGE_WAITS: dict[str, tuple[tuple[str, str, dict[str, int]], ...]] = {
    "stage3": (("S3.6", "a chain's VM ready", {"vm": 1}),
               ("S3.7", "VM ready, started again after a stop, a second VM on scale-up", {"vm": 2, "vm_start": 1})),
    "stage4": (("S4.1", "a worker: VM ready, kubelet joined, CNI ready", {"worker": 1}),
               ("S4.4", "a pinned pod starts", {"pod": 1})),
    "stage5": (("S5.3", "a claim with its consumer", {"volume": 1}),
               ("S5.4", "a writer Job on a new claim, then a reader Job", {"volume": 1, "pod": 1}),
               ("S5.5", "a claim with its consumer, then grown", {"volume": 1, "resize": 1}),
               ("S5.8", "a claim with its consumer", {"volume": 1})),
    "stage6": (("S6.2", "a DNS probe Job", {"pod": 1}),
               ("S6.3", "a server pod, two probe Jobs", {"pod": 3}),
               ("S6.4", "a server pod, three allowed and two blocked probes", {"pod": 6, "probe_timeout": 2}),
               ("S6.5", "a server pod, an allowed and a blocked probe", {"pod": 3, "probe_timeout": 1}),
               ("S6.6", "a server pod, a probe Job", {"pod": 2})),
    "stage7": (("S7.7", "a probe Job that logs a line", {"pod": 1}),),
    "stage8": (("S8.2", "the tenant cluster's workers, side by side", {"worker": 1}),
               ("S8.3", "three StatefulSets' claims side by side; per workload a writer Job, a replaced pod, a "
                        "reader Job", {"volume": 1, "pod": 9, "container_stop": 3}),
               ("S8.4", "one more worker", {"worker": 1}),
               ("S8.5", "PERF_VM_COUNT VMs, perf.clone_concurrency clones at a time", {"clone_waves": 1}),
               ("S8.7", "backup drill: a VM ready, vzdump, restore, started and booted again",
                {"vm": 1, "backup": 1, "restore": 1, "vm_start": 1, "boot": 1})),
}


def module_constants(path: Path) -> dict[str, float]:
    """NAME = <number> assignments at the top of a Python file, without importing it."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(
                node.value.value, (int, float)):
            found.update((target.id, float(node.value.value)) for target in node.targets
                         if isinstance(target, ast.Name))
    return found


def template_disk_gib(seed_file: Path) -> float:
    """disk_gib of the standard seed's template (the disk a full clone copies)."""
    for node in ast.parse(seed_file.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "STANDARD" for t in node.targets):
            for call in ast.walk(node.value):
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Template":
                    return float(next(k.value.value for k in call.keywords if k.arg == "disk_gib"))
    raise LookupError(f"no Template(disk_gib=...) in STANDARD of {seed_file}")


def lab_durations(repo: Path = REPO) -> dict[str, float]:
    """The lab's modelled durations in realistic seconds, by the names STAGE_WAITS uses."""
    constants, files = {}, {}
    for (file, constant), name in LAB_CONSTANTS.items():
        values = files.setdefault(file, module_constants(repo / file))
        if constant not in values:
            raise LookupError(f"{file} has no constant {constant} (benchmarks/critical_path.py LAB_CONSTANTS)")
        constants[name] = values[constant]
    return durations(constants, template_disk_gib(repo / "lab/pve_twin/seed.py"))


def durations(c: dict[str, float], disk_gib: float, vm_count: int | None = None,
              clone_concurrency: int | None = None) -> dict[str, float]:
    """Composite durations: a full clone, a VM ready (clone, start, guest agent), a worker (and joined, CNI ready),
    a pod started (sandbox, pull, container), a volume with its consumer (provisioned, attached, pod)."""
    perf = Settings.model_fields["perf"].default
    vm_count, concurrency = vm_count or perf.vm_count, clone_concurrency or perf.clone_concurrency
    d = dict(c)
    d["clone"] = c["clone_base"] + c["copy_per_gib"] * disk_gib
    d["vm"] = d["clone"] + c["vm_start"] + c["boot"]
    d["worker"] = d["vm"] + c["join"] + c["cni"]
    d["pod"] = c["sandbox"] + c["pull"] + c["container_start"]
    d["volume"] = c["provision"] + c["attach"] + d["pod"]
    d["clone_waves"] = math.ceil(vm_count / concurrency) * d["clone"] + c["vm_start"] + c["boot"]
    return d


def critical_path(d: dict[str, float], stage_waits=STAGE_WAITS) -> dict[str, float]:
    """stage -> realistic seconds of the waits it does one after another."""
    return {stage: sum(d[name] * times for _check, _what, chain in waits for name, times in chain.items())
            for stage, waits in stage_waits.items()}


def measure(options, context: dict) -> list[Measure]:
    scale = options.time_scale
    path = {stage: seconds * scale for stage, seconds in critical_path(lab_durations()).items()}
    total = sum(path.values())
    progress(f"{NAME}: critical path at time scale {scale:g}: {total:.1f} s "
             f"({', '.join(f'{stage} {seconds:.1f}' for stage, seconds in path.items())})")
    baseline = context.get("scale 0 runs") or context.setdefault("scale 0 runs",
                                                                 full_runs(0.0, options.rounds, NAME + " (scale 0)"))
    runs = full_runs(scale, options.rounds, NAME)
    wall = Measure(NAME, f"full run at time scale {scale:g}: wall", "s")
    base = Measure(NAME, "the same at time scale 0: wall", "s")
    cp = Measure(NAME, f"critical path of its waits at scale {scale:g}", "s")
    ratio = Measure(NAME, "wall / (wall at scale 0 + critical path)", "", limit=GOAL_RATIO)
    excess = Measure(NAME, "(wall - wall at scale 0) / critical path", "")
    literal = Measure(NAME, "wall / critical path", "")
    for run, zero in zip(runs, baseline):       # round i at the scale against round i at 0
        wall.add(run.wall, run.load)
        base.add(zero.wall, zero.load)
        cp.add(total, run.load)
        ratio.add(run.wall / (zero.wall + total), run.load)
        excess.add((run.wall - zero.wall) / total, run.load)
        literal.add(run.wall / total, run.load)
    ratio.detail = {"stages": stage_breakdown(runs, baseline, path)}
    for stage, row in ratio.detail["stages"].items():
        progress(f"{NAME}: {stage}: {row['seconds']:.1f} s at scale {scale:g}, {row['seconds at 0']:.1f} s at 0, "
                 f"critical path {row['critical path']:.1f} s, slept before the last look {row['slept last']:.1f} s")
    return [wall, base, cp, ratio, excess, literal]


def stage_breakdown(runs, baseline, path: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per stage, medians over the rounds: seconds at the scale and at 0, its critical path, and how long its waits
    that ended done slept before their last look (a polled wait's tail is at most that; a watched wait is woken)."""
    def median(values) -> float:
        return statistics.median(list(values) or [0.0])

    rows = {}
    for stage in sorted({stage for run in runs for stage in stage_seconds(run)}):
        slept = [sum(w["last_pause"] for w in top_waits(run) if w["outcome"] == "done"
                     and w["nodeid"].startswith(f"stages/{stage}_")) for run in runs]
        rows[stage] = {"seconds": round(median(stage_seconds(r).get(stage, 0.0) for r in runs), 2),
                       "seconds at 0": round(median(stage_seconds(r).get(stage, 0.0) for r in baseline), 2),
                       "critical path": round(path.get(stage, 0.0), 2), "slept last": round(median(slept), 2)}
    return rows
