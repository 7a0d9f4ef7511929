"""Runs against the same healthy lab give the same verdicts: run after run, and with `-n` as serially.

The CI version is cheap (two serial runs and one `-n 2` run of stages 1-3). The full procedure of docs/reliability.md
is the same test with more runs, all stages and four workers:

    PROXQA_STABILITY_RUNS=10 PROXQA_STABILITY_STAGES=1,2,3,4,5,6,7,8 PROXQA_STABILITY_WORKERS=4 \\
        .venv/bin/pytest tests/safety/test_stability.py -s -p no:cacheprovider
"""
from __future__ import annotations

import os
import time

from tests.safety.conftest import run_stages

RUNS = int(os.environ.get("PROXQA_STABILITY_RUNS", "2"))
STAGES = os.environ.get("PROXQA_STABILITY_STAGES", "1,2,3")
WORKERS = os.environ.get("PROXQA_STABILITY_WORKERS", "2")


def differences(first: dict[str, str], other: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    return {cid: (first.get(cid), other.get(cid)) for cid in sorted(first.keys() | other.keys())
            if first.get(cid) != other.get(cid)}


def test_serial_runs_and_a_parallel_run_give_the_same_verdicts(canary_lab, tmp_path):
    verdicts = {}
    for label, args in [*((f"serial-{n}", ()) for n in range(1, RUNS + 1)), (f"n{WORKERS}", ("-n", WORKERS))]:
        started = time.monotonic()
        run = run_stages(tmp_path, "--stage", STAGES, "-q", *args, env=canary_lab.settings, run_id=label,
                         timeout=1800)
        verdicts[label] = run.verdicts()
        counts = {outcome: list(verdicts[label].values()).count(outcome) for outcome in set(verdicts[label].values())}
        print(f"{label}: exit {run.returncode}, {counts}, {time.monotonic() - started:.0f} s")
    first = verdicts["serial-1"]
    assert first and "failed" not in first.values(), first
    assert {label: differences(first, other) for label, other in verdicts.items()} == {label: {} for label in verdicts}
