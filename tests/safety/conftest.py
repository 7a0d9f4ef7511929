"""The safety tests run `pytest stages/` in subprocesses, as a user would. Their lab starts with canary secrets,
so a test can look for them in everything a run wrote."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxqa.labctl import start_lab, stop_lab
from tests.faults.conftest import REPO, TARGET_PREFIXES

# The lab's secrets (role -> value), chosen so that any copy of them in a report is found. Token secrets in PVE's form.
CANARY_SECRETS = {
    "user": "canary-Passw0rd-7d41e9",
    "suite": "c0ffee01-7d41-4e9a-8a11-0000canary01",
    "capmox": "c0ffee02-7d41-4e9a-8a11-0000canary02",
    "csi": "c0ffee03-7d41-4e9a-8a11-0000canary03",
    "ccm": "c0ffee04-7d41-4e9a-8a11-0000canary04",
}


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    run_dir: Path       # reports/<run-id>

    @property
    def summary(self) -> dict:
        path = self.run_dir / "summary.json"
        assert path.exists(), f"no summary.json; pytest said:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
        return json.loads(path.read_text())

    def verdicts(self) -> dict[str, str]:
        """Check ID -> outcome."""
        return {check["id"]: check["outcome"] for check in self.summary["checks"]}


def run_stages(reports: Path, *args: str, env: dict[str, str], run_id: str = "safety",
               timeout: float = 600) -> SuiteRun:
    """`pytest stages/ ARGS` with only `env` pointing it at a target (nothing of this process's target settings)."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(TARGET_PREFIXES)}
    done = subprocess.run([sys.executable, "-m", "pytest", "stages/", "-p", "no:cacheprovider", "--run-id", run_id,
                           "--reports-dir", str(reports), *args], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=timeout)
    return SuiteRun(done.returncode, done.stdout, done.stderr, reports / run_id)


@pytest.fixture(scope="session")
def canary_lab(tmp_path_factory):
    """A healthy lab whose Proxmox password and token secrets are CANARY_SECRETS."""
    handle = start_lab(tmp_path_factory.mktemp("canary-lab"), watch_pid=os.getpid(), secrets=CANARY_SECRETS)
    yield handle
    stop_lab(handle.state_dir)
