"""The run summary: per-check outcomes, pass rates per stage and overall, the pass-rate gate
and the exit code. Pure functions over ItemResult records; the writers live in report_files.

summary.json (``RunSummary.to_json``) is a stable interface, documented in docs/summary-json.md.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import IntEnum
from itertools import groupby

from proxqa.catalog import STAGES, check, order_key, stage_of
from proxqa.results import ItemResult, SlaResult

SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "blocked", "flaky", "known_issue")
# A check takes the first of these outcomes that any of its items has; "skipped" otherwise.
_OUTCOME_PRECEDENCE = ("failed", "known_issue", "blocked", "flaky", "passed")
# The item whose message explains the check: a failure first, then a reason for not running.
_MESSAGE_PRECEDENCE = ("failed", "known_issue", "blocked", "skipped", "flaky", "passed")


class ExitCode(IntEnum):
    """Process exit codes of a run; docs/summary-json.md explains each."""
    GATE_PASSED = 0
    CHECKS_FAILED = 1
    CONFIG_ERROR = 4            # raised by the settings validation, before any test runs
    SLA_BREACH_ONLY = 6
    TARGET_UNREACHABLE = 7
    TOO_FEW_EXECUTED = 8


@dataclass(frozen=True)
class CheckSummary:
    id: str
    title: str
    stage: int
    outcome: str
    message: str
    items: int
    category: str


@dataclass(frozen=True)
class StageSummary:
    number: int
    name: str
    pass_rate: float | None     # None when no check of the stage executed
    counts: dict[str, int]


@dataclass(frozen=True)
class Gate:
    threshold: float            # percent
    min_executed: int
    executed: int
    pass_rate: float | None
    passed: bool
    reason: str                 # one line

    @property
    def verdict(self) -> str:
        """The headline of the reports: "Gate PASSED: 100.0 % of 17 executed checks passed (target 95 %)"."""
        if self.pass_rate is None or self.executed < self.min_executed:
            detail = self.reason
        else:
            rate = percent_text(self.pass_rate, self.threshold)
            detail = f"{rate} % of {_checks(self.executed, 'executed')} passed"
        return f"Gate {'PASSED' if self.passed else 'FAILED'}: {detail} (target {self.threshold:g} %)"


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    target: str
    started: str                # ISO 8601 UTC
    finished: str
    pass_rate: float | None
    gate: Gate
    counts: dict[str, int]
    stages: tuple[StageSummary, ...]
    checks: tuple[CheckSummary, ...]
    sla: tuple[SlaResult, ...]
    environment: dict[str, str]

    def to_json(self) -> dict:
        """The summary.json document (schema 1)."""
        return {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "target": self.target,
            "started": self.started,
            "finished": self.finished,
            "pass_rate": _round(self.pass_rate),
            "gate": {"threshold": self.gate.threshold, "min_executed": self.gate.min_executed,
                     "executed": self.gate.executed, "pass_rate": _round(self.gate.pass_rate),
                     "passed": self.gate.passed, "reason": self.gate.reason},
            "counts": dict(self.counts),
            "stages": {str(s.number): {"name": s.name, "pass_rate": _round(s.pass_rate), "counts": dict(s.counts)}
                       for s in self.stages},
            "checks": [{"id": c.id, "title": c.title, "stage": c.stage, "outcome": c.outcome,
                        "message": c.message, "category": c.category, "items": c.items} for c in self.checks],
            "sla": [_sla_json(result) for result in self.sla],
            "environment": dict(self.environment),
        }

    @classmethod
    def from_json(cls, document: Mapping) -> RunSummary:
        """The summary back from its summary.json document, e.g. to gate or report a finished run again."""
        if document.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"summary.json schema {document.get('schema')!r} is not supported; "
                             f"this version reads schema {SCHEMA_VERSION}")
        gate = document["gate"]
        return cls(
            run_id=document["run_id"], target=document["target"], started=document["started"],
            finished=document["finished"], pass_rate=document["pass_rate"],
            gate=Gate(gate["threshold"], gate["min_executed"], gate["executed"], gate["pass_rate"], gate["passed"],
                      gate["reason"]),
            counts=_counts_from_json(document["counts"]),
            stages=tuple(StageSummary(int(number), stage["name"], stage["pass_rate"],
                                      _counts_from_json(stage["counts"]))
                         for number, stage in document["stages"].items()),
            checks=tuple(CheckSummary(**check) for check in document["checks"]),
            sla=tuple(SlaResult.from_dict(result) for result in document["sla"]),
            environment=dict(document["environment"]))


def summarize(items: Iterable[ItemResult], *, run_id: str, target: str, started: datetime, finished: datetime,
              threshold: float, min_executed: int, environment: Mapping[str, str]) -> RunSummary:
    """The run summary of all collected item results; started and finished must carry a time zone."""
    ordered = sorted(items, key=lambda item: order_key(item.check))
    checks = tuple(summarize_check(cid, list(group)) for cid, group in groupby(ordered, key=lambda i: i.check))
    counts = count_outcomes(checks)
    return RunSummary(
        run_id=run_id, target=target, started=_utc_iso(started), finished=_utc_iso(finished),
        pass_rate=pass_rate(counts), gate=evaluate_gate(counts, threshold=threshold, min_executed=min_executed),
        counts=counts, stages=_stages(checks), checks=checks,
        sla=tuple(result for item in ordered for result in item.sla), environment=dict(environment))


def summarize_check(check_id: str, items: list[ItemResult]) -> CheckSummary:
    """One check's outcome over its items (e.g. one item per endpoint)."""
    outcomes = {item.outcome for item in items}
    outcome = next((o for o in _OUTCOME_PRECEDENCE if o in outcomes), "skipped")
    explaining = next(item for o in _MESSAGE_PRECEDENCE for item in items if item.outcome == o)
    return CheckSummary(id=check_id, title=check(check_id).title, stage=stage_of(check_id), outcome=outcome,
                        message=explaining.message, items=len(items), category=explaining.category)


def count_outcomes(checks: Iterable[CheckSummary]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for summary in checks:
        counts[summary.outcome] += 1
    return counts


def executed(counts: Mapping[str, int]) -> int:
    """Checks the gate counts: those that ran to a verdict. Skipped and blocked ones did not run; a failure
    marked as a known issue ran but is counted apart, as Allure leaves known failures out of its success rate."""
    return counts["passed"] + counts["failed"] + counts["flaky"]


def pass_rate(counts: Mapping[str, int]) -> float | None:
    """Percent of executed checks that passed (flaky ones included); None when nothing executed."""
    ran = executed(counts)
    return (counts["passed"] + counts["flaky"]) * 100 / ran if ran else None


def evaluate_gate(counts: Mapping[str, int], *, threshold: float, min_executed: int) -> Gate:
    """The pass-rate gate: at least min_executed checks executed and a pass rate of at least threshold."""
    threshold = float(threshold)
    ran, rate = executed(counts), pass_rate(counts)
    if rate is None or ran < min_executed:
        return Gate(threshold, min_executed, ran, rate, False, _too_few_reason(ran, min_executed) + _apart(counts))
    passed = rate >= threshold
    shown = percent_text(rate, threshold)
    if passed:
        reason = f"pass rate {shown} % ≥ {threshold:g} % over {_checks(ran, 'executed')}"
    else:
        good = counts["passed"] + counts["flaky"]
        flaky = f", {counts['flaky']} of them flaky" if counts["flaky"] else ""
        reason = f"pass rate {shown} % < {threshold:g} % ({good} of {_checks(ran, 'executed')} passed{flaky})"
    return Gate(threshold, min_executed, ran, rate, passed, reason + _apart(counts))


def exit_code(summary: RunSummary) -> ExitCode:
    """0 when the gate passed; otherwise the code naming the kind of failure (see docs/summary-json.md)."""
    if summary.gate.passed:
        return ExitCode.GATE_PASSED
    failed_categories = {c.category for c in summary.checks if c.outcome == "failed"}
    if "unreachable" in failed_categories:
        return ExitCode.TARGET_UNREACHABLE
    if failed_categories == {"sla breach"}:
        return ExitCode.SLA_BREACH_ONLY
    if failed_categories:
        return ExitCode.CHECKS_FAILED
    return ExitCode.TOO_FEW_EXECUTED


def percent_text(rate: float, threshold: float) -> str:
    """A pass rate with one decimal, or more when one would put it on the wrong side of the
    threshold (94.96 shows as "94.96", not as "95.0")."""
    for digits in (1, 2, 3, 4):
        text = f"{rate:.{digits}f}"
        if (float(text) >= threshold) == (rate >= threshold):
            break
    return text


def _too_few_reason(ran: int, min_executed: int) -> str:
    required = f", at least {min_executed} required" if min_executed else ""
    if ran == 0:
        return f"no check executed{required}"
    return f"only {_checks(ran)} executed{required}"


def _apart(counts: Mapping[str, int]) -> str:
    """ "; 2 known issues not counted", or nothing when no check failed on a known issue."""
    known = counts.get("known_issue", 0)
    return f"; {known} known issue{'' if known == 1 else 's'} not counted" if known else ""


def _checks(count: int, adjective: str = "") -> str:
    """ "1 executed check", "3 executed checks" """
    words = [str(count), adjective, "check" if count == 1 else "checks"]
    return " ".join(word for word in words if word)


def _stages(checks: tuple[CheckSummary, ...]) -> tuple[StageSummary, ...]:
    stages = []
    for number, group in groupby(checks, key=lambda c: c.stage):
        counts = count_outcomes(group)
        stages.append(StageSummary(number, STAGES[number], pass_rate(counts), counts))
    return tuple(stages)


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"run time {moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _round(number: float | None) -> float | None:
    return None if number is None else round(number, 4)


def _counts_from_json(counts: Mapping[str, int]) -> dict[str, int]:
    """Every outcome, also those a summary written before they existed lacks."""
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def _sla_json(result: SlaResult) -> dict:
    pct = result.percentiles
    return {
        "check": result.check, "metric": result.metric, "threshold": _round(result.threshold),
        "value": _round(result.value), "verdict": result.verdict, "unit": result.unit,
        "comparison": result.comparison, "setting": result.setting,
        "percentiles": None if pct is None else {
            "count": pct.count, **{name: _round(getattr(pct, name)) for name in ("p50", "p90", "p95", "p99", "max")}},
        "phases": {name: _round(seconds) for name, seconds in result.phases.items()},
    }
