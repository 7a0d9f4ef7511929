"""A pytest plugin for benchmarks only: when the run starts, stops, and every wait the suite does.

    PROXQA_BENCH_PHASES=phases.json python -m pytest -p benchmarks.phases stages/ ...

It writes one JSON object to $PROXQA_BENCH_PHASES when pytest ends:
  marks   {name: epoch seconds}: configured, session_start, lab_ready, collected, checks_start, checks_end,
          unconfigure_start, unconfigure_end (the lab is stopped inside unconfigure)
  items   [{nodeid, stage, started, seconds}]: setup + call + teardown of each test
  waits   [{what, nodeid, started, seconds, polls, last_pause, outcome, depth}]: each call of
          proxqa.waits.wait_for, with its polls, how long it slept before its last poll (the most its tail can
          be; a watched wait is woken by the change), and how deep it is nested in other waits (0: a wait of the
          test itself)

The wait helper is wrapped when this plugin is imported (pytest loads -p plugins before conftest.py imports the
suite's modules), so modules that import wait_for by name pick up the wrapper. Nothing is written without
$PROXQA_BENCH_PHASES.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from benchmarks.common import PHASES_OUTPUT as OUTPUT
from proxqa import waits

_marks: dict[str, float] = {}
_items: list[dict] = []
_waits: list[dict] = []
_current = {"nodeid": "", "depth": 0}
_plain_wait_for = waits.wait_for


def _counted_wait_for(what, probe, *, done, deadline, sleep=time.sleep, **options):
    __tracebackhide__ = True
    record = {"what": what, "nodeid": _current["nodeid"], "started": time.time(), "polls": 0, "last_pause": 0.0,
              "outcome": "done", "depth": _current["depth"]}

    def counted_probe():
        record["polls"] += 1
        return probe()

    def counted_sleep(seconds):
        began = time.time()
        sleep(seconds)
        record["last_pause"] = round(time.time() - began, 4)

    _current["depth"] += 1
    try:
        return _plain_wait_for(what, counted_probe, done=done, deadline=deadline, sleep=counted_sleep,
                               **options)
    except AssertionError as exc:
        record["outcome"] = type(exc).__name__
        raise
    finally:
        _current["depth"] -= 1
        record["seconds"] = round(time.time() - record["started"], 4)
        _waits.append(record)


waits.wait_for = _counted_wait_for


def _mark(name: str) -> None:
    _marks[name] = time.time()


def pytest_configure(config: pytest.Config) -> None:
    _mark("configured")


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionstart(session: pytest.Session):
    _mark("session_start")
    yield
    _mark("lab_ready")


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session):
    yield
    _mark("collected")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session):
    _mark("checks_start")
    yield
    _mark("checks_end")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    _current["nodeid"] = item.nodeid
    started = time.time()
    yield
    stage = item.nodeid.split("/")[1].split("_")[0] if item.nodeid.startswith("stages/") else ""
    _items.append({"nodeid": item.nodeid, "stage": stage, "started": started,
                   "seconds": round(time.time() - started, 4)})


@pytest.hookimpl(hookwrapper=True)
def pytest_unconfigure(config: pytest.Config):
    _mark("unconfigure_start")
    yield
    _mark("unconfigure_end")
    target = os.environ.get(OUTPUT)
    if target:
        Path(target).write_text(json.dumps({"marks": _marks, "items": _items, "waits": _waits}, indent=1))
