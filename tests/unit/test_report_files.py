"""The report writers: summary.json, summary.md, the pytest-html section and the Allure files."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from proxqa.report_files import (summary_html, write_allure_categories, write_allure_environment,
                                 write_summary_json, write_summary_md)
from proxqa.results import ItemResult, Percentiles, SlaResult
from proxqa.sla import breach_message, verdict
from proxqa.summary import summarize

LATENCY = SlaResult(check="S1.3", metric="api-latency-p95 /cluster/resources", threshold=2.0, value=0.4321,
                    verdict="met", setting="sla.api_latency_p95",
                    percentiles=Percentiles(count=20, p50=0.1234, p90=0.3, p95=0.4321, p99=0.5, max=0.61))
BANDWIDTH = SlaResult(check="S2.8", metric="bridge-bandwidth", threshold=900.0, value=412.5, verdict="breached",
                      unit="Mbit/s", comparison=">", setting="sla.bridge_bandwidth")
SCRIPT_MESSAGE = "expected 200, got <script>alert('x')</script> | see log"

ITEMS = [
    ItemResult("S1.1", "t::s1_1", "passed", "", "", 0.2),
    ItemResult("S1.2", "t::s1_2", "failed", "product defect", SCRIPT_MESSAGE, 0.1),
    ItemResult("S1.3", "t::s1_3[resources]", "passed", "", "", 3.0, (LATENCY,)),
    ItemResult("S1.4", "t::s1_4", "flaky", "", "passed on rerun 1", 0.3),
    ItemResult("S2.4", "t::s2_4", "blocked", "blocked", "blocked by S1.2", 0.0),
    ItemResult("S2.6", "t::s2_6", "skipped", "skipped", "TEST_VM_TEMPLATE not configured", 0.0),
    ItemResult("S2.8", "t::s2_8", "failed", "sla breach", "SLA breach: bridge-bandwidth", 9.0, (BANDWIDTH,)),
    ItemResult("S2.2", "t::s2_2", "known_issue", "known issue",
               "known issue https://tracker.example.com/QA-7: 0 SDN zones", 0.2),
]


@pytest.fixture
def summary():
    moment = datetime(2025, 11, 26, 6, 0, tzinfo=timezone.utc)
    return summarize(ITEMS, run_id="20251126-0600-ab12", target="lab", started=moment, finished=moment,
                     threshold=95, min_executed=3, environment={"proxmox_version": "8.2.4"})


# --- summary.json and summary.md ------------------------------------------------------------------

def test_summary_json_is_the_document_of_the_summary(summary, tmp_path):
    path = write_summary_json(summary, tmp_path / "reports" / "run")
    assert path == tmp_path / "reports" / "run" / "summary.json"
    assert json.loads(path.read_text(encoding="utf-8")) == summary.to_json()


def test_summary_md_opens_with_the_verdict_and_the_gate(summary, tmp_path):
    text = write_summary_md(summary, tmp_path).read_text(encoding="utf-8")
    assert text.startswith("# Acceptance run 20251126-0600-ab12\n\n"
                           "**Gate FAILED: 60.0 % of 5 executed checks passed (target 95 %)**\n")
    assert ("- Gate: pass rate 60.0 % < 95 % (3 of 5 executed checks passed, 1 of them flaky); "
            "1 known issue not counted; required: ≥ 95 % of at least 3 executed checks") in text


def test_summary_md_compares_every_stage_with_the_target(summary, tmp_path):
    text = write_summary_md(summary, tmp_path).read_text(encoding="utf-8")
    assert "| Stage | Pass rate | Executed | Passed | Flaky | Failed | Known issue | Blocked | Skipped |\n" in text
    assert "| 1 – Proxmox API connection | ✗ 75.0 % | 4 | 2 | 1 | 1 | 0 | 0 | 0 |\n" in text
    assert "| 2 – Network and storage configuration | ✗ 0.0 % | 1 | 0 | 0 | 1 | 1 | 1 | 1 |\n" in text


def test_summary_md_lists_known_issues_apart_with_their_tracker_link(summary, tmp_path):
    text = write_summary_md(summary, tmp_path).read_text(encoding="utf-8")
    known = text.split("## Known issues (failed, not counted)")[1].split("\n## ")[0]
    assert "| S2.2 | SDN zones and vnets | known issue https://tracker.example.com/QA-7: 0 SDN zones |" in known
    assert "S2.2" not in text.split("## Failed checks")[1].split("\n## ")[0]
    assert "- Checks: 2 passed, 1 flaky, 2 failed, 1 known issues, 1 blocked, 1 skipped\n" in text
    assert "(3 of 5 executed checks passed, 1 of them flaky); 1 known issue not counted;" in text


def test_summary_md_lists_failures_with_messages_and_skips_apart(summary, tmp_path):
    text = write_summary_md(summary, tmp_path).read_text(encoding="utf-8")
    failed = text.split("## Failed checks")[1].split("\n## ")[0]
    skipped = text.split("## Skipped checks (not counted)")[1].split("\n## ")[0]
    escaped_pipe = "| S1.2 | API version | product defect | expected 200, got <script>alert('x')</script> \\| see log |"
    assert escaped_pipe in failed
    assert "| S2.8 | Network bandwidth | sla breach | SLA breach: bridge-bandwidth |" in failed
    assert "| S2.4 | Storage | blocked by S1.2 |" in text.split("## Blocked checks")[1]
    assert "| S1.4 | Password login | passed on rerun 1 |" in text.split("## Flaky checks")[1]
    assert ("S2.6" in skipped, "S2.4" in skipped, "S2.6" in failed) == (True, False, False)


def test_summary_md_has_one_sla_row_per_result_with_percentiles_when_present(summary, tmp_path):
    text = write_summary_md(summary, tmp_path).read_text(encoding="utf-8")
    assert ("| S1.3 | api-latency-p95 /cluster/resources | 0.432 s | < 2 s | ✓ met | 0.123 s | 0.432 s | 0.61 s |"
            in text)
    assert "| S2.8 | bridge-bandwidth | 412.5 Mbit/s | > 900 Mbit/s | ✗ breached |  |  |  |" in text


def test_summary_md_leaves_out_empty_sections(tmp_path):
    moment = datetime(2025, 11, 26, 6, 0, tzinfo=timezone.utc)
    clean = summarize([ItemResult("S1.1", "t::a", "passed", "", "", 0.1)], run_id="r", target="lab",
                      started=moment, finished=moment, threshold=95, min_executed=1, environment={})
    text = write_summary_md(clean, tmp_path).read_text(encoding="utf-8")
    assert "**Gate PASSED: 100.0 % of 1 executed check passed (target 95 %)**" in text
    assert re.findall(r"^## .*", text, flags=re.MULTILINE) == ["## Stages (target 95 %)"]


# --- pytest-html section ----------------------------------------------------------------------------

def test_html_section_shows_verdict_stage_rates_and_sla_rows(summary):
    fragment = summary_html(summary)
    assert "Gate FAILED: 60.0 % of 5 executed checks passed (target 95 %)" in fragment
    assert "<td>1 – Proxmox API connection</td>" in fragment
    assert "✗ 75.0 %</td><td>4</td><td>2</td><td>1</td><td>1</td><td>0</td><td>0</td>" in fragment
    assert "width:75.0%" in fragment
    assert ("<td>S1.3</td><td>api-latency-p95 /cluster/resources</td><td>0.432 s</td><td>&lt; 2 s</td>"
            "<td>✓ met</td><td>0.123 s</td><td>0.432 s</td><td>0.61 s</td>") in fragment
    assert "<td>S2.8</td><td>bridge-bandwidth</td><td>412.5 Mbit/s</td><td>&gt; 900 Mbit/s</td>" in fragment


def test_html_section_escapes_messages(summary):
    fragment = summary_html(summary)
    assert "<script>" not in fragment
    assert "expected 200, got &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; | see log" in fragment


def test_html_section_lists_known_issues_apart_from_failures(summary):
    fragment = summary_html(summary)
    problems = fragment.split("Failed and blocked checks")[1].split("<h3>")[0]
    known = fragment.split("Known issues (failed, not counted)")[1].split("<h3>")[0]
    assert ("<td>S2.2</td>" in problems, "https://tracker.example.com/QA-7: 0 SDN zones</td>" in known) == (False, True)


def test_html_section_lists_failed_and_blocked_but_not_skipped_checks(summary):
    problems = summary_html(summary).split("Failed and blocked checks")[1].split("<h3>")[0]
    assert [cid for cid in ("S1.2", "S2.4", "S2.6", "S2.8") if f"<td>{cid}</td>" in problems] == ["S1.2", "S2.4",
                                                                                                   "S2.8"]


# --- Allure files ------------------------------------------------------------------------------------

def test_environment_properties_are_escaped_like_java_properties(tmp_path):
    environment = {"Proxmox VE": "8.2.4", "kube:context=a#b": " lead\\trail\nnext", "CozyStack": "v0.30 ü ✓ 🚀"}
    path = write_allure_environment(environment, tmp_path)
    assert path.name == "environment.properties"
    assert path.read_bytes().decode("ascii") == (
        "Proxmox\\ VE=8.2.4\n"
        "kube\\:context\\=a\\#b=\\ lead\\\\trail\\nnext\n"
        "CozyStack=v0.30 \\u00fc \\u2713 \\ud83d\\ude80\n")


def allure_categories_of(categories: list[dict], status: str, message: str) -> list[str]:
    """The categories Allure 2 gives a result: every one whose statuses and message regex (full match,
    DOTALL) fit."""
    return [c["name"] for c in categories
            if status in c["matchedStatuses"] and re.fullmatch(c["messageRegex"], message, flags=re.DOTALL)]


BREACH = breach_message(verdict(check="S1.3", metric="api-latency-p95 /version", value=2.5, threshold=2.0,
                                setting="sla.api_latency_p95", samples=[2.5] * 20))


@pytest.mark.parametrize(("status", "message", "category"), [
    ("failed", f"AssertionError: {BREACH}", "SLA breach"),
    ("broken", "ConnectionError: Proxmox API https://127.0.0.2:8006 unreachable:\nconnection refused",
     "Target unreachable"),
    ("failed", "Target Unreachable after 3 attempts", "Target unreachable"),
    ("skipped", "Skipped: blocked by S1.1", "Blocked by prerequisite"),
    ("failed", "AssertionError: cluster quorate: expected 1, got 0\nassert 0 == 1", "Product defect"),
    ("skipped", "XFAIL known issue https://tracker.example.com/QA-7\n\nAssertionError: blocked by S1.1 was expected",
     "Known issue"),
    ("broken", "KeyError: 'nodes'", "Test harness error"),
])
def test_each_result_lands_in_exactly_one_allure_category(tmp_path, status, message, category):
    categories = json.loads(write_allure_categories(tmp_path).read_text(encoding="utf-8"))
    assert allure_categories_of(categories, status, message) == [category]


def test_skipped_results_other_than_blocked_get_no_category(tmp_path):
    categories = json.loads(write_allure_categories(tmp_path).read_text(encoding="utf-8"))
    assert allure_categories_of(categories, "skipped", "Skipped: snapshots not configured") == []
