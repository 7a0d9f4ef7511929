"""Bounded polling for the lab's own tests: no bare sleeps, and a failure that shows the last value seen."""

import time

import pytest


def wait_for(what, probe, done, seconds, pause=0.25):
    """probe() until done(value); that value. Fails naming `what` and the last value once `seconds` pass."""
    __tracebackhide__ = True
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail('{0}: not within {1:g} s; last seen: {2!r}'.format(what, seconds, value))
        time.sleep(pause)
