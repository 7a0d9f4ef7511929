"""What the benchmarks share: measures with their rounds and the machine's load, running the suite as QA does
(with the phases plugin), progress lines, the results table and its JSON file."""
from __future__ import annotations

import json
import os
import platform
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from proxqa.labctl import LabHandle, start_lab, stop_lab

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "reports" / "benchmarks"
# Settings that point the suite at a target: dropped, so a plain run starts its own lab.
TARGET_PREFIXES = ("PROXMOX_", "TEST_", "LAB_", "PROXQA_", "KUBECONFIG", "SLA_", "LIMIT_", "GATE_", "PERF_",
                   "MONITORING_")
SUITE_TIMEOUT = 3600.0
PHASES_OUTPUT = "PROXQA_BENCH_PHASES"   # where benchmarks.phases writes its JSON


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def load_average() -> float:
    """The 1-minute load average, as `uptime` shows it."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


@dataclass
class Measure:
    """One figure of a benchmark: a value per round, its median, the goal, and the load while it was measured."""
    benchmark: str
    name: str
    unit: str
    rounds: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)     # 1-minute load average at the end of each round
    limit: float | None = None                           # the goal: the median at most this (or at least, below)
    at_least: bool = False
    detail: dict = field(default_factory=dict)

    def add(self, value: float, load: float | None = None) -> None:
        self.rounds.append(round(value, 4))
        self.loads.append(load_average() if load is None else load)

    @property
    def median(self) -> float | None:
        return round(statistics.median(self.rounds), 4) if self.rounds else None

    @property
    def goal(self) -> str:
        return "" if self.limit is None else f"{'≥' if self.at_least else '≤'} {self.limit:g}"

    @property
    def met(self) -> bool | None:
        if self.limit is None or self.median is None:
            return None
        return self.median >= self.limit if self.at_least else self.median <= self.limit

    def as_dict(self) -> dict:
        return dict(asdict(self), median=self.median, goal=self.goal, met=self.met,
                    load=statistics.median(self.loads) if self.loads else None)


def shown(value: float) -> str:
    """A figure with the digits that matter: 142, 89.9, 1.05, 0.0129."""
    size = abs(value)
    return f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}" if size >= 1 \
        else f"{value:.3g}"


def table(measures: list[Measure]) -> str:
    """The measures as a fixed-width table: benchmark, measure, median, goal, verdict, load, rounds."""
    rows = [("benchmark", "measure", "median", "goal", "met", "load", "rounds")]
    for m in measures:
        rounds = ", ".join(map(shown, m.rounds[:7])) + (" ..." if len(m.rounds) > 7 else "")
        rows.append((m.benchmark, m.name, "-" if m.median is None else f"{shown(m.median)} {m.unit}".strip(), m.goal,
                     {True: "yes", False: "NO", None: ""}[m.met],
                     f"{statistics.median(m.loads):.2f}" if m.loads else "", rounds))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def write_results(measures: list[Measure], options: dict, path: Path | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = path or RESULTS_DIR / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"finished": stamp, "machine": machine(), "options": options,
                                "measures": [m.as_dict() for m in measures]}, indent=1) + "\n")
    return path


def suite_environment(lab_settings: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a suite run: no target of the caller's, the lab's settings if given, the repository on
    the import path (for -p benchmarks.phases), and extra."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(TARGET_PREFIXES)}
    env.update(lab_settings or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    env.update(extra)
    return env


@dataclass
class SuiteRun:
    exit_code: int
    started: float          # epoch seconds
    wall: float             # seconds from starting pytest to its exit
    phases: dict            # what benchmarks.phases wrote ({} if nothing)
    summary: dict | None    # summary.json, if the run wrote one
    output: str             # the last lines pytest printed
    load: float             # 1-minute load average when it ended

    def mark(self, name: str) -> float:
        """Seconds from the start of the process to a mark of the phases plugin."""
        return self.phases["marks"][name] - self.started

    def check(self, check_id: str) -> dict:
        return next((check for check in (self.summary or {}).get("checks", []) if check["id"] == check_id), {})


def run_suite(*args: str, env: dict[str, str] | None = None, while_running: Callable[[], None] | None = None,
              plugin: bool = True) -> SuiteRun:
    """`python -m pytest [-p benchmarks.phases] stages/ -q ARGS` in the repository, reports in a temporary folder;
    while_running() is called about once a second until pytest exits."""
    with tempfile.TemporaryDirectory(prefix="proxqa-bench-") as work:
        environment = dict(env if env is not None else suite_environment())
        environment[PHASES_OUTPUT] = str(Path(work) / "phases.json")
        command = [sys.executable, "-m", "pytest", *(["-p", "benchmarks.phases"] if plugin else []), "stages/",
                   "-q", "--reports-dir", work, "--run-id", "bench", *args]
        with open(Path(work) / "output.txt", "w+") as output:
            started = time.time()
            process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT)
            try:
                while True:
                    try:
                        process.wait(timeout=1.0)
                        break
                    except subprocess.TimeoutExpired:
                        if while_running:
                            while_running()
                        if time.time() - started > SUITE_TIMEOUT:
                            process.kill()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            wall = time.time() - started
            output.seek(0)
            tail = "\n".join(output.read().splitlines()[-15:])
        phases_file, summary_file = Path(work) / "phases.json", Path(work) / "bench" / "summary.json"
        phases = json.loads(phases_file.read_text()) if phases_file.exists() else {}
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return SuiteRun(process.returncode, started, wall, phases, summary, tail, load_average())


def require_success(run: SuiteRun, what: str) -> None:
    """Progress line on a failed gate: its figures still count, but the reader should know."""
    if run.exit_code != 0:
        gate = (run.summary or {}).get("gate", {}).get("reason", "no summary")
        progress(f"{what}: pytest exit {run.exit_code} ({gate}); last output:\n{run.output}")


@contextmanager
def temporary_lab(name: str, what: str, **start_options) -> Iterator[LabHandle]:
    """A lab of its own for one benchmark, in a fresh folder; stopped and removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix=f"proxqa-bench-{name}-"))
    progress(f"{name}: starting a lab{what}")
    try:
        yield start_lab(state, watch_pid=os.getpid(), **start_options)
    finally:
        stop_lab(state)
        shutil.rmtree(state, ignore_errors=True)
