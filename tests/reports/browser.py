"""Headless Chromium for the report tests: a page opened from disk, its DOM after the scripts ran, a screenshot, and
the network requests the page itself made. Every request is routed to a closed loopback port and no host name
resolves, so nothing leaves the machine even if a page (or Chromium's own background services) tries."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-breakpad", "--metrics-recording-only", "--password-store=basic",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=8000",       # let the page's scripts render before the DOM is read
)
BROWSER_ITSELF = "not an origin"        # the initiator Chromium logs for its own requests (update checks, sign-in)


@dataclass(frozen=True)
class Page:
    dom: str
    requests: list[str]     # URLs of the http(s) requests the page made while loading


class Browser:
    def __init__(self, binary: str, scratch: Path):
        self._binary, self._scratch = binary, scratch

    def open(self, url: str, *, screenshot: Path | None = None, size: tuple[int, int] = (1280, 1600)) -> Page:
        """Load the page, return its rendered DOM and the requests it made; save a screenshot when asked."""
        netlog = self._scratch / "netlog.json"
        dom = self._run("--dump-dom", f"--log-net-log={netlog}", url, size=size)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            self._run(f"--screenshot={screenshot}", url, size=size)
        return Page(dom=dom, requests=page_requests(netlog))

    def _run(self, *args: str, size: tuple[int, int]) -> str:
        command = [self._binary, *FLAGS, f"--user-data-dir={self._scratch / 'profile'}",
                   f"--window-size={size[0]},{size[1]}", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:      # timed out: stop Chromium with all its helper processes
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert process.returncode == 0, f"chromium {' '.join(args)} exited {process.returncode}: {err[-1500:]}"
        return out


def page_requests(netlog: Path) -> list[str]:
    """http(s) URLs the page asked for, from Chromium's net log (--log-net-log)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and event.get("params", {}).get("url", "").startswith(("http://", "https://"))
            and event["params"].get("initiator") != BROWSER_ITSELF]
