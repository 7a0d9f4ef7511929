"""The one waiting helper: a deadline from the settings, one look a second, terminal states, last state shown."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

POLL = 1.0      # seconds from the start of one look to the next: a change is seen within a second, and a waiter asks
                # at most once a second (docs/benchmarks.md, wait reaction)


@dataclass(frozen=True)
class Deadline:
    seconds: float      # always from settings, never a literal in a test
    poll: float = POLL


class WaitTimeout(AssertionError):
    """The deadline passed; the message holds the last state seen."""


class WaitAborted(AssertionError):
    """A terminal state was seen; waiting longer cannot help."""


def wait_for(what: str, probe: Callable[[], T], *, done: Callable[[T], bool], deadline: Deadline,
             failed: Callable[[T], str | None] = lambda state: None, show: Callable[[T], str] = repr,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """Poll probe() until done(state); raise WaitAborted when failed(state) names a reason, WaitTimeout at the deadline.
    sleep(seconds) may return early (a watch saw a change, see proxqa.kube.watching): the next look follows at once."""
    __tracebackhide__ = True
    end = clock() + deadline.seconds
    while True:
        looked = clock()
        state = probe()
        if done(state):
            return state
        if reason := failed(state):
            raise WaitAborted(f"{what}: {reason} (last state: {show(state)})")
        if (left := end - clock()) <= 0:
            raise WaitTimeout(f"{what}: not reached within {deadline.seconds:g} s (last state: {show(state)})")
        sleep(min(max(looked + deadline.poll - clock(), 0.0), left))
