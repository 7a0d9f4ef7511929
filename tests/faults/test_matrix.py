"""Every stage 1-6 and 8 check passes on the healthy lab and fails, naming the cause, under its fault (stage 7 has its
own module: its checks average over time)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proxqa import catalog
from tests.faults.matrix import ROWS, render_markdown

STAGES = (1, 2, 3, 4, 5, 6, 8)
FULLY_COVERED = (1, 2, 3, 4, 5, 6, 8)  # every check of these stages has tests
# Checks the healthy lab skips, with the reason: they run only when a site configures them.
SKIPPED_WHEN_UNCONFIGURED = {"S5.6": "snapshots not configured"}
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "fault-matrix.md"


def _checks(summary):
    return {c["id"]: c for c in summary["checks"]}


def test_healthy_lab_passes_every_stage_1_6_and_8_check(run_suite):
    code, summary = run_suite("--stage", ",".join(map(str, STAGES)), settings={"TEST_ALLOW_DESTRUCTIVE": "true"})
    checks = _checks(summary)
    outcomes = {cid: c["outcome"] for cid, c in checks.items()}
    wanted = {cid: "skipped" if cid in SKIPPED_WHEN_UNCONFIGURED else "passed" for cid in outcomes}
    assert {cid for cid in outcomes if catalog.stage_of(cid) in FULLY_COVERED} == {
        cid for cid, check in catalog.CHECKS.items() if check.stage in FULLY_COVERED}
    assert outcomes == wanted, [c for c in summary["checks"] if c["outcome"] != wanted[c["id"]]]
    assert all(reason in checks[cid]["message"] for cid, reason in SKIPPED_WHEN_UNCONFIGURED.items())
    assert (code, summary["gate"]["passed"]) == (0, True)


@pytest.mark.parametrize("row", [r for r in ROWS if catalog.stage_of(r.check) in STAGES], ids=lambda r: r.id)
def test_check_fails_under_its_fault(row, run_suite, lab_control):
    if row.fault:
        lab_control.set_fault(row.fault)
    _, summary = run_suite("-k", row.selection, *row.set_args, settings=row.settings)
    result = _checks(summary)[row.check]
    assert result["outcome"] == "failed", result
    assert re.search(row.expect, result["message"]), result["message"]


def implemented_checks(stages) -> set[str]:
    """The check IDs of these stages that have tests, from `pytest --collect-only` of stages/ (names test_s<n>_<m>_)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "stages/", "--collect-only", "-q", "--stage",
                           ",".join(map(str, stages))], cwd=REPO, capture_output=True, text=True, timeout=120)
    found = {f"S{m[1]}.{m[2]}" for m in re.finditer(r"::test_s(\d+)_(\d+)_", done.stdout)}
    assert found, done.stdout + done.stderr
    return found


def test_every_check_with_tests_has_a_fault():
    implemented = implemented_checks(STAGES)
    assert {cid for cid in implemented if catalog.stage_of(cid) in FULLY_COVERED} == {
        cid for cid, check in catalog.CHECKS.items() if check.stage in FULLY_COVERED}
    assert sorted(implemented - {r.check for r in ROWS}) == []


def test_fault_matrix_doc_is_current():
    if os.environ.get("PROXQA_WRITE_DOCS") == "1":
        DOC.write_text(render_markdown())
    assert DOC.read_text() == render_markdown(), "docs/fault-matrix.md is stale: rerun with PROXQA_WRITE_DOCS=1"


def test_unreachable_target_fails_s1_1_and_blocks_the_rest(run_suite, lab_control):
    """No cascade of time-outs: S1.1 names the cause, every dependant is blocked by it, exit code 7."""
    lab_control.set_fault("pve-down")
    code, summary = run_suite("--stage", "1,2")
    checks = _checks(summary)
    assert (checks["S1.1"]["outcome"], checks["S1.1"]["category"]) == ("failed", "unreachable")
    assert re.search(r"refused", checks["S1.1"]["message"]), checks["S1.1"]["message"]
    others = {cid: c["outcome"] for cid, c in checks.items() if cid != "S1.1"}
    assert set(others.values()) == {"blocked"}, others
    assert all(c["message"].startswith("blocked by S1.1: ") for cid, c in checks.items() if cid != "S1.1")
    assert code == 7
