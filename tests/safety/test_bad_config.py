"""The catalogue of bad configurations: each stops `pytest stages/` before any test with one line naming the key, where
the value came from, what is wrong and (for a wrong value) an example of a right one; exit code 4; never a traceback;
never a secret. The runs are subprocesses, as a user starts them, a few at a time."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.safety.conftest import SuiteRun, run_stages

SECRET = "s3cr3t-x"
LIVE = {"PROXMOX_HOST": "pve.example.com", "PROXMOX_TOKEN_ID": "qa@pve!suite", "PROXMOX_TOKEN_SECRET": SECRET}
CONFIG_ERROR = 4


@dataclass(frozen=True)
class Case:
    expect: str                             # a regex the one problem line must match
    env: dict[str, str]
    args: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()     # (name, text) written into the case's folder; {dir} in args names it


def profile_case(expect: str, text: str) -> Case:
    """A case whose profile file site.yaml holds `text`."""
    return Case(expect, {}, ("--profile", "{dir}/site.yaml"), (("site.yaml", text),))


KUBECONFIG_WITHOUT_CLUSTERS = "apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {token: " + SECRET + "}}]\n"
LIVE_PROFILE = f"  host: pve1\n  token_id: qa@pve!suite\n  token_secret: {SECRET}\n"

CASES = {
    # Proxmox endpoint
    "host-is-url": Case(r"^proxmox\.host \(environment PROXMOX_HOST\): 'https://pve1:8006/api2/json' is a URL, give "
                        r"the host only; e\.g\. PROXMOX_HOST=pve1$",
                        {**LIVE, "PROXMOX_HOST": "https://pve1:8006/api2/json"}),
    "port-not-number": Case(r"^proxmox\.port \(environment PROXMOX_PORT\): 'eighty' is not a whole number; "
                            r"e\.g\. PROXMOX_PORT=8006$", {**LIVE, "PROXMOX_PORT": "eighty"}),
    "port-wrong-type": profile_case(r"^proxmox\.port \(profile \S+site\.yaml\): \[1, 2\] is not a whole number; "
                                    r"e\.g\. port: 8006$", f"proxmox:\n  port: [1, 2]\n{LIVE_PROFILE}"),
    "bad-boolean": Case(r"^proxmox\.verify_ssl \(environment PROXMOX_VERIFY_SSL\): 'maybe' is not a boolean; use true "
                        r"or false$", {**LIVE, "PROXMOX_VERIFY_SSL": "maybe"}),
    "ca-bundle-unreadable": Case(r"^proxmox\.ca_bundle \(environment PROXMOX_CA_BUNDLE\): cannot read "
                                 r"'/nonexistent/ca\.pem' \(No such file or directory\)$",
                                 {**LIVE, "PROXMOX_CA_BUNDLE": "/nonexistent/ca.pem"}),
    # credentials
    "token-id-form": Case(r"^proxmox\.token_id \(environment PROXMOX_TOKEN_ID\): 'capmox-token' is not of the form "
                          r"user@realm!name; e\.g\. PROXMOX_TOKEN_ID=", {**LIVE, "PROXMOX_TOKEN_ID": "capmox-token"}),
    "token-without-secret": Case(r"^proxmox\.token_secret: missing; PROXMOX_TOKEN_ID is set, so PROXMOX_TOKEN_SECRET "
                                 r"is required$", {"PROXMOX_HOST": "pve1", "PROXMOX_TOKEN_ID": "qa@pve!suite"}),
    # A password beside the token is fine (stage 1 checks both logins), but only with the user it belongs to.
    "password-and-token-without-user": Case(r"^proxmox\.username: missing; PROXMOX_PASSWORD is set, so "
                                            r"PROXMOX_USERNAME is required$", {**LIVE, "PROXMOX_PASSWORD": SECRET}),
    "live-without-credentials": Case(r"^proxmox\.token_id: missing; the target is live, so PROXMOX_TOKEN_ID and "
                                     r"PROXMOX_TOKEN_SECRET \(or PROXMOX_USERNAME and PROXMOX_PASSWORD\) are required$",
                                     {"PROXMOX_HOST": "pve1"}),
    "secret-not-text": profile_case(r"^proxmox\.token_secret \(profile \S+\): the value given is not text \(quote it "
                                    r"in YAML\); e\.g\. token_secret: ",
                                    "proxmox:\n  host: pve1\n  token_id: qa@pve!suite\n  token_secret: 12345\n"),
    "url-with-credentials": Case(r"^monitoring\.metrics_url \(environment MONITORING_METRICS_URL\): the URL given "
                                 r"carries credentials \(user:password@\); give it without them; e\.g\. ",
                                 {**LIVE, "MONITORING_METRICS_URL": f"http://admin:{SECRET}@vm:8481"}),
    # thresholds and sizes
    "negative-threshold": Case(r"^sla\.api_latency \(environment SLA_API_LATENCY_SECONDS\): '-1' is out of range, "
                               r"must be above 0; e\.g\. SLA_API_LATENCY_SECONDS=2\.0$",
                               {**LIVE, "SLA_API_LATENCY_SECONDS": "-1"}),
    "percent-over-100": Case(r"^sla\.availability \(environment SLA_AVAILABILITY_PERCENT\): '101' is out of range, "
                             r"must be 0\.\.100; e\.g\. SLA_AVAILABILITY_PERCENT=99\.0$",
                             {**LIVE, "SLA_AVAILABILITY_PERCENT": "101"}),
    "perf-vm-count-zero": Case(r"^perf\.vm_count \(environment PERF_VM_COUNT\): '0' is out of range, must be at "
                               r"least 1; e\.g\. PERF_VM_COUNT=10$", {**LIVE, "PERF_VM_COUNT": "0"}),
    "wait-not-above-sla": Case(r"^waits\.stage5/pvc-bound \(--set\): 10 s is not above sla\.volume_provision \(30 s, "
                               r"default\).*; e\.g\. waits\.stage5/pvc-bound=60$",
                               LIVE, ("--set", "waits.stage5/pvc-bound=10")),
    "ip-range-octet": Case(r"^capi\.ip_range \(environment TEST_CAPI_IP_RANGE\): '10\.0\.0\.300' is not an IPv4 range",
                           {**LIVE, "TEST_CAPI_IP_RANGE": "10.0.0.300"}),
    # Kubernetes
    "kubeconfig-missing": Case(r"^kubernetes\.kubeconfig \(environment KUBECONFIG\): cannot read "
                               r"'/nonexistent/kubeconfig' \(No such file or directory\)$",
                               {**LIVE, "KUBECONFIG": "/nonexistent/kubeconfig"}),
    "kubeconfig-directory": Case(r"^kubernetes\.kubeconfig \(environment KUBECONFIG\): cannot read '\S+' \(Is a "
                                 r"directory\)$", {**LIVE, "KUBECONFIG": "{dir}"}),
    "kubeconfig-no-clusters": Case(r"^kubernetes\.kubeconfig \(environment KUBECONFIG\): '\S+/admin\.yaml' is not a "
                                   r"kubeconfig \(it lists no clusters\)", {**LIVE, "KUBECONFIG": "{dir}/admin.yaml"},
                                   files=(("admin.yaml", KUBECONFIG_WITHOUT_CLUSTERS),)),
    # profile files
    "profile-missing": Case(r"^profile /nonexistent/site\.yaml: cannot read it \(No such file or directory\)$", {},
                            ("--profile", "/nonexistent/site.yaml")),
    "profile-directory": Case(r"^profile \S+: cannot read it \(Is a directory\)$", {}, ("--profile", "{dir}")),
    "profile-bad-yaml": profile_case(r"^profile \S+site\.yaml: not valid YAML at line 3, column 2: ",
                                     f'proxmox:\n  host: pve1\n token_secret: "{SECRET}\n'),
    "profile-top-level-list": profile_case(r"^profile \S+: the top level is a list, not a mapping of sections; "
                                           r"e\.g\. proxmox: \{host: pve1\.example\.com\}$", "- proxmox\n- test\n"),
    "profile-unknown-key": profile_case(r"^profile \S+: unknown key 'proxmox\.hots'; did you mean 'proxmox\.host'\?$",
                                        f"proxmox:\n  hots: pve1\n{LIVE_PROFILE}"),
    "profile-section-is-value": profile_case(r"^proxmox \(profile \S+\): is a section, so it needs a mapping of keys, "
                                             r"not a single value; e\.g\. proxmox: \{host: pve1\.example\.com\}$",
                                             "proxmox: pve1\n"),
    # command line
    "set-unknown-key": Case(r"^--set: unknown key 'proxmox\.prot'; did you mean 'proxmox\.port'\?$", LIVE,
                            ("--set", "proxmox.prot=8006")),
    "stage-out-of-range": Case(r"^ERROR: --stage '9': give stage numbers 1 to 8 separated by commas, "
                               r"e\.g\. --stage 1,2$", LIVE, ("--stage", "9")),
    "reports-dir-is-a-file": Case(r"^reports folder: cannot create \S+/afile/safety \(Not a directory\); e\.g\. "
                                  r"--reports-dir reports$", LIVE, ("--reports-dir", "{dir}/afile"),
                                  files=(("afile", "x"),)),
}


def run_case(case: Case, folder: Path) -> SuiteRun:
    folder.mkdir()
    for name, text in case.files:
        (folder / name).write_text(text)
    env = {name: value.replace("{dir}", str(folder)) for name, value in case.env.items()}
    args = (arg.replace("{dir}", str(folder)) for arg in case.args)
    return run_stages(folder / "reports", *args, env=env, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, SuiteRun]:
    """Every case run once, four at a time (each is a pytest start-up and nothing more)."""
    root = tmp_path_factory.mktemp("bad-config")
    with ThreadPoolExecutor(4) as pool:
        done = {name: pool.submit(run_case, case, root / name) for name, case in CASES.items()}
    return {name: future.result() for name, future in done.items()}


def test_the_catalogue_is_big_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", CASES)
def test_bad_configuration_gives_one_line_and_exit_4(name, runs):
    run, expect = runs[name], CASES[name].expect
    output = run.stdout + run.stderr
    assert run.returncode == CONFIG_ERROR, output[-3000:]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    assert SECRET not in output
    problems = [line for line in run.stderr.splitlines() if line and line != "ERROR: configuration error"]
    assert len(problems) == 1, run.stderr
    assert re.search(expect, problems[0]), problems[0]
    assert not (run.run_dir / "summary.json").exists(), "a test ran"
