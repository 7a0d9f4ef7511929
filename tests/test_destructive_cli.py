"""S8.6 destroys a worker VM: on the lab it is skipped, before the stage makes anything, unless the run opted in
with --destructive and test.allow_destructive, and always when the target is marked production."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxqa.safety import NOT_OPTED_IN, PRODUCTION

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "setting-without-flag": (("--set", "test.allow_destructive=true"), NOT_OPTED_IN),
    "production": (("--destructive", "--set", "test.allow_destructive=true", "--set", "test.production=true"),
                   PRODUCTION),
}


@pytest.mark.parametrize("case", CASES)
def test_s8_6_is_skipped_with_the_reason(case, tmp_path):
    args, reason = CASES[case]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "TEST_", "PROXQA_", "LAB_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "stages/", "--stage", "8", "-k", "s8_6", "--run-id", "d",
                           "--reports-dir", str(tmp_path), "-q", "--no-allure-html", *args], cwd=REPO, env=clean,
                          capture_output=True, text=True, timeout=120)
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    check = next(c for c in summary["checks"] if c["id"] == "S8.6")
    assert (check["outcome"], check["message"]) == ("skipped", reason), done.stdout[-2000:]
