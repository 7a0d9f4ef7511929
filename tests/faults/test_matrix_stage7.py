"""Every stage 7 check passes on a healthy lab and fails, naming the cause, under its fault.

Stage 7 gets a lab of its own: its checks average over a window, and the faults the other fault-matrix tests set
(pve2 offline for S1.8, a hot CPU for S2.7) would otherwise be part of that window's history. Faults are set with
`python -m lab fault`, which sends each to the part of the lab that owns it (the twin, the monitoring stack or
the Kubernetes side).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proxqa import catalog
from proxqa.labctl import start_lab, stop_lab
from proxqa.monitoring.clients import MetricsClient, ScrapeTargetsClient
from proxqa.monitoring.http import Endpoint, JsonApi
from proxqa.monitoring.proxmox import ProxmoxSeries
from proxqa.waits import Deadline, wait_for
from tests.faults.matrix import ROWS

REPO = Path(__file__).resolve().parents[2]
STAGE = 7
STAGE_DIR = REPO / "stages" / "stage7_monitoring"
# A check that averages over the window turns red for the row's cause once the fault fills enough of it (its rows
# set a short window), so its run is repeated until then; until then it may pass, or fail on the history an
# earlier row left in the window. Every other check must fail at its first run: S7.3, for one, waits for a scrape
# newer than its start by itself.
WINDOW_CHECKS = {"S7.4", "S7.8"}
WINDOW_FILLED = Deadline(60.0)
RECOVERED = Deadline(30.0)


def implemented_checks() -> set[str]:
    """The stage 7 check IDs that have tests."""
    marker = re.compile(r'@pytest\.mark\.check\("(S7\.\d+)"\)')
    return {check for path in STAGE_DIR.glob("test_*.py") for check in marker.findall(path.read_text())}


@pytest.fixture(scope="module")
def stage7_lab(tmp_path_factory):
    handle = start_lab(tmp_path_factory.mktemp("stage7-lab"), watch_pid=os.getpid())
    yield handle
    stop_lab(handle.state_dir)


def lab_fault(lab, *args: str) -> str:
    """`python -m lab fault ARGS` on that lab; what it printed."""
    done = subprocess.run([sys.executable, "-m", "lab", "fault", *args, "--state-dir", str(lab.state_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"python -m lab fault {' '.join(args)}: {done.stderr}"
    return done.stdout


def wait_recovered(lab) -> None:
    """Until every scrape target is up and pve_up is 1 for every node again: a cleared exporter-down, say, shows
    only at the next scrape, and the next row must not start from its leftovers."""
    settings = lab.settings
    targets = ScrapeTargetsClient(JsonApi(Endpoint("scrape target list", settings["MONITORING_TARGETS_URL"])))
    series = ProxmoxSeries(MetricsClient(JsonApi(Endpoint("metrics query API", settings["MONITORING_METRICS_URL"]))))
    healthy_nodes = dict.fromkeys(settings["PROXMOX_NODES"].split(","), 1.0)
    wait_for("the stage 7 lab healthy again", lambda: (targets.targets(), series.node_up()),
             done=lambda state: all(t.up for t in state[0]) and {
                 node: up.value for node, up in state[1].items()} == healthy_nodes,
             deadline=RECOVERED)


@pytest.fixture
def set_fault(stage7_lab):
    """Sets faults on the stage 7 lab; after the test every fault of both owners is cleared and the lab has
    recovered."""
    yield lambda spec: lab_fault(stage7_lab, spec)
    assert lab_fault(stage7_lab, "--clear") == "active faults: none\n"
    wait_recovered(stage7_lab)


def check_result(summary: dict, check: str) -> dict:
    return next(c for c in summary["checks"] if c["id"] == check)


def test_healthy_lab_passes_every_stage_7_check(stage7_lab, run_suite):
    code, summary = run_suite("--stage", str(STAGE), lab_settings=stage7_lab.settings,
                              settings={"GATE_MIN_EXECUTED": "1"})
    outcomes = {c["id"]: c["outcome"] for c in summary["checks"]}
    assert outcomes == dict.fromkeys(sorted(implemented_checks()), "passed"), \
        [c for c in summary["checks"] if c["outcome"] != "passed"]
    assert (code, summary["gate"]["passed"]) == (0, True)


@pytest.mark.parametrize("row", [r for r in ROWS if catalog.stage_of(r.check) == STAGE], ids=lambda r: r.id)
def test_check_fails_under_its_fault(row, stage7_lab, run_suite, set_fault):
    set_fault(row.fault)

    def run() -> dict:
        _, summary = run_suite("-k", row.selection, *row.set_args,
                               settings=row.settings, lab_settings=stage7_lab.settings)
        return check_result(summary, row.check)

    if row.check in WINDOW_CHECKS:
        result = wait_for(f"{row.check} failing under {row.fault}", run, deadline=WINDOW_FILLED,
                          done=lambda r: r["outcome"] == "failed" and re.search(row.expect, r["message"]))
    else:
        result = run()
    assert result["outcome"] == "failed", result
    assert re.search(row.expect, result["message"]), result["message"]


def test_every_stage_7_check_with_tests_has_a_fault():
    covered = {r.check for r in ROWS}
    assert sorted(implemented_checks() - covered) == []
    assert implemented_checks() <= set(catalog.CHECKS)
