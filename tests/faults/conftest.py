"""One embedded lab for the fault matrix; the suite is run against it in subprocesses, as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxqa.labctl import start_lab, stop_lab

REPO = Path(__file__).resolve().parents[2]
TARGET_PREFIXES = ("PROXMOX_", "TEST_", "LAB_", "PROXQA_", "KUBECONFIG", "SLA_", "LIMIT_", "GATE_", "PERF_",
                   "MONITORING_")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    handle = start_lab(tmp_path_factory.mktemp("lab"), watch_pid=os.getpid())
    yield handle
    stop_lab(handle.state_dir)


class RoutedFaults:
    """Faults set as a user does, with `python -m lab fault`: it sends each to the part of the lab that owns it."""

    def __init__(self, lab):
        self._lab = lab

    def _cli(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "lab", "fault", *args, "--state-dir", str(self._lab.state_dir)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"python -m lab fault {' '.join(args)}: {done.stderr}"

    def set_fault(self, spec: str) -> None:
        self._cli(spec)

    def clear_faults(self) -> None:
        self._cli("--clear")


@pytest.fixture
def lab_control(lab):
    control = RoutedFaults(lab)
    control.clear_faults()
    yield control
    control.clear_faults()


@pytest.fixture
def run_suite(lab, tmp_path):
    """Run `pytest stages/` against the lab (or another twin) as a live target; returns (exit code, summary.json).
    `--destructive` is always given: S8.6 still runs only where a row's settings also allow it. The Allure HTML
    report is not generated: the rows read summary.json, and generating takes seconds per run."""
    def run(*args: str, settings: dict[str, str] | None = None,
            lab_settings: dict[str, str] | None = None) -> tuple[int, dict]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(TARGET_PREFIXES)}
        env.update(lab_settings or lab.settings, **(settings or {}))
        done = subprocess.run([sys.executable, "-m", "pytest", "stages/", "--run-id", "fm", "--reports-dir",
                               str(tmp_path), "-q", "--destructive", "--no-allure-html", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        summary_file = tmp_path / "fm" / "summary.json"
        assert summary_file.exists(), f"no summary.json; pytest said:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.returncode, json.loads(summary_file.read_text())
    return run
