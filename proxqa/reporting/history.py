"""The run history: reports/history.jsonl, one JSON line per run (time, target, pass rate overall and per stage,
SLA values, gate verdict), the data of the dashboard. docs/reports.md documents the line.

A run reported again replaces its line, so the file holds each run once, in the order the runs were first added.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from proxqa.summary import RunSummary, exit_code

HISTORY_FILE = "history.jsonl"


class HistoryError(Exception):
    """A line of the history file is not a run record."""


@dataclass(frozen=True)
class SlaPoint:
    """One SLA result of a run, as the trend needs it."""
    check: str
    metric: str
    value: float
    p95: float | None           # of the samples, when the result had several
    threshold: float
    unit: str
    comparison: str             # "<": must stay below the threshold, ">": above
    verdict: str

    @property
    def representative(self) -> float:
        """The value a trend shows: the p95 of the samples where there were several, else the measured value."""
        return self.value if self.p95 is None else self.p95


@dataclass(frozen=True)
class StageRate:
    name: str
    pass_rate: float | None     # None when no check of the stage executed


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    time: str                   # when the run finished, ISO 8601 UTC
    target: str
    pass_rate: float | None
    threshold: float            # the gate's pass-rate target in percent
    gate_passed: bool
    exit_code: int
    verdict: str                # the gate's headline
    stages: dict[int, StageRate]
    sla: tuple[SlaPoint, ...]

    def to_json(self) -> dict:
        document = asdict(self)
        document["stages"] = {str(number): asdict(stage) for number, stage in self.stages.items()}
        return document

    @classmethod
    def from_json(cls, document: dict) -> RunRecord:
        return cls(**{**document,
                      "stages": {int(n): StageRate(**stage) for n, stage in document["stages"].items()},
                      "sla": tuple(SlaPoint(**point) for point in document["sla"])})


def record_of(summary: RunSummary) -> RunRecord:
    """The run's line, with its figures rounded as in its summary.json."""
    document = summary.to_json()
    return RunRecord(
        run_id=summary.run_id, time=summary.finished, target=summary.target, pass_rate=document["pass_rate"],
        threshold=summary.gate.threshold, gate_passed=summary.gate.passed, exit_code=int(exit_code(summary)),
        verdict=summary.gate.verdict,
        stages={int(number): StageRate(stage["name"], stage["pass_rate"])
                for number, stage in document["stages"].items()},
        sla=tuple(SlaPoint(check=r["check"], metric=r["metric"], value=r["value"],
                           p95=r["percentiles"]["p95"] if r["percentiles"] else None, threshold=r["threshold"],
                           unit=r["unit"], comparison=r["comparison"], verdict=r["verdict"]) for r in document["sla"]))


def read_history(path: Path) -> list[RunRecord]:
    """The runs of a history file, oldest first; none when the file does not exist."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(RunRecord.from_json(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise HistoryError(f"{path}:{number} is not a run record ({exc}); fix or delete that line") from None
    return records


def add_run(path: Path, record: RunRecord) -> list[RunRecord]:
    """Add the run to the history file, replacing an earlier line of the same run; returns the whole history."""
    records = read_history(path)
    known = [r.run_id for r in records]
    if record.run_id in known:
        records[known.index(record.run_id)] = record
    else:
        records.append(record)
    _write(path, records)
    return records


def _write(path: Path, records: Sequence[RunRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records),
                       encoding="utf-8")
    scratch.replace(path)       # a run killed while writing leaves the old history, never half a file
