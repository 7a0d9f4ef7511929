"""The run summary: per-check aggregation, pass rates, the gate, exit codes and summary.json."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from proxqa.results import ItemResult, Percentiles, SlaResult
from proxqa.summary import ExitCode, RunSummary, evaluate_gate, exit_code, percent_text, summarize

STARTED = datetime(2025, 11, 26, 6, 0, 0, tzinfo=timezone.utc)
FINISHED = STARTED + timedelta(minutes=12)


def item(check: str, outcome: str, message: str = "", category: str = "", sla=(), nodeid: str = "") -> ItemResult:
    return ItemResult(check=check, nodeid=nodeid or f"stages/test_x.py::{check}", outcome=outcome,
                      category=category, message=message, duration=0.5, sla=tuple(sla))


def run(items, *, threshold=95.0, min_executed=1, environment=None):
    return summarize(items, run_id="20251126-0600-ab12", target="lab", started=STARTED, finished=FINISHED,
                     threshold=threshold, min_executed=min_executed, environment=environment or {})


def counts(passed=0, failed=0, skipped=0, blocked=0, flaky=0, known_issue=0) -> dict[str, int]:
    return {"passed": passed, "failed": failed, "skipped": skipped, "blocked": blocked, "flaky": flaky,
            "known_issue": known_issue}


def by_id(summary):
    return {c.id: c for c in summary.checks}


# --- one check over its items -------------------------------------------------------------------

def test_a_failed_item_fails_the_check_and_gives_its_message_and_category():
    summary = run([item("S1.3", "passed", nodeid="a[version]"),
                   item("S1.3", "failed", "SLA breach: p95 = 2.4 s", "sla breach", nodeid="a[resources]"),
                   item("S1.3", "failed", "second failure", "product defect", nodeid="a[nodes]")])
    s13 = by_id(summary)["S1.3"]
    assert (s13.outcome, s13.message, s13.category, s13.items) == ("failed", "SLA breach: p95 = 2.4 s",
                                                                   "sla breach", 3)
    assert (s13.title, s13.stage) == ("API latency SLA", 1)


def test_blocked_outranks_flaky_and_passed_and_gives_the_blocked_reason():
    summary = run([item("S1.8", "passed"), item("S1.8", "flaky", "passed on rerun 1"),
                   item("S1.8", "blocked", "blocked by S1.2", "blocked")])
    s18 = by_id(summary)["S1.8"]
    assert (s18.outcome, s18.message, s18.category) == ("blocked", "blocked by S1.2", "blocked")


def test_a_check_passed_only_on_a_rerun_is_flaky_and_counts_as_passed_but_apart():
    summary = run([item("S1.1", "passed"), item("S1.2", "passed"), item("S1.2", "flaky", "passed on rerun 1")])
    assert by_id(summary)["S1.2"].outcome == "flaky"
    assert summary.counts == counts(passed=1, flaky=1)
    assert summary.pass_rate == 100.0


def test_a_check_with_only_skipped_items_is_skipped_with_the_first_reason():
    summary = run([item("S2.8", "skipped", "iperf not configured", "skipped"),
                   item("S2.8", "skipped", "second reason", "skipped")])
    assert (by_id(summary)["S2.8"].outcome, by_id(summary)["S2.8"].message) == ("skipped", "iperf not configured")


def test_a_passed_check_keeps_the_reason_of_a_skipped_item():
    summary = run([item("S1.3", "passed"), item("S1.3", "skipped", "no token configured", "skipped")])
    s13 = by_id(summary)["S1.3"]
    assert (s13.outcome, s13.message) == ("passed", "no token configured")


def test_counts_are_per_check_not_per_item():
    summary = run([item("S1.3", "passed", nodeid=f"t[{n}]") for n in range(4)] + [item("S1.1", "failed", "x")])
    assert summary.counts == counts(passed=1, failed=1)
    assert summary.pass_rate == 50.0


def test_checks_are_in_catalogue_order_whatever_the_item_order():
    summary = run([item("S2.1", "passed"), item("S1.9", "passed"), item("S1.1", "passed"), item("S1.9", "passed")])
    assert [c.id for c in summary.checks] == ["S1.1", "S1.9", "S2.1"]


def test_an_unknown_check_id_names_itself():
    with pytest.raises(KeyError, match="S1.99"):
        run([item("S1.99", "passed")])


# --- skipped and blocked are never counted --------------------------------------------------------

def test_skipped_and_blocked_checks_are_not_executed_and_never_passed():
    summary = run([item("S1.1", "passed"), item("S1.2", "failed", "x"),
                   item("S1.4", "skipped", "read-only run", "skipped"),
                   item("S1.5", "blocked", "blocked by S1.1", "blocked")])
    assert summary.counts == counts(passed=1, failed=1, skipped=1, blocked=1)
    assert (summary.gate.executed, summary.pass_rate) == (2, 50.0)


def test_stages_hold_their_own_counts_and_rate_and_only_stages_with_checks_appear():
    summary = run([item("S1.1", "passed"), item("S1.2", "failed", "x"), item("S2.1", "blocked", "blocked by S1.2")])
    stage1, stage2 = summary.stages
    assert (stage1.number, stage1.name, stage1.pass_rate) == (1, "Proxmox API connection", 50.0)
    assert stage1.counts == counts(passed=1, failed=1)
    assert (stage2.number, stage2.pass_rate, stage2.counts) == (2, None, counts(blocked=1))


# --- known issues: failed, but counted apart as Allure does -----------------------------------------

KNOWN = "known issue https://tracker.example.com/QA-7: forged ticket accepted"


def test_a_known_issue_is_neither_executed_nor_passed_and_the_gate_says_so():
    summary = run([item("S1.1", "passed"), item("S1.2", "passed"), item("S1.7", "known_issue", KNOWN, "known issue")])
    assert summary.counts == counts(passed=2, known_issue=1)
    assert (summary.gate.executed, summary.pass_rate, summary.gate.passed) == (2, 100.0, True)
    assert summary.gate.reason == "pass rate 100.0 % ≥ 95 % over 2 executed checks; 1 known issue not counted"
    assert exit_code(summary) == ExitCode.GATE_PASSED


def test_a_real_failure_outranks_a_known_issue_of_the_same_check():
    summary = run([item("S1.7", "known_issue", KNOWN, "known issue", nodeid="a[1]"),
                   item("S1.7", "failed", "other cause", "product defect", nodeid="a[2]")])
    s17 = by_id(summary)["S1.7"]
    assert (s17.outcome, s17.message, summary.gate.executed) == ("failed", "other cause", 1)


def test_a_known_issue_outranks_blocked_and_passed_items_and_names_its_tracker():
    summary = run([item("S1.7", "passed", nodeid="a[1]"), item("S1.7", "blocked", "blocked by S1.1", nodeid="a[2]"),
                   item("S1.7", "known_issue", KNOWN, "known issue", nodeid="a[3]")])
    assert (by_id(summary)["S1.7"].outcome, by_id(summary)["S1.7"].message) == ("known_issue", KNOWN)


def test_only_known_issues_fail_the_gate_for_too_few_executed_with_exit_8():
    summary = run([item("S1.7", "known_issue", KNOWN, "known issue")], min_executed=1)
    assert summary.gate.reason == "no check executed, at least 1 required; 1 known issue not counted"
    assert exit_code(summary) == ExitCode.TOO_FEW_EXECUTED


# --- the gate -------------------------------------------------------------------------------------

def test_a_pass_rate_of_exactly_the_threshold_passes():
    gate = evaluate_gate(counts(passed=19, failed=1), threshold=95, min_executed=10)
    assert (gate.passed, gate.pass_rate) == (True, 95.0)
    assert gate.reason == "pass rate 95.0 % ≥ 95 % over 20 executed checks"


def test_a_pass_rate_just_below_the_threshold_fails_and_shows_enough_decimals():
    gate = evaluate_gate(counts(passed=9499, failed=501), threshold=95, min_executed=10)
    assert (gate.passed, gate.pass_rate) == (False, 94.99)
    assert gate.reason == "pass rate 94.99 % < 95 % (9499 of 10000 executed checks passed)"


def test_a_failed_gate_names_the_flaky_checks_among_the_passed():
    gate = evaluate_gate(counts(passed=14, flaky=1, failed=1), threshold=95, min_executed=10)
    assert gate.reason == "pass rate 93.8 % < 95 % (15 of 16 executed checks passed, 1 of them flaky)"


def test_too_few_executed_checks_fail_the_gate_even_when_all_passed():
    gate = evaluate_gate(counts(passed=3, skipped=20), threshold=95, min_executed=10)
    assert (gate.passed, gate.pass_rate, gate.executed) == (False, 100.0, 3)
    assert gate.reason == "only 3 checks executed, at least 10 required"


def test_nothing_executed_fails_the_gate_whatever_the_minimum():
    gate = evaluate_gate(counts(skipped=2, blocked=1), threshold=95, min_executed=0)
    assert (gate.passed, gate.pass_rate, gate.reason) == (False, None, "no check executed")


@pytest.mark.parametrize(("rate", "threshold", "text"), [
    (93.75, 95, "93.8"), (100.0, 95, "100.0"), (94.99, 95, "94.99"), (94.996, 95, "94.996"), (95.0, 95, "95.0")])
def test_percent_text_never_puts_a_rate_on_the_wrong_side_of_the_threshold(rate, threshold, text):
    assert percent_text(rate, threshold) == text


def test_verdict_lines_read_as_sentences():
    passed = evaluate_gate(counts(passed=17), threshold=95, min_executed=10)
    failed = evaluate_gate(counts(passed=15, failed=1), threshold=95, min_executed=10)
    too_few = evaluate_gate(counts(passed=1), threshold=95, min_executed=10)
    assert passed.verdict == "Gate PASSED: 100.0 % of 17 executed checks passed (target 95 %)"
    assert failed.verdict == "Gate FAILED: 93.8 % of 16 executed checks passed (target 95 %)"
    assert too_few.verdict == "Gate FAILED: only 1 check executed, at least 10 required (target 95 %)"


# --- exit codes -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("categories", "code"), [
    (["unreachable", "product defect"], ExitCode.TARGET_UNREACHABLE),
    (["sla breach", "unreachable"], ExitCode.TARGET_UNREACHABLE),
    (["sla breach", "sla breach"], ExitCode.SLA_BREACH_ONLY),
    (["sla breach", "product defect"], ExitCode.CHECKS_FAILED),
    (["product defect"], ExitCode.CHECKS_FAILED),
])
def test_a_failed_gate_exits_with_the_code_of_its_failures(categories, code):
    failing = [item(cid, "failed", f"{category} in {cid}", category) for cid, category in zip(("S1.1", "S1.2"),
                                                                                              categories)]
    assert exit_code(run([*failing, item("S1.4", "passed")])) == code


def test_the_exit_codes_have_their_documented_numbers():
    assert [int(code) for code in ExitCode] == [0, 1, 4, 6, 7, 8]


def test_a_passed_gate_exits_0_even_with_a_failed_check_under_a_lower_threshold():
    summary = run([item("S1.1", "passed"), item("S1.2", "failed", "x", "product defect")], threshold=50)
    assert (summary.gate.passed, exit_code(summary)) == (True, ExitCode.GATE_PASSED)


def test_all_skipped_fails_the_gate_with_exit_8():
    summary = run([item("S1.1", "skipped", "read-only", "skipped"), item("S1.2", "blocked", "blocked by S1.1")])
    assert (summary.gate.passed, exit_code(summary)) == (False, 8)


def test_too_few_executed_without_failures_exits_8():
    summary = run([item("S1.1", "passed")], min_executed=10)
    assert exit_code(summary) == ExitCode.TOO_FEW_EXECUTED


# --- summary.json -------------------------------------------------------------------------------------

LATENCY = SlaResult(check="S1.3", metric="api-latency-p95 /version", threshold=2.0, value=0.123456789,
                    verdict="met", setting="sla.api_latency_p95",
                    percentiles=Percentiles(count=20, p50=0.05, p90=0.1, p95=0.123456789, p99=0.2, max=0.21))
VM_READY = SlaResult(check="S1.8", metric="vm-ready", threshold=300.0, value=301.5, verdict="breached",
                     setting="sla.vm_ready", phases={"clone": 120.123456, "power-on": 30.0})


def test_summary_json_has_the_stable_keys():
    document = run([item("S1.3", "passed", sla=[LATENCY]), item("S1.8", "failed", "SLA breach", "sla breach",
                                                                  sla=[VM_READY])],
                   environment={"proxmox_version": "8.2.4"}).to_json()
    assert list(document) == ["schema", "run_id", "target", "started", "finished", "pass_rate", "gate", "counts",
                              "stages", "checks", "sla", "environment"]
    assert document["schema"] == 1
    assert list(document["gate"]) == ["threshold", "min_executed", "executed", "pass_rate", "passed", "reason"]
    assert list(document["counts"]) == ["passed", "failed", "skipped", "blocked", "flaky", "known_issue"]
    assert list(document["stages"]) == ["1"]
    assert list(document["stages"]["1"]) == ["name", "pass_rate", "counts"]
    assert list(document["checks"][0]) == ["id", "title", "stage", "outcome", "message", "category", "items"]
    assert list(document["sla"][0]) == ["check", "metric", "threshold", "value", "verdict", "unit", "comparison",
                                        "setting", "percentiles", "phases"]
    assert list(document["sla"][0]["percentiles"]) == ["count", "p50", "p90", "p95", "p99", "max"]
    assert document["environment"] == {"proxmox_version": "8.2.4"}
    assert json.loads(json.dumps(document)) == document


def test_summary_json_rounds_values_to_4_decimals_and_keeps_missing_percentiles_null():
    document = run([item("S1.3", "passed", sla=[LATENCY, VM_READY])]).to_json()
    latency, vm_ready = document["sla"]
    assert (latency["value"], latency["percentiles"]["p95"]) == (0.1235, 0.1235)
    assert (vm_ready["percentiles"], vm_ready["phases"]) == (None, {"clone": 120.1235, "power-on": 30.0})


def test_summary_json_rounds_rates_and_gives_null_when_nothing_executed():
    thirds = run([item("S1.1", "passed"), item("S1.2", "passed"), item("S1.4", "failed", "x")]).to_json()
    nothing = run([item("S1.1", "skipped", "read-only")]).to_json()
    assert (thirds["pass_rate"], thirds["gate"]["pass_rate"]) == (66.6667, 66.6667)
    assert (nothing["pass_rate"], nothing["stages"]["1"]["pass_rate"]) == (None, None)


def test_run_times_are_written_in_utc():
    summary = summarize([item("S1.1", "passed")], run_id="r", target="lab", threshold=95, min_executed=1,
                        started=datetime(2025, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=2))),
                        finished=FINISHED, environment={})
    assert (summary.started, summary.finished) == ("2025-11-26T06:00:00Z", "2025-11-26T06:12:00Z")


def test_a_run_time_without_time_zone_is_refused():
    with pytest.raises(ValueError, match="2025-11-26T06:00:00 has no time zone"):
        summarize([], run_id="r", target="lab", started=datetime(2025, 11, 26, 6, 0), finished=FINISHED,
                  threshold=95, min_executed=1, environment={})


# --- reading summary.json back ---------------------------------------------------------------------

def test_a_summary_reads_back_from_its_json_unchanged():
    original = run([item("S1.3", "passed", sla=[LATENCY]), item("S1.7", "known_issue", KNOWN, "known issue"),
                    item("S1.8", "failed", "SLA breach", "sla breach", sla=[VM_READY]),
                    item("S2.1", "blocked", "blocked by S1.8", "blocked")], environment={"proxmox_version": "8.2.4"})
    again = RunSummary.from_json(json.loads(json.dumps(original.to_json())))
    assert again.to_json() == original.to_json()
    assert (again.gate, exit_code(again)) == (original.gate, exit_code(original))


def test_a_summary_written_before_known_issues_existed_reads_with_zero_of_them():
    document = run([item("S1.1", "passed")]).to_json()
    del document["counts"]["known_issue"], document["stages"]["1"]["counts"]["known_issue"]
    again = RunSummary.from_json(document)
    assert (again.counts["known_issue"], again.stages[0].counts["known_issue"]) == (0, 0)


def test_a_summary_of_another_schema_is_refused_by_name():
    document = {**run([item("S1.1", "passed")]).to_json(), "schema": 2}
    with pytest.raises(ValueError, match="schema 2 is not supported; this version reads schema 1"):
        RunSummary.from_json(document)
