"""Suite overhead: the full eight-stage run against its own lab at time scale 0 (every modelled duration 0), its
wall time and how it splits, and `pytest --collect-only stages/` as the floor.

    .venv/bin/python -m benchmarks overhead --rounds 5
"""
from __future__ import annotations

from benchmarks.common import Measure, SuiteRun, progress, require_success, run_suite, suite_environment

NAME = "overhead"
GOAL_SECONDS = 90.0
# (measure, seconds of a run): the split of the wall time, in the order it happens
SPLIT = (
    ("interpreter and plugins", lambda run: run.mark("configured")),
    ("lab start-up", lambda run: run.mark("lab_ready") - run.mark("session_start")),
    ("collection", lambda run: run.mark("collected") - run.mark("lab_ready")),
    ("checks", lambda run: run.mark("checks_end") - run.mark("checks_start")),
    ("teardown (reports, lab stop)", lambda run: run.mark("unconfigure_end") - run.mark("checks_end")),
    ("exit", lambda run: run.wall - run.mark("unconfigure_end")),
)


def top_waits(run: SuiteRun) -> list[dict]:
    """The waits of the tests themselves (not a wait inside another wait's probe)."""
    return [wait for wait in run.phases.get("waits", []) if wait.get("depth", 0) == 0]


def stage_seconds(run: SuiteRun) -> dict[str, float]:
    """"stage1" -> seconds its tests took (setup, call and teardown)."""
    seconds: dict[str, float] = {}
    for item in run.phases.get("items", []):
        seconds[item["stage"]] = seconds.get(item["stage"], 0.0) + item["seconds"]
    return seconds


def full_runs(time_scale: float, rounds: int, label: str) -> list[SuiteRun]:
    """`pytest stages/` with its own lab at that time scale, `rounds` times."""
    runs = []
    for round_ in range(1, rounds + 1):
        progress(f"{label}: round {round_}/{rounds}: pytest stages/ at time scale {time_scale:g}")
        run = run_suite(env=suite_environment(LAB_TIME_SCALE=f"{time_scale:g}"))
        require_success(run, label)
        progress(f"{label}: round {round_}: {run.wall:.1f} s, exit {run.exit_code}")
        runs.append(run)
    return runs


def measure(options, context: dict) -> list[Measure]:
    runs = context.setdefault("scale 0 runs", full_runs(0.0, options.rounds, NAME))
    wall = Measure(NAME, "full run, 8 stages, time scale 0: wall", "s", limit=GOAL_SECONDS)
    split = [Measure(NAME, f"  {name}", "s") for name, _seconds in SPLIT]
    waits = Measure(NAME, "  of the checks: waiting in wait_for", "s")
    slept = Measure(NAME, "  of the checks: slept before the last look of a wait", "s")
    for run in runs:
        wall.add(run.wall, run.load)
        for item, (_name, seconds) in zip(split, SPLIT):
            item.add(seconds(run), run.load)
        done = [w for w in top_waits(run) if w["outcome"] == "done"]
        waits.add(sum(w["seconds"] for w in top_waits(run)), run.load)
        slept.add(sum(w["last_pause"] for w in done), run.load)
    wall.detail = {"exit codes": [run.exit_code for run in runs],
                   "stage seconds": [{k: round(v, 2) for k, v in stage_seconds(run).items()} for run in runs]}
    floor = Measure(NAME, "floor: pytest --collect-only stages/", "s")
    for round_ in range(1, options.rounds + 1):
        progress(f"{NAME}: collect-only round {round_}/{options.rounds}")
        run = run_suite("--collect-only", plugin=False)
        floor.add(run.wall, run.load)
    return [wall, *split, waits, slept, floor]
