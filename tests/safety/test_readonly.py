"""A read-only run of all eight stages changes nothing: the lab's request logs show no write from the suite to the
Proxmox twin (logging in excepted) nor to the Kubernetes API servers, and every check that would change something is
skipped saying what it would change."""
from __future__ import annotations

from pathlib import Path

from proxqa.labctl import LabControl, kube_requests_seen
from proxqa.safety import READ_ONLY
from tests.safety.conftest import run_stages

WRITES = ("POST", "PUT", "PATCH", "DELETE")
LOGIN = "/api2/json/access/ticket"
CLUSTERS = {"management": "KUBECONFIG", "tenant": "LAB_TENANT_KUBECONFIG"}
# Checks a lab run skips for reasons of its own settings, read-only or not.
SKIPPED_ANYWAY = {"S5.6": "snapshots not configured"}
# Checks that only read, so a read-only run still runs them (stage 4 has none: its checks need the worker VM).
READERS = ("S1.1", "S1.4", "S1.9", "S2.4", "S2.6", "S3.1", "S3.4", "S5.1", "S6.1", "S7.2", "S8.8", "S8.9")


def writes(requests: list[dict], *, except_path: str | None = None) -> list[str]:
    return [f"{r['method']} {r['path']} -> {r['status']}" for r in requests
            if r["method"] in WRITES and r["path"] != except_path]


def test_read_only_run_sends_no_write_and_skips_what_would_write(canary_lab, tmp_path):
    settings = canary_lab.settings
    twin = LabControl(canary_lab.control_url)
    twin_start = max((r["index"] + 1 for r in twin.requests_seen()), default=0)
    kube_start = {name: kube_requests_seen(Path(settings[env]))[1] for name, env in CLUSTERS.items()}

    run = run_stages(tmp_path, "--read-only", "--destructive", "--set", "test.allow_destructive=true", env=settings)

    twin_requests = twin.requests_seen(twin_start)
    assert writes(twin_requests, except_path=None), "the twin's log shows no login: is it logging this run?"
    assert writes(twin_requests, except_path=LOGIN) == []
    kube_requests = {name: kube_requests_seen(Path(settings[env]), kube_start[name])[0]
                     for name, env in CLUSTERS.items()}
    assert kube_requests["management"], "the management cluster's log shows none of this run's reads"
    assert {name: writes(requests) for name, requests in kube_requests.items()} == {name: [] for name in CLUSTERS}

    checks = {check["id"]: check for check in run.summary["checks"]}
    assert {cid: checks[cid]["outcome"] for cid in READERS} == {cid: "passed" for cid in READERS}
    not_run = {cid: check["message"] for cid, check in checks.items() if check["outcome"] != "passed"}
    wrong = {cid: message for cid, message in not_run.items()
             if checks[cid]["outcome"] != "skipped"
             or not message.startswith((READ_ONLY, SKIPPED_ANYWAY.get(cid, READ_ONLY)))}
    assert not wrong, f"not read-only skips: {wrong}"
    skipped_read_only = {cid for cid, message in not_run.items() if message.startswith(READ_ONLY)}
    assert {"S3.6", "S4.1", "S5.3", "S6.3", "S7.7", "S8.1", "S8.5", "S8.6"} <= skipped_read_only
    assert run.returncode == 0, run.stdout[-3000:]
