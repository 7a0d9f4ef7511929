"""What a reviewer sees after two real runs of stages 1-2 (a healthy one, then one where S1.7 fails): the dashboard
and the Allure report, opened from disk in headless Chromium with no network. Screenshots go to the last run's
folder (screenshots/)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.faults.conftest import REPO


@pytest.fixture(scope="module")
def shots(two_runs):
    return two_runs.faulty.folder / "screenshots"


def test_the_runs_exit_with_their_gate_and_our_gate_command_agrees(two_runs):
    assert (two_runs.healthy.exit_code, two_runs.faulty.exit_code) == (0, 1), two_runs.faulty.output
    for run in (two_runs.healthy, two_runs.faulty):
        done = subprocess.run([sys.executable, "-m", "proxqa", "gate", str(run.folder)], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == run.exit_code, done.stdout + done.stderr
    assert "Allure report: " in two_runs.faulty.output and "dashboard: " in two_runs.faulty.output


def history(two_runs) -> list[dict]:
    return [json.loads(line) for line in (two_runs.reports / "history.jsonl").read_text().splitlines()]


def test_the_history_holds_both_runs_with_the_dip_of_stage_1(two_runs):
    lines = history(two_runs)
    assert [(r["run_id"], r["gate_passed"]) for r in lines] == [("healthy", True), ("faulty", False)]
    healthy, faulty = (r["stages"]["1"]["pass_rate"] for r in lines)
    assert (healthy, faulty < 95, lines[1]["stages"]["2"]["pass_rate"]) == (100.0, True, 100.0)


def test_the_dashboard_shows_both_runs_per_stage_against_the_95_percent_line(two_runs, browser, shots):
    page = browser.open((two_runs.reports / "dashboard.html").as_uri(), screenshot=shots / "dashboard.png",
                        size=(1200, 1500))
    assert page.requests == []
    stage1 = chart_of(page.dom, "stage-1")
    assert "Stage 1 – Proxmox API connection" in stage1 and "target 95 %" in stage1
    dip = f'{history(two_runs)[1]["stages"]["1"]["pass_rate"]:g}'
    assert re.findall(r'class="point (\w+)" data-run="(\w+)" data-value="([\d.]+)"', stage1) == [
        ("met", "healthy", "100"), ("missed", "faulty", dip)]
    assert 'class="target" data-value="95"' in stage1
    assert "Stage 2 – Network and storage configuration" in page.dom
    assert f'Latest run faulty: {history(two_runs)[1]["verdict"]}' in page.dom
    assert (shots / "dashboard.png").stat().st_size > 10_000


def test_the_allure_report_opens_offline_with_stages_and_the_gate(two_runs, browser, shots):
    page = browser.open((two_runs.faulty.folder / "allure-report" / "index.html").as_uri(),
                        screenshot=shots / "allure.png")
    assert page.requests == [], "the Allure page must not call out when opened"
    text = visible_text(page.dom)
    assert "Acceptance run faulty (lab)" in text
    assert "Stage 1: Proxmox API connection" in text and "Stage 2: Network and storage configuration" in text
    assert history(two_runs)[1]["verdict"] in text, "the gate's verdict heads Allure's metadata"
    assert re.search(r"Failed \d+ Passed \d+", text), "Allure's own counts of test items"


def test_the_allure_trend_has_both_runs(two_runs, browser, shots):
    page = browser.open((two_runs.faulty.folder / "allure-report" / "index.html").as_uri() + "#/charts",
                        screenshot=shots / "allure-trend.png")
    assert page.requests == []
    trend = page.dom.split(">Status dynamics<")[1].split("headings-head")[0]
    runs = re.findall(r'<text[^>]*rotate\(45\)[^>]*>([^<]+)</text>', trend)
    assert len(runs) == 2 and runs[-1] == "Latest", runs


def test_the_browser_check_sees_a_page_that_calls_out(tmp_path, browser):
    page_file = tmp_path / "calls-out.html"
    page_file.write_text('<html><body><script src="https://tracker.example.invalid/t.js"></script></body></html>')
    assert browser.open(page_file.as_uri()).requests == ["https://tracker.example.invalid/t.js"]


def chart_of(dom: str, key: str) -> str:
    match = re.search(rf'<svg [^>]*data-chart="{key}".*?</svg>', dom, flags=re.DOTALL)
    assert match, f"no chart {key} on the dashboard"
    return match.group(0)


def visible_text(dom: str) -> str:
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", without_code).split())
