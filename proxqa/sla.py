"""SLA maths as plain data: samples, nearest-rank percentiles, phase timers and verdicts."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from proxqa.results import Percentiles, SlaResult


class SlaBreach(AssertionError):
    """A measured value missed its SLA threshold; the message names metric, value and threshold."""


def nearest_rank(sorted_samples: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least percent % of samples at or below it."""
    if not sorted_samples:
        raise ValueError("no samples")
    rank = max(1, math.ceil(percent / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


def percentiles(samples: Iterable[float]) -> Percentiles:
    ordered = sorted(samples)
    return Percentiles(count=len(ordered), p50=nearest_rank(ordered, 50), p90=nearest_rank(ordered, 90),
                       p95=nearest_rank(ordered, 95), p99=nearest_rank(ordered, 99), max=ordered[-1])


@dataclass(frozen=True)
class Sample:
    label: str          # what was timed, e.g. "GET /cluster/resources #7"
    seconds: float


@dataclass
class Sampler:
    """Times repeated calls of one operation with perf_counter and keeps every sample."""
    clock: Callable[[], float] = time.perf_counter
    samples: list[Sample] = field(default_factory=list)

    def time(self, label: str, operation: Callable[[], object]) -> object:
        start = self.clock()
        result = operation()
        self.samples.append(Sample(label, self.clock() - start))
        return result

    def seconds(self) -> list[float]:
        return [s.seconds for s in self.samples]

    def slowest(self, n: int) -> list[Sample]:
        return sorted(self.samples, key=lambda s: s.seconds, reverse=True)[:n]


@dataclass
class Phases:
    """Named phases of one long operation (clone, configure, power-on, IP), timed back to back."""
    clock: Callable[[], float] = time.perf_counter
    durations: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            self.durations[name] = self.durations.get(name, 0.0) + self.clock() - start

    @property
    def total(self) -> float:
        return sum(self.durations.values())


def verdict(*, check: str, metric: str, value: float, threshold: float, setting: str, unit: str = "s",
            comparison: str = "<", samples: Sequence[float] = (), phases: dict[str, float] | None = None) -> SlaResult:
    """The SLA result for one measured value; percentiles are attached when samples are given."""
    met = value < threshold if comparison == "<" else value > threshold
    return SlaResult(check=check, metric=metric, threshold=threshold, value=value,
                     verdict="met" if met else "breached", unit=unit, comparison=comparison, setting=setting,
                     percentiles=percentiles(samples) if samples else None, phases=dict(phases or {}))


def breach_message(result: SlaResult) -> str:
    """One line naming metric, measured value, threshold, sample count and the setting that holds the threshold."""
    counted = f" over {result.percentiles.count} samples" if result.percentiles else ""
    wanted = "below" if result.comparison == "<" else "above"
    return (f"SLA breach: {result.metric} = {result.value:.3f} {result.unit}{counted}, must be {wanted} "
            f"{result.threshold:g} {result.unit} (setting {result.setting})")
