"""The one polling helper: a deadline from the settings, backoff, terminal states, last state shown."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    seconds: float          # always from settings, never a literal in a test
    first_poll: float = 0.5
    max_poll: float = 1.0   # a state change is seen within a second, at most one look a second (docs/benchmarks.md)


class WaitTimeout(AssertionError):
    """The deadline passed; the message holds the last state seen."""


class WaitAborted(AssertionError):
    """A terminal state was seen; waiting longer cannot help."""


def wait_for(what: str, probe: Callable[[], T], *, done: Callable[[T], bool], deadline: Deadline,
             failed: Callable[[T], str | None] = lambda state: None, show: Callable[[T], str] = repr,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """Poll probe() until done(state); raise WaitAborted when failed(state) names a reason, WaitTimeout at the deadline."""
    __tracebackhide__ = True
    end, pause = clock() + deadline.seconds, deadline.first_poll
    while True:
        state = probe()
        if done(state):
            return state
        if reason := failed(state):
            raise WaitAborted(f"{what}: {reason} (last state: {show(state)})")
        if (left := end - clock()) <= 0:
            raise WaitTimeout(f"{what}: not reached within {deadline.seconds:g} s (last state: {show(state)})")
        sleep(min(pause, left))
        pause = min(pause * 2, deadline.max_poll)
