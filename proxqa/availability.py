"""Availability over the run: probes of an API sampled in a background thread, and what the samples say.

Availability is time-weighted: an outage runs from a failed probe to the next probe that succeeds (or to the last
probe), and availability is the share of the probed span outside outages. The error rate counts failed probes.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

STOP_GRACE = 0.5        # seconds stop() lets a probe in flight finish


@dataclass(frozen=True)
class Probe:
    target: str         # what was probed, e.g. "Proxmox API"
    at: float           # wall-clock time (time.time()) the probe started
    error: str          # "" when the API answered well

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Outage:
    start: float        # the first failed probe
    end: float          # the next probe that succeeded, or the last probe when none did
    failures: int
    first_error: str
    recovered: bool

    def __str__(self) -> str:
        state = "" if self.recovered else " (not recovered)"
        return f"{clock_time(self.start)}-{clock_time(self.end)} UTC{state}, {self.failures} failed: {self.first_error}"


def clock_time(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%H:%M:%S")


def outages(probes: Iterable[Probe]) -> list[Outage]:
    """The runs of consecutive failed probes, in time order."""
    found: list[Outage] = []
    run: list[Probe] = []
    last = None
    for probe in sorted(probes, key=lambda p: p.at):
        if not probe.ok:
            run.append(probe)
        elif run:
            found.append(Outage(run[0].at, probe.at, len(run), run[0].error, True))
            run = []
        last = probe
    if run:
        found.append(Outage(run[0].at, last.at, len(run), run[0].error, False))
    return found


@dataclass(frozen=True)
class Availability:
    target: str
    probes: int
    failed: int
    span: float                 # seconds from the first probe to the last
    outages: tuple[Outage, ...]

    @property
    def error_rate(self) -> float:
        return 100.0 * self.failed / self.probes if self.probes else 0.0

    @property
    def percent(self) -> float:
        if self.span <= 0:
            return 0.0 if self.failed else 100.0
        down = sum(o.end - o.start for o in self.outages)
        return 100.0 * (1 - down / self.span)

    def __str__(self) -> str:
        windows = "; ".join(str(o) for o in self.outages) or "no outage"
        return (f"{self.target}: {self.percent:.2f} % available, {self.failed} of {self.probes} probes failed "
                f"over {self.span:.0f} s; outages: {windows}")


def availability(target: str, probes: Iterable[Probe]) -> Availability:
    """What the probes of one target say."""
    mine = sorted((p for p in probes if p.target == target), key=lambda p: p.at)
    span = mine[-1].at - mine[0].at if mine else 0.0
    return Availability(target, len(mine), sum(not p.ok for p in mine), span, tuple(outages(mine)))


class Prober:
    """Calls each target's check every interval seconds in a daemon thread; a check raises to report a failure.

    Checks must keep their own timeouts short: a slow answer delays the next round."""

    def __init__(self, checks: dict[str, Callable[[], None]], interval: float,
                 clock: Callable[[], float] = time.time):
        self.checks, self.interval, self._clock = checks, interval, clock
        self._probes: list[Probe] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proxqa-availability", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No probe is recorded from now on. A probe still in flight is not waited for (it may take its whole
        timeout); its daemon thread ends with it."""
        self._stop.set()
        self._thread.join(timeout=STOP_GRACE)

    def probes(self) -> list[Probe]:
        with self._lock:
            return list(self._probes)

    def counts(self) -> dict[str, int]:
        """Probes so far per target."""
        probes = self.probes()
        return {target: sum(p.target == target for p in probes) for target in self.checks}

    def _run(self) -> None:
        while not self._stop.is_set():
            for target, check in self.checks.items():
                self._record(target, check)
            self._stop.wait(self.interval)

    def _record(self, target: str, check: Callable[[], None]) -> None:
        at = self._clock()
        try:
            check()
            error = ""
        except Exception as exc:     # any failure of the call is the verdict, never the end of the prober
            error = str(exc) or type(exc).__name__
        with self._lock:
            if not self._stop.is_set():
                self._probes.append(Probe(target, at, error))
