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

from proxqa.kube.client import KubeClient, KubeError, KubeUnreachable
from proxqa.waits import POLL, Deadline, wait_for

T = TypeVar("T")

RESYNC = 10.0           # seconds: with the watches live, look anyway this often (a lost event costs at most this)
WATCH_SECONDS = 60      # the length of one watch request; the next resumes from the last resourceVersion seen
STOP_SECONDS = 2.0      # how long leaving waits for the watch threads to end
STOP_POLL = 0.01
GONE = 410              # the resourceVersion to resume from is too old: list again


@dataclass(frozen=True)
class Watched:
    """What wakes a wait: one object by name, or the objects matching a label selector (all when neither), on one
    cluster."""
    kube: KubeClient
    api_version: str
    kind: str
    namespace: str | None = None
    name: str = ""
    selector: str = ""


class Changes:
    """Watches in background threads, from the moment of entering; wait(seconds) returns early once any of them saw
    a change since the last wait. When a watch cannot start or breaks, wait() sleeps at most `poll` seconds: the
    wait goes on polling, as without a watch."""

    def __init__(self, watched: Iterable[Watched], poll: float = POLL):
        self._watched, self._poll = list(watched), poll
        self._changed, self._leaving = threading.Event(), threading.Event()
        self._threads: list[tuple[threading.Thread, watch.Watch]] = []
        self.broken = ""        # why watching stopped, "" while every watch is live

    def __enter__(self) -> Changes:
        for item in self._watched:
            try:
                since = item.kube.resource_version(item.api_version, item.kind, item.namespace, item.selector)
            except (KubeError, KubeUnreachable) as exc:
                self.broken = str(exc)
                continue
            watcher = watch.Watch()
            thread = threading.Thread(target=self._follow, args=(item, watcher, since), daemon=True,
                                      name=f"watch {item.kind} {item.name or item.selector}")
            thread.start()
            self._threads.append((thread, watcher))
        return self

    def __exit__(self, *exc_info) -> None:
        self._leaving.set()
        ends = time.monotonic() + STOP_SECONDS
        for thread, watcher in self._threads:
            while thread.is_alive() and time.monotonic() < ends:
                watcher.stop()      # again until it takes: a stop before the request is open is forgotten by it
                thread.join(STOP_POLL)

    def wait(self, seconds: float = RESYNC) -> bool:
        """Sleep up to seconds; True when a change ended the sleep."""
        changed = self._changed.wait(min(seconds, self._poll) if self.broken else seconds)
        self._changed.clear()
        return changed

    def _follow(self, item: Watched, watcher: watch.Watch, since: str) -> None:
        try:
            while not self._leaving.is_set():
                try:
                    for event_type, obj in item.kube.watch(item.api_version, item.kind, since, watcher,
                                                            seconds=WATCH_SECONDS, namespace=item.namespace,
                                                            name=item.name, selector=item.selector):
                        since = obj["metadata"]["resourceVersion"]
                        if event_type != "BOOKMARK":
                            self._changed.set()
                except KubeError as exc:
                    if exc.code != GONE:
                        raise
                    since = item.kube.resource_version(item.api_version, item.kind, item.namespace, item.selector)
                    self._changed.set()
        except Exception as exc:        # whatever ends this thread, the wait must go on polling, not sleep RESYNC
            if not self._leaving.is_set():
                self.broken = str(exc) or type(exc).__name__
                self._changed.set()


def wait_watching(watched: Iterable[Watched], what: str, probe: Callable[[], T], *, deadline: Deadline,
                  **checks) -> T:
    """wait_for(what, probe, ...) that looks again as soon as a watch on `watched` reports a change, and every
    RESYNC seconds otherwise; polls as wait_for does when the watches cannot run. checks: done, failed, show."""
    __tracebackhide__ = True
    with Changes(watched, deadline.poll) as changes:
        return wait_for(what, probe, deadline=dataclasses.replace(deadline, poll=RESYNC), sleep=changes.wait,
                        **checks)
