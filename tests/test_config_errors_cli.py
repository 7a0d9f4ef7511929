"""A bad setting stops `pytest stages/` before any test: one line naming the problem, exit code 4, no traceback."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIVE = {"PROXMOX_HOST": "pve.example.com", "PROXMOX_TOKEN_ID": "qa@pve!suite", "PROXMOX_TOKEN_SECRET": "s3cr3t-x"}


def run_stages(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "TEST_", "PROXQA_", "LAB_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "stages/", "--reports-dir", str(tmp_path), *args],
                          cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CASES = {
    "host-is-url": ({**LIVE, "PROXMOX_HOST": "https://pve1:8006/api2/json"}, (),
                    r"proxmox.host \(environment PROXMOX_HOST\): .*give the host only"),
    "port-not-number": ({**LIVE, "PROXMOX_PORT": "eighty"}, (), r"'eighty' is not a whole number"),
    "token-id-form": ({**LIVE, "PROXMOX_TOKEN_ID": "capmox-token"}, (), r"not of the form user@realm!name"),
    "token-without-secret": ({"PROXMOX_HOST": "pve1", "PROXMOX_TOKEN_ID": "qa@pve!suite"}, (),
                             r"PROXMOX_TOKEN_SECRET is required"),
    "ca-bundle-unreadable": ({**LIVE, "PROXMOX_CA_BUNDLE": "/nonexistent/ca.pem"}, (),
                             r"cannot read '/nonexistent/ca.pem'"),
    "profile-unreadable": ({}, ("--profile", "/nonexistent/site.yaml"), r"profile /nonexistent/site.yaml: cannot read"),
    "bad-boolean": ({**LIVE, "PROXMOX_VERIFY_SSL": "maybe"}, (), r"'maybe' is not a boolean"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_setting_gives_one_line_and_exit_4(case, tmp_path):
    env, args, expected = CASES[case]
    done = run_stages(tmp_path, *args, **env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    problems = [line for line in done.stderr.splitlines() if line and not line.startswith("ERROR: configuration")]
    assert len(problems) == 1, done.stderr
    assert re.search(expected, problems[0]), problems[0]
    assert "s3cr3t-x" not in done.stderr + done.stdout


def test_unknown_profile_key_suggests_the_closest(tmp_path):
    profile = write(tmp_path, "site.yaml", "proxmox:\n  hots: pve1\n  token_id: qa@pve!suite\n")
    done = run_stages(tmp_path, "--profile", profile)
    assert done.returncode == 4
    assert "unknown key 'proxmox.hots'; did you mean 'proxmox.host'?" in done.stderr
