"""The run history (reports/history.jsonl): one line per run, a run reported again replaces its line."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from proxqa.reporting.history import HistoryError, SlaPoint, StageRate, add_run, read_history, record_of
from proxqa.results import ItemResult, Percentiles, SlaResult
from proxqa.summary import summarize

STARTED = datetime(2025, 11, 26, 6, 0, tzinfo=timezone.utc)
LATENCY = SlaResult(check="S1.3", metric="api-latency-p95 GET /nodes", threshold=2.0, value=0.123456789,
                    verdict="met", setting="sla.api_latency",
                    percentiles=Percentiles(count=20, p50=0.05, p90=0.1, p95=0.123456789, p99=0.2, max=0.21))
POD = SlaResult(check="S4.4", metric="pod-startup", threshold=120.0, value=130.5, verdict="breached",
                setting="sla.pod_startup")


def summary(run_id: str, *items: ItemResult, minutes: int = 0):
    return summarize(items, run_id=run_id, target="lab", started=STARTED, finished=STARTED + timedelta(minutes=minutes),
                     threshold=95, min_executed=1, environment={})


def passed(check: str, *sla: SlaResult) -> ItemResult:
    return ItemResult(check, f"t::{check}", "passed", "", "", 0.1, sla)


def failed(check: str, *sla: SlaResult) -> ItemResult:
    return ItemResult(check, f"t::{check}", "failed", "sla breach", "SLA breach: pod-startup", 0.1, sla)


def test_a_record_holds_time_target_rates_per_stage_sla_values_and_the_verdict():
    record = record_of(summary("r1", passed("S1.1"), passed("S1.2"), passed("S1.4"), passed("S1.3", LATENCY),
                               failed("S4.4", POD), minutes=12))
    assert (record.run_id, record.time, record.target) == ("r1", "2025-11-26T06:12:00Z", "lab")
    assert (record.pass_rate, record.threshold, record.gate_passed, record.exit_code) == (80.0, 95.0, False, 6)
    assert record.verdict == "Gate FAILED: 80.0 % of 5 executed checks passed (target 95 %)"
    assert record.stages == {1: StageRate("Proxmox API connection", 100.0), 4: StageRate("Proxmox worker integration",
                                                                                          0.0)}
    assert record.sla == (
        SlaPoint("S1.3", "api-latency-p95 GET /nodes", 0.1235, 0.1235, 2.0, "s", "<", "met"),
        SlaPoint("S4.4", "pod-startup", 130.5, None, 120.0, "s", "<", "breached"))


def test_runs_are_added_in_order_and_a_run_reported_again_replaces_its_line(tmp_path):
    path = tmp_path / "reports" / "history.jsonl"
    add_run(path, record_of(summary("r1", passed("S1.1"))))
    add_run(path, record_of(summary("r2", failed("S1.1"))))
    records = add_run(path, record_of(summary("r1", failed("S1.1"), minutes=5)))
    assert [(r.run_id, r.pass_rate) for r in records] == [("r1", 0.0), ("r2", 0.0)]
    assert read_history(path) == records
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_each_line_is_a_json_document_with_the_documented_keys(tmp_path):
    path = tmp_path / "history.jsonl"
    add_run(path, record_of(summary("r1", passed("S1.3", LATENCY))))
    line = json.loads(path.read_text(encoding="utf-8"))
    assert list(line) == ["run_id", "time", "target", "pass_rate", "threshold", "gate_passed", "exit_code", "verdict",
                          "stages", "sla"]
    assert line["stages"] == {"1": {"name": "Proxmox API connection", "pass_rate": 100.0}}
    assert list(line["sla"][0]) == ["check", "metric", "value", "p95", "threshold", "unit", "comparison", "verdict"]


def test_no_history_file_is_no_runs(tmp_path):
    assert read_history(tmp_path / "history.jsonl") == []


def test_a_broken_line_is_named_with_its_file_and_number(tmp_path):
    path = tmp_path / "history.jsonl"
    add_run(path, record_of(summary("r1", passed("S1.1"))))
    with path.open("a", encoding="utf-8") as history:
        history.write('{"run_id": "r2", "time": \n')
    with pytest.raises(HistoryError, match=r"history.jsonl:2 is not a run record .*fix or delete that line"):
        read_history(path)
