"""No secret reaches anything a run writes: the lab's canary password and token secrets, and the kubeconfigs'
credentials, appear in no report, attachment, log or captured output, even of a run with failures whose diagnostics
attach and with debug logging on."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.faults.conftest import REPO, RoutedFaults
from tests.safety.conftest import CANARY_SECRETS, run_stages

# S4.4 fails with diagnostics of its probe namespace in the workload cluster, whose kubeconfig stage 4 reads from the
# Secret Cluster API keeps it in; stage 1 logs in with the password and the token, and tries wrong ones.
FAULT = "worker-image-pull-backoff"
STAGES = "1,4"


def kubeconfig_credentials(path: Path) -> list[str]:
    """The bearer tokens and client keys of a kubeconfig."""
    users = (yaml.safe_load(path.read_text()) or {}).get("users") or []
    return [value for user in users for key, value in (user.get("user") or {}).items()
            if key in ("token", "client-key-data") and value]


def encodings(secret: str) -> list[str]:
    """The secret as text and as it shows inside any base64 text (a Secret's data): for each of the three offsets it
    can start at, the base64 characters that depend on the secret alone."""
    found = [secret]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode().rstrip("=")
        start = -(-offset * 4 // 3)      # characters that also carry the padding bytes
        end = len(encoded) - (1 if (offset + len(secret)) % 3 else 0)
        found.append(encoded[start:end])
    return found


def occurrences(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if any(form in text for form in encodings(secret))]


def test_encodings_find_a_secret_inside_base64():
    for prefix in ("", "a", "ab"):
        blob = base64.b64encode(f"{prefix}token: sekret-123\n".encode()).decode()
        assert occurrences(blob, {"token": "sekret-123"}) == ["token"]
    assert occurrences(base64.b64encode(b"nothing here").decode(), {"token": "sekret-123"}) == []


@pytest.fixture
def failing_lab(canary_lab):
    faults = RoutedFaults(canary_lab)
    faults.set_fault(FAULT)
    yield canary_lab
    faults.clear_faults()


def test_no_secret_in_anything_a_failing_run_wrote(failing_lab, tmp_path):
    settings = failing_lab.settings
    secrets = {f"Proxmox {role} secret": value for role, value in CANARY_SECRETS.items()}
    for setting in ("KUBECONFIG", "LAB_TENANT_KUBECONFIG"):
        for number, credential in enumerate(kubeconfig_credentials(Path(settings[setting]))):
            secrets[f"{setting} credential {number}"] = credential
    assert len(secrets) > len(CANARY_SECRETS), "the lab's kubeconfigs hold no credential to look for"
    assert CANARY_SECRETS["suite"] == settings["PROXMOX_TOKEN_SECRET"]

    run = run_stages(tmp_path / "reports", "--stage", STAGES, "--log-level=DEBUG", "-rA", env=settings)

    checks = {check["id"]: check for check in run.summary["checks"]}
    assert checks["S4.4"]["outcome"] == "failed", checks["S4.4"]
    assert "proxqa diagnostics" in (run.run_dir / "report.html").read_text(), "no diagnostics attached to S4.4"
    written = [path for path in (tmp_path / "reports").rglob("*") if path.is_file()]
    assert any(path.parent.name == "allure-results" for path in written)
    texts = {str(path.relative_to(tmp_path)): path.read_text(errors="replace") for path in written}
    texts.update({"pytest's stdout": run.stdout, "pytest's stderr": run.stderr})
    leaks = [f"{where}: {name}" for where, text in texts.items() for name in occurrences(text, secrets)]
    assert not leaks, f"{len(texts)} files and streams searched; secrets found in: {leaks}"
    # The search sees what the run wrote: the token's ID, which is no secret, is in the reports.
    assert any(occurrences(text, {"id": settings["PROXMOX_TOKEN_ID"]}) for text in texts.values())


def test_the_lab_refuses_secrets_for_an_unknown_role(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lab", "up", "--secrets-stdin", "--state-dir", str(tmp_path)],
                          cwd=REPO, input='{"root": "x"}', capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "unknown roles root; the roles are user, suite, capmox, csi, ccm" in done.stderr
    assert not (tmp_path / "lab.json").exists()
