"""Waits on Kubernetes objects that look again as soon as a watch reports a change, not on a clock.

A watch is one long request per watched list: the wait sees a change within milliseconds and asks nothing while
nothing changes, where polling would see it within a second at one request a second. The state itself is still
read by the wait's probe, so a probe may combine several objects and show what it likes.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from kubernetes import watch

from proxqa.kube.client import KubeClient
from proxqa.waits import POLL, Deadline, wait_for

T = TypeVar("T")

RESYNC = 10.0           # seconds: with the watches live, look anyway this often (a lost event costs at most this)
GAP = 0.1               # seconds: after BURST looks woken less than this apart, the next ones keep this far apart,
BURST = 5               # so a storm of events costs at most ten looks a second
WATCH_SECONDS = 60      # the length of one watch request; the next resumes from the last resourceVersion seen
STOP_SECONDS = 2.0      # how long leaving waits for the watch threads to end
STOP_POLL = 0.01


@dataclass(frozen=True)
class Watched:
    """What wakes a wait: one object by name, or the objects matching a label selector and field selector (all
    when none), on one cluster."""
    kube: KubeClient
    api_version: str
    kind: str
    namespace: str | None = None
    name: str = ""
    selector: str = ""
    fields: str = ""


class Changes:
    """Watches in background threads, from the moment of entering; wait(seconds) returns early once any of them saw
    a change since the last wait (after BURST quick wakes, no sooner than GAP seconds after the last). A watch that
    fails is listed and started again once; when it cannot start or fails twice in a row, wait() returns `poll`
    seconds after it last returned: the wait goes on polling, as without a watch."""

    def __init__(self, watched: Iterable[Watched], poll: float = POLL):
        self._watched, self._poll = list(watched), poll
        self._changed, self._leaving = threading.Event(), threading.Event()
        self._threads: list[tuple[threading.Thread, watch.Watch]] = []
        self._returned = time.monotonic()       # when wait() last returned: the next look starts then
        self._quick = 0                         # wakes in a row that came less than GAP after the one before
        self.broken = ""        # why watching stopped, "" while every watch is live

    def __enter__(self) -> Changes:
        self._returned = time.monotonic()
        for item in self._watched:
            try:
                since = self._version(item)
            except Exception as exc:        # whatever the list says, the wait must go on polling
                self._break(exc)
                continue
            watcher = watch.Watch()
            thread = threading.Thread(target=self._follow, args=(item, watcher, since), daemon=True,
                                      name=f"watch {item.kind} {item.name or item.selector or item.fields}")
            thread.start()
            self._threads.append((thread, watcher))
        return self

    def __exit__(self, *exc_info) -> None:
        self._leaving.set()
        for _, watcher in self._threads:
            watcher.stop()
        ends = time.monotonic() + STOP_SECONDS
        for thread, watcher in self._threads:
            while thread.is_alive() and time.monotonic() < ends:
                watcher.stop()      # again until it takes: a stop before the request is open is forgotten by it
                thread.join(STOP_POLL)

    def wait(self, seconds: float = RESYNC) -> bool:
        """Sleep up to seconds; True when a change ended the sleep."""
        if self.broken:
            seconds = min(seconds, self._returned + self._poll - time.monotonic())
        changed = self._changed.wait(max(seconds, 0.0))
        if changed:
            early = self._returned + GAP - time.monotonic()
            self._quick = self._quick + 1 if early > 0 else 0
            if self._quick > BURST:
                time.sleep(early)
        self._changed.clear()
        self._returned = time.monotonic()
        return changed

    def _version(self, item: Watched) -> str:
        return item.kube.resource_version(item.api_version, item.kind, item.namespace, item.selector)

    def _break(self, exc: Exception) -> None:
        self.broken = str(exc) or type(exc).__name__
        self._changed.set()

    def _follow(self, item: Watched, watcher: watch.Watch, since: str) -> None:
        failed_before = False
        while not self._leaving.is_set():
            try:
                for event_type, obj in item.kube.watch(item.api_version, item.kind, since, watcher,
                                                        seconds=WATCH_SECONDS, namespace=item.namespace,
                                                        name=item.name, selector=item.selector, fields=item.fields):
                    since, failed_before = obj["metadata"]["resourceVersion"], False
                    if event_type != "BOOKMARK":
                        self._changed.set()
                failed_before = False
            except Exception as exc:        # 410 Expired, a dropped connection, a timeout: list again, once in a row
                if self._leaving.is_set():
                    return
                if failed_before:
                    self._break(exc)
                    return
                failed_before = True
                try:
                    since = self._version(item)
                except Exception as again:
                    self._break(again)
                    return
                self._changed.set()         # something may have changed meanwhile: look again


def wait_watching(watched: Iterable[Watched], what: str, probe: Callable[[], T], *, deadline: Deadline,
                  **checks) -> T:
    """wait_for(what, probe, ...) that looks again as soon as a watch on `watched` reports a change, and every
    RESYNC seconds otherwise; polls as wait_for does when the watches cannot run. checks: done, failed, show."""
    __tracebackhide__ = True
    with Changes(watched, deadline.poll) as changes:
        return wait_for(what, probe, deadline=dataclasses.replace(deadline, poll=RESYNC), sleep=changes.wait,
                        **checks)
