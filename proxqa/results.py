"""Result records shared by the pytest plugin and the report writers.

They are plain frozen dataclasses so they cross xdist workers as dicts
(``dataclasses.asdict``) and rebuild with ``from_dict``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Outcome = Literal["passed", "failed", "skipped", "blocked", "flaky", "known_issue"]
# Why a check failed, for Allure categories and the exit code.
Category = Literal["product defect", "sla breach", "unreachable", "blocked", "skipped", "known issue", ""]


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class SlaResult:
    """One SLA verdict: a measured value against a threshold from the settings."""
    check: str                  # "S1.3"
    metric: str                 # "api-latency-p95 /cluster/resources"
    threshold: float
    value: float
    verdict: Literal["met", "breached"]
    unit: str = "s"
    comparison: Literal["<", ">"] = "<"    # value must be below (or above) the threshold
    setting: str = ""           # the configuration key holding the threshold
    percentiles: Percentiles | None = None
    phases: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict) -> SlaResult:
        pct = raw.get("percentiles")
        return cls(**{**raw, "percentiles": Percentiles(**pct) if pct else None})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one pytest item (a check may have several, e.g. one per endpoint)."""
    check: str                  # "S1.3"
    nodeid: str
    outcome: Outcome
    category: Category
    message: str                # one line: the cause, or the skip/blocked reason
    duration: float
    sla: tuple[SlaResult, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict) -> ItemResult:
        return cls(**{**raw, "sla": tuple(SlaResult.from_dict(s) for s in raw.get("sla", ()))})

    def to_dict(self) -> dict:
        return {**asdict(self), "sla": [s.to_dict() for s in self.sla]}
