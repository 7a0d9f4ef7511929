"""Starting, stopping and steering the embedded lab, which runs as its own processes (`python -m lab`)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from kubernetes import client as kube_client
from kubernetes import config as kube_config

REPO = Path(__file__).resolve().parent.parent


class LabError(RuntimeError):
    """The lab could not be started, stopped or steered; the message says why."""


@dataclass(frozen=True)
class LabHandle:
    settings: dict[str, str]    # environment-variable names -> values that point a client at the lab
    control_url: str
    state_dir: Path


def _lab(*args: str, timeout: float, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, check=False, input=stdin)


def start_lab(state_dir: Path, *, faults: tuple[str, ...] = (), time_scale: float = 0.0,
              watch_pid: int | None = None, seed: str = "standard",
              secrets: Mapping[str, str] | None = None) -> LabHandle:
    """Start the lab; `secrets` chooses some of its secrets (role -> value: user, suite, capmox, csi, ccm), e.g. canary
    values a test then looks for in reports. They go through a pipe, never on a command line."""
    args = ["up", "--json", "--state-dir", str(state_dir), "--time-scale", str(time_scale), "--seed", seed]
    args += [f"--fault={fault}" for fault in faults]
    if watch_pid is not None:
        args += ["--watch-pid", str(watch_pid)]
    if secrets:
        args.append("--secrets-stdin")
    done = _lab(*args, timeout=90, stdin=json.dumps(dict(secrets)) if secrets else None)
    if done.returncode != 0:
        raise LabError(f"the lab did not start (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    up = json.loads(done.stdout)
    return LabHandle(settings=up["settings"], control_url=up["control_url"], state_dir=state_dir)


def stop_lab(state_dir: Path) -> None:
    done = _lab("down", "--state-dir", str(state_dir), timeout=60)
    if done.returncode != 0:
        raise LabError(f"the lab did not stop (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


class LabControl:
    """The lab's control API: faults and the request log. For the suite's own tests, never for stage checks."""

    def __init__(self, control_url: str):
        self.url = control_url.rstrip("/")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, self.url + path, timeout=30, **kwargs)
        if response.status_code >= 400:
            raise LabError(f"lab control {method} {path}: HTTP {response.status_code} {response.text.strip()}")
        return response.json() if response.content else None

    def set_fault(self, fault: str) -> None:
        name, _, value = fault.partition("=")
        self._call("PUT", f"/faults/{name}", json={"value": value} if value else {})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def requests_seen(self, since: int = 0) -> list[dict[str, Any]]:
        """The Proxmox twin's request log from that index on: index, time, method, path, identity, status,
        user_agent."""
        return self._call("GET", f"/requests?since={since}")["requests"]


def kube_requests_seen(kubeconfig: Path, since: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(the requests clients sent over HTTP to the lab's Kubernetes API server of that kubeconfig, from index `since`
    on: index, time, method, path, status, user_agent; the next index). The lab's own controllers are not in it: they
    use the store in their process."""
    cluster = kube_client.Configuration()
    kube_config.load_kube_config(config_file=str(kubeconfig), client_configuration=cluster)
    bearer = {"Authorization": cluster.get_api_key_with_prefix("BearerToken")}
    try:
        response = requests.get(f"{cluster.host}/lab/requests", params={"since": since}, headers=bearer,
                                verify=cluster.ssl_ca_cert, timeout=30)
    except requests.RequestException as exc:
        raise LabError(f"the request log of the Kubernetes API server {cluster.host}: {exc}") from None
    if response.status_code != 200:
        raise LabError(f"the request log of the Kubernetes API server {cluster.host}: HTTP {response.status_code}")
    answer = response.json()
    return answer["requests"], answer["next"]
