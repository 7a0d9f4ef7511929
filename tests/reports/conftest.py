"""Fixtures of the report tests: the headless browser, the Allure generator, and two real runs of stages 1-2 into
one reports folder (a healthy one, then one whose lab refuses nothing it should: S1.7 fails)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxqa.reporting.allure_html import find_generator
from tests.faults.conftest import REPO, TARGET_PREFIXES
from tests.reports.browser import Browser

FAULT = "auth-accepts-forged-ticket"        # fails S1.7 only: stage 1 drops to 8 of 9, the run to 16 of 17


@pytest.fixture(scope="session")
def allure_generator() -> Path:
    generator = find_generator(REPO)
    if generator is None:
        pytest.skip("the Allure 3 generator is not installed in .node/: run ./scripts/setup (needs Node.js and npm)")
    return generator


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed: run ./scripts/setup as root (Debian package chromium)")
    return Browser(binary, tmp_path_factory.mktemp("chromium"))


@dataclass(frozen=True)
class Run:
    run_id: str
    folder: Path
    exit_code: int
    output: str


@dataclass(frozen=True)
class TwoRuns:
    reports: Path
    healthy: Run
    faulty: Run


def run_stages(reports: Path, run_id: str, *args: str) -> Run:
    """`pytest stages/ --stage 1,2` as QA runs it, with its own lab (no live target in the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(TARGET_PREFIXES)}
    done = subprocess.run([sys.executable, "-m", "pytest", "stages/", "--stage", "1,2", "--run-id", run_id,
                           "--reports-dir", str(reports), "-q", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    return Run(run_id, reports / run_id, done.returncode, done.stdout[-3000:] + done.stderr[-3000:])


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory, allure_generator) -> TwoRuns:
    reports = tmp_path_factory.mktemp("reports")
    healthy = run_stages(reports, "healthy")
    faulty = run_stages(reports, "faulty", "--lab-fault", FAULT)
    return TwoRuns(reports, healthy, faulty)
