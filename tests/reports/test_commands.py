"""`python -m proxqa gate` exits with the run's exit code; `python -m proxqa report` publishes a run folder again,
and a missing Allure generator costs the Allure page only, with one line saying how to install it."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from proxqa import reporting
from proxqa.__main__ import main
from proxqa.report_files import write_summary_json
from proxqa.reporting import allure_html, publish_run
from proxqa.results import ItemResult
from proxqa.summary import RunSummary, summarize
from tests.faults.conftest import REPO

MOMENT = datetime(2025, 11, 26, 6, 0, tzinfo=timezone.utc)


def run_folder(reports, run_id, *outcomes, min_executed=1):
    """A finished run's folder with its summary.json: one check of stage 1 per outcome."""
    checks = ("S1.1", "S1.2", "S1.4", "S1.5", "S1.6", "S1.7", "S1.8", "S1.9")
    items = [ItemResult(cid, f"t::{cid}", outcome, "product defect" if outcome == "failed" else "",
                        "it broke" if outcome == "failed" else "", 0.1) for cid, outcome in zip(checks, outcomes)]
    summary = summarize(items, run_id=run_id, target="lab", started=MOMENT, finished=MOMENT, threshold=95,
                        min_executed=min_executed, environment={})
    write_summary_json(summary, reports / run_id)
    return reports / run_id


@pytest.mark.parametrize(("outcomes", "code", "verdict"), [
    (["passed"] * 4, 0, "Gate PASSED: 100.0 % of 4 executed checks passed (target 95 %)"),
    (["passed"] * 3 + ["failed"], 1, "Gate FAILED: 75.0 % of 4 executed checks passed (target 95 %)"),
    (["skipped"] * 4, 8, "Gate FAILED: no check executed, at least 1 required (target 95 %)"),
])
def test_the_gate_command_prints_the_verdict_and_exits_with_the_run_exit_code(tmp_path, capsys, outcomes, code,
                                                                               verdict):
    folder = run_folder(tmp_path, "r", *outcomes)
    assert main(["gate", str(folder)]) == code
    assert capsys.readouterr().out.splitlines()[0] == verdict


def test_the_gate_can_be_asked_for_another_pass_rate_or_minimum(tmp_path, capsys):
    folder = run_folder(tmp_path, "r", "passed", "passed", "passed", "failed")
    assert main(["gate", str(folder), "--pass-rate", "75"]) == 0
    assert main(["gate", str(folder), "--pass-rate", "75", "--min-executed", "5"]) == 1
    assert "only 4 checks executed, at least 5 required" in capsys.readouterr().out


def test_the_gate_of_a_folder_without_a_summary_exits_2_naming_it(tmp_path, capsys):
    assert main(["gate", str(tmp_path / "nothing")]) == 2
    assert f"{tmp_path / 'nothing' / 'summary.json'}: not found" in capsys.readouterr().err


def test_python_dash_m_proxqa_runs_the_commands(tmp_path):
    folder = run_folder(tmp_path, "r", "passed", "failed")
    done = subprocess.run([sys.executable, "-m", "proxqa", "gate", str(folder)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (1, "exit code 1 (checks_failed)")


def test_without_the_generator_a_run_keeps_its_history_and_dashboard_and_says_how_to_install_it(tmp_path,
                                                                                              monkeypatch, capsys):
    monkeypatch.setattr(reporting, "REPO", tmp_path / "checkout-without-node")
    folder = run_folder(tmp_path, "r1", "passed", "passed")
    published = publish_run(json_summary(folder), folder, alluredir=folder / "allure-results")
    assert (published.complete, published.notes[0]) == (False, allure_html.INSTALL_HINT)
    assert (tmp_path / "history.jsonl").is_file() and (tmp_path / "dashboard.html").is_file()
    assert main(["report", str(folder)]) == 1
    assert capsys.readouterr().out.splitlines() == [allure_html.INSTALL_HINT, f"dashboard: {tmp_path}/dashboard.html"]


def json_summary(folder):
    return RunSummary.from_json(json.loads((folder / "summary.json").read_text(encoding="utf-8")))
