"""The real components as child processes: start one and wait until it answers, stop it, notice when one dies.

Each child gets PR_SET_PDEATHSIG, so the kernel kills it when the lab's process dies, even by SIGKILL.
"""

import asyncio
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

START_TIMEOUT = 30.0     # seconds for a component to answer its health URL
STOP_GRACE = 5.0         # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 15
PROXY_VARIABLES = ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


class ChildError(Exception):
    """A component did not start or did not answer; the message ends with the tail of its log."""


@dataclass
class Child:
    name: str
    command: list
    health_url: str
    log_path: Path
    process: object = None     # asyncio.subprocess.Process of the current run
    stopping: bool = False     # set while the lab stops it on purpose

    @property
    def running(self):
        return self.process is not None and self.process.returncode is None


def die_with_parent():
    """Runs in the child between fork and exec."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_environment():
    """The lab's environment without proxy settings: every address a component calls is on loopback."""
    return dict((name, value) for name, value in os.environ.items() if name.lower() not in PROXY_VARIABLES)


def log_tail(path):
    try:
        lines = Path(path).read_text(errors='replace').splitlines()[-LOG_TAIL_LINES:]
    except FileNotFoundError:
        lines = []
    return 'its log {0} ends with:\n  {1}'.format(path, '\n  '.join(lines) or '(nothing)')


class Children:
    def __init__(self):
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        self._children = []            # in start order
        self.died = asyncio.Queue()    # children that exited while nobody was stopping them

    async def start(self, child):
        """Start child and wait until its health URL answers 200; ChildError if it exits or takes too long."""
        with open(child.log_path, 'ab') as log:
            child.process = await asyncio.create_subprocess_exec(
                *child.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=child_environment(), preexec_fn=die_with_parent)
        child.stopping = False
        if child not in self._children:
            self._children.append(child)
        asyncio.ensure_future(self._watch(child, child.process))
        await self._wait_healthy(child)

    async def _watch(self, child, process):
        await process.wait()
        if not child.stopping:
            await self.died.put(child)

    async def _wait_healthy(self, child):
        deadline = time.monotonic() + START_TIMEOUT
        while not await self._answers(child.health_url):
            if not child.running:
                raise ChildError('{0} exited with status {1} while starting; {2}'.format(
                    child.name, child.process.returncode, log_tail(child.log_path)))
            if time.monotonic() > deadline:
                raise ChildError('{0} did not answer {1} within {2:g} s; {3}'.format(
                    child.name, child.health_url, START_TIMEOUT, log_tail(child.log_path)))
            await asyncio.sleep(0.1)

    async def _answers(self, url):
        try:
            async with self._session.get(url) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def stop(self, child):
        """SIGTERM, then SIGKILL after STOP_GRACE s; returns once the process is gone."""
        if not child.running:
            return
        child.stopping = True
        child.process.terminate()
        try:
            await asyncio.wait_for(child.process.wait(), STOP_GRACE)
        except asyncio.TimeoutError:
            child.process.kill()
            await child.process.wait()

    async def stop_all(self):
        for child in reversed(self._children):
            await self.stop(child)
        await self._session.close()

    def signal(self, child, number):
        if child.running:
            child.process.send_signal(number)

    def status(self):
        return dict((child.name, 'running' if child.running else 'stopped') for child in self._children)

    def pids(self):
        return [child.process.pid for child in self._children if child.running]
