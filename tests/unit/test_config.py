"""The settings model: layering, validation messages, cross-field rules, waits, secrets, docs and example profile."""
from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from proxqa.config import SETTING_KEYS, ConfigError, Settings, load_settings, resolve_target

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cret-Value-9f2"
UUID_SECRET = "0c8b4b6e-52d6-4c1e-9d55-2a4f5f0e7a11"
# Complete credentials, so a test about one key sees only that key's problem.
CREDENTIALS = {
    "PROXMOX_USERNAME": "qa@pve", "PROXMOX_PASSWORD": SECRET,
    "PROXMOX_TOKEN_ID": "qa@pve!suite", "PROXMOX_TOKEN_SECRET": SECRET,
    "PROXMOX_CAPMOX_TOKEN_ID": "capmox@pve!capi", "PROXMOX_CAPMOX_TOKEN_SECRET": SECRET,
}
LIVE = {"PROXMOX_HOST": "pve1.example.com", **CREDENTIALS}
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def load(*, cli=None, environ=None, profile=None, lab=None) -> Settings:
    return load_settings(cli=cli or {}, environ=environ or {}, profile=profile, lab=lab)


def problems(**layers) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(**layers)
    return caught.value.problems


def write_profile(directory: Path, text: str, name: str = "site.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def flat_keys(mapping: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in mapping.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and dotted != "waits":
            keys |= flat_keys(value, f"{dotted}.")
        else:
            keys.add(dotted)
    return keys


# --- defaults and precedence ---------------------------------------------------------------------

def test_defaults_without_any_source():
    settings = load()
    assert (settings.target, settings.proxmox.port, settings.proxmox.host) == ("lab", 8006, None)
    assert (settings.test.network_bridge, settings.test.namespace) == ("vmbr0", "proxqa")
    assert settings.perf.volume_size == "10Gi"
    assert (settings.perf.test_duration, settings.sla.vm_create, settings.gate.pass_rate) == (300.0, 300.0, 95.0)
    assert settings.proxmox.nodes == [] and settings.lab.faults == []
    assert settings.proxmox.identities.capmox is None
    assert settings.waits["default/vm-ready"] == 420


@pytest.mark.parametrize("layers, expected", [
    ({"profile": True}, 8001),
    ({"profile": True, "environ": {"PROXMOX_PORT": "8002"}}, 8002),
    ({"profile": True, "environ": {"PROXMOX_PORT": "8002"}, "lab": {"PROXMOX_PORT": "8003"}}, 8003),
    ({"profile": True, "environ": {"PROXMOX_PORT": "8002"}, "lab": {"PROXMOX_PORT": "8003"},
      "cli": {"proxmox.port": "8004"}}, 8004),
    ({"environ": {"PROXMOX_PORT": "8002"}, "cli": {"PROXMOX_PORT": "8004"}}, 8004),
], ids=["profile-over-default", "environment-over-profile", "lab-over-environment", "cli-over-lab",
        "cli-by-environment-name"])
def test_each_layer_beats_the_one_below(tmp_path, layers, expected):
    if layers.pop("profile", False):
        layers["profile"] = write_profile(tmp_path, "proxmox:\n  port: 8001\n")
    assert load(**layers).proxmox.port == expected


def test_layers_merge_key_by_key(tmp_path):
    profile = write_profile(tmp_path, "proxmox: {port: 8001}\ntest: {storage_pool: ceph-vm}\n")
    settings = load(profile=profile, environ={"PROXMOX_PORT": "8002"}, cli={"test.vlan_tag": "7"})
    assert (settings.proxmox.port, settings.test.storage_pool, settings.test.vlan_tag) == (8002, "ceph-vm", 7)


def test_empty_value_counts_as_not_given(tmp_path):
    profile = write_profile(tmp_path, "proxmox: {port: 8001}\n")
    settings = load(profile=profile, environ={"PROXMOX_PORT": "", "PROXMOX_HOST": ""})
    assert (settings.proxmox.port, settings.target) == (8001, "lab")


def test_environment_names_outside_the_table_are_ignored():
    assert load(environ={"PROXMOX_HOSTNAME": "x", "PATH": "/bin", "HOME": "/root"}).proxmox.host is None


def test_lab_layer_points_the_run_at_the_lab_and_forces_target_lab():
    lab = {"PROXMOX_HOST": "127.0.0.5", "PROXMOX_PORT": "18006", "PROXMOX_TOKEN_ID": "root@pam!lab",
           "PROXMOX_TOKEN_SECRET": "lab-secret", "LAB_CONTROL_URL": "http://127.0.0.5:9000"}
    settings = load(environ={**LIVE, "PROXMOX_PORT": "8006"}, lab=lab)
    assert (settings.target, settings.proxmox.host, settings.proxmox.port) == ("lab", "127.0.0.5", 18006)
    assert settings.proxmox.token_id == "root@pam!lab"


def test_cli_beats_the_lab_layer():
    assert load(lab={"PROXMOX_PORT": "18006"}, cli={"proxmox.port": "18007"}).proxmox.port == 18007


def test_lab_values_are_checked_and_named_as_lab():
    assert problems(lab={"PROXMOX_PORT": "high"}) == [
        "proxmox.port (lab PROXMOX_PORT): 'high' is not a whole number; e.g. PROXMOX_PORT=8006"]


# --- the target ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cli, environ, profile_text, expected", [
    ({}, {}, None, "lab"),
    ({}, {"PROXMOX_HOST": "pve1"}, None, "live"),
    ({}, {}, "proxmox: {host: pve1}\n", "live"),
    ({"proxmox.host": "pve1"}, {}, None, "live"),
    ({}, {"PROXMOX_HOST": "pve1", "PROXQA_TARGET": "lab"}, None, "lab"),
    ({}, {"PROXQA_TARGET": "LIVE"}, None, "live"),
    ({}, {"PROXQA_TARGET": "lab"}, "target: live\n", "lab"),
    ({"target": "live"}, {"PROXQA_TARGET": "lab"}, None, "live"),
    ({}, {"PROXMOX_HOST": ""}, None, "lab"),
    ({}, {"PROXMOX_PORT": "eighty"}, None, "lab"),    # not the target's business; load_settings reports it
], ids=["nothing", "env-host", "profile-host", "cli-host", "explicit-beats-host", "case-insensitive",
        "env-beats-profile", "cli-beats-env", "empty-host", "other-problems-ignored"])
def test_resolve_target(tmp_path, cli, environ, profile_text, expected):
    profile = write_profile(tmp_path, profile_text) if profile_text else None
    assert resolve_target(cli=cli, environ=environ, profile=profile) == expected


@pytest.mark.parametrize("environ, profile_text, expected", [
    ({"PROXQA_TARGET": "prod"}, None, "target (environment PROXQA_TARGET): 'prod' is not a target; use lab or live"),
    ({}, "proxmox: [\n", "not valid YAML at line 2, column 1"),
    ({}, "proxmox: {hots: pve1}\n", "unknown key 'proxmox.hots'; did you mean 'proxmox.host'?"),
])
def test_resolve_target_rejects_a_bad_target_or_profile(tmp_path, environ, profile_text, expected):
    profile = write_profile(tmp_path, profile_text) if profile_text else None
    with pytest.raises(ConfigError) as caught:
        resolve_target(cli={}, environ=environ, profile=profile)
    assert expected in "\n".join(caught.value.problems)


def test_resolve_target_rejects_a_missing_profile(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        resolve_target(cli={}, environ={}, profile=missing)
    assert caught.value.problems == [f"profile {missing}: cannot read it (No such file or directory)"]


# --- the documented error lines ------------------------------------------------------------------

def test_exit_code_is_the_configuration_error_code():
    assert ConfigError(["x"]).exit_code == 4


def test_line_for_a_bad_port():
    assert problems(environ={"PROXMOX_PORT": "eighty"}) == [
        "proxmox.port (environment PROXMOX_PORT): 'eighty' is not a whole number; e.g. PROXMOX_PORT=8006"]


def test_line_for_a_url_given_as_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, "proxmox:\n  host: https://pve1:8006/api2/json\n")
    assert problems(profile=Path("site.yaml"), environ=CREDENTIALS) == [
        "proxmox.host (profile site.yaml): 'https://pve1:8006/api2/json' is a URL, give the host only; e.g. host: pve1"]


def test_line_for_a_malformed_token_id():
    assert problems(environ={**CREDENTIALS, "PROXMOX_TOKEN_ID": "capmox-token"}) == [
        "proxmox.token_id (environment PROXMOX_TOKEN_ID): 'capmox-token' is not of the form user@realm!name; "
        "e.g. PROXMOX_TOKEN_ID=proxqa@pve!qa"]


def test_line_for_a_token_id_without_secret():
    assert problems(environ={"PROXMOX_TOKEN_ID": "qa@pve!suite"}) == [
        "proxmox.token_secret: missing; PROXMOX_TOKEN_ID is set, so PROXMOX_TOKEN_SECRET is required"]


def test_line_for_an_unknown_profile_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, "proxmox:\n  hots: pve1\n", name="prof.yaml")
    assert problems(profile=Path("prof.yaml")) == [
        "profile prof.yaml: unknown key 'proxmox.hots'; did you mean 'proxmox.host'?"]


def test_line_for_a_bad_boolean():
    assert problems(environ={"PROXMOX_VERIFY_SSL": "maybe"}) == [
        "proxmox.verify_ssl (environment PROXMOX_VERIFY_SSL): 'maybe' is not a boolean; use true or false"]


def test_line_for_a_missing_profile():
    assert problems(profile=Path("/x/missing.yaml")) == [
        "profile /x/missing.yaml: cannot read it (No such file or directory)"]


def test_line_for_an_unreadable_ca_bundle():
    assert problems(environ={"PROXMOX_CA_BUNDLE": "/nope/ca.pem"}) == [
        "proxmox.ca_bundle (environment PROXMOX_CA_BUNDLE): cannot read '/nope/ca.pem' (No such file or directory)"]


# --- every validation rule -----------------------------------------------------------------------

@pytest.mark.parametrize("name, value, fault", [
    ("PROXQA_TARGET", "prod", "is not a target; use lab or live"),
    ("PROXQA_RUN_ID", "run 1!", "is not a run ID"),
    ("PROXQA_RUN_ID", "r" * 41, "is not a run ID"),
    ("PROXQA_READ_ONLY", "maybe", "is not a boolean"),
    ("KEEP_TEST_RESOURCES", "2", "is not a boolean"),
    ("PROXMOX_HOST", "pve1:8006", "has a port, give the host only"),
    ("PROXMOX_HOST", "pve1/api2/json", "has a path, give the host only"),
    ("PROXMOX_HOST", "pve 1", "is not a host name or IP address"),
    ("PROXMOX_PORT", "0", "is out of range, must be 1..65535"),
    ("PROXMOX_PORT", "65536", "is out of range, must be 1..65535"),
    ("PROXMOX_PORT", "80.5", "is not a whole number"),
    ("PROXMOX_USERNAME", "root", "is not of the form user@realm"),
    ("PROXMOX_TOKEN_ID", "root@pam", "is not of the form user@realm!name"),
    ("PROXMOX_VERIFY_SSL", "maybe", "is not a boolean"),
    ("PROXMOX_CONNECT_TIMEOUT", "0", "is out of range, must be above 0"),
    ("PROXMOX_CONNECT_TIMEOUT", "soon", "is not a number"),
    ("PROXMOX_REQUEST_TIMEOUT", "-1", "is out of range, must be above 0"),
    ("PROXMOX_REQUEST_TIMEOUT", "nan", "is not a number"),
    ("PROXMOX_CAPMOX_TOKEN_ID", "capmox", "is not of the form user@realm!name"),
    ("TEST_TEMPLATE_HAS_AGENT", "perhaps", "is not a boolean"),
    ("TEST_VLAN_TAG", "0", "is out of range, must be 1..4094"),
    ("TEST_VLAN_TAG", "4095", "is out of range, must be 1..4094"),
    ("TEST_VLAN_TAG", "ten", "is not a whole number"),
    ("TEST_SDN_REQUIRED", "yep", "is not a boolean"),
    ("TEST_NAMESPACE", "Proxqa_NS", "is not a DNS-1123 label"),
    ("TEST_MIN_FREE_STORAGE_GIB", "-1", "is out of range, must be at least 0"),
    ("TEST_LINK_SPEED_MBIT", "0", "is out of range, must be at least 1"),
    ("TEST_LATENCY_SAMPLES", "1001", "is out of range, must be 1..1000"),
    ("TEST_CERT_EXPIRY_WARN_DAYS", "-1", "is out of range, must be at least 0"),
    ("PERF_VM_COUNT", "0", "is out of range, must be at least 1"),
    ("PERF_VOLUME_SIZE", "10 GB", "is not a Kubernetes quantity"),
    ("PERF_TEST_DURATION", "5 minutes", "is not a duration"),
    ("PERF_TEST_DURATION", "0s", "is out of range, must be above 0"),
    ("SLA_API_LATENCY_SECONDS", "0", "is out of range, must be above 0"),
    ("SLA_VM_CREATE_SECONDS", "fast", "is not a number"),
    ("SLA_VOLUME_PROVISION_SECONDS", "-3", "is out of range, must be above 0"),
    ("SLA_POD_STARTUP_SECONDS", "0", "is out of range, must be above 0"),
    ("SLA_AVAILABILITY_PERCENT", "101", "is out of range, must be 0..100"),
    ("SLA_ERROR_RATE_PERCENT", "-1", "is out of range, must be 0..100"),
    ("LIMIT_STORAGE_USAGE_PERCENT", "150", "is out of range, must be 0..100"),
    ("LIMIT_NODE_CPU_PERCENT", "high", "is not a number"),
    ("LIMIT_NODE_MEMORY_PERCENT", "100.5", "is out of range, must be 0..100"),
    ("LIMIT_BANDWIDTH_PERCENT", "-0.1", "is out of range, must be 0..100"),
    ("MONITORING_METRICS_URL", "vmselect:8481", "is not a URL: it has no http:// or https://"),
    ("MONITORING_TARGETS_URL", "ftp://vmagent:8429", "is not an http or https URL"),
    ("MONITORING_VMALERT_URL", "http://:8080", "has no host"),
    ("MONITORING_LOGS_URL", "http://victorialogs:94280", "has an invalid port"),
    ("MONITORING_GRAFANA_URL", "https://grafana/?orgId=1", "has a query or fragment; give the base URL only"),
    ("MONITORING_WINDOW", "ten minutes", "is not a duration"),
    ("MONITORING_WINDOW", "0m", "is out of range, must be above 0"),
    ("GATE_PASS_RATE", "100.1", "is out of range, must be 0..100"),
    ("GATE_MIN_EXECUTED", "-1", "is out of range, must be at least 0"),
    ("LAB_TIME_SCALE", "-1", "is out of range, must be at least 0"),
    ("LAB_FAULTS", "pve-latency,bad fault!", "is not a fault: name or name=value"),
])
def test_a_bad_environment_value_is_one_line_naming_key_source_value_and_example(name, value, fault):
    dotted = {env: key for key, env in SETTING_KEYS.items()}[name]
    [line] = problems(environ={**CREDENTIALS, name: value})
    assert line.startswith(f"{dotted} (environment {name}): "), line
    assert fault in line, line
    assert repr(value) in line or "bad fault!" in line, line


@pytest.mark.parametrize("yaml_text, expected", [
    ("proxmox: {port: [1]}\n", "proxmox.port (profile site.yaml): [1] is not a whole number; e.g. port: 8006"),
    ("proxmox: {verify_ssl: 3}\n", "proxmox.verify_ssl (profile site.yaml): 3 is not a boolean; use true or false"),
    ("proxmox: {nodes: {pve1: 1}}\n", "proxmox.nodes (profile site.yaml): {'pve1': 1} is not a list"),
    ("test: {vm_template: [9000]}\n", "test.vm_template (profile site.yaml): [9000] is not a single text value"),
    ("proxmox: pve1\n", "proxmox (profile site.yaml): is a section, so it needs a mapping of keys, not a single "
                        "value; e.g. proxmox: {host: pve1.example.com}"),
    ("proxmox: {identities: {capmox: capmox@pve!capi}}\n",
     "proxmox.identities.capmox (profile site.yaml): is a section, so it needs a mapping of keys, not a single "
     "value; e.g. capmox: {token_id: capmox@pve!capi}"),
    ("waits: 60\n", "waits (profile site.yaml): is a section"),
    ("waits: {stage5: 90}\n", "waits.stage5 (profile site.yaml): 'stage5' is not of the form <scope>/<key>; "
                              "e.g. stage5/pvc-bound: 90"),
    ("waits: {default/delete: 0}\n", "waits.default/delete (profile site.yaml): 0 is out of range, must be above 0"),
    ("proxmx: {host: pve1}\n", "profile site.yaml: unknown key 'proxmx'; did you mean 'proxmox'?"),
    ("- proxmox\n", "profile site.yaml: the top level is a list, not a mapping of sections"),
    ("proxmox:\n  host: pve1\n   port: 1\n", "profile site.yaml: not valid YAML at line 3, column 8"),
])
def test_a_bad_profile_is_reported_with_its_location(tmp_path, monkeypatch, yaml_text, expected):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, yaml_text)
    lines = problems(profile=Path("site.yaml"))
    assert len(lines) == 1 and lines[0].startswith(expected), lines


@pytest.mark.parametrize("cli, expected", [
    ({"proxmox.hots": "pve1"}, "--set: unknown key 'proxmox.hots'; did you mean 'proxmox.host'?"),
    ({"PROXMOX_HOTS": "pve1"}, "--set: unknown key 'PROXMOX_HOTS'; did you mean 'PROXMOX_HOST'?"),
    ({"colour": "blue"}, "--set: unknown key 'colour'; docs/configuration.md lists the keys"),
    ({"proxmox.port": "x"}, "proxmox.port (--set): 'x' is not a whole number; e.g. proxmox.port=8006"),
    ({"waits.default/delete": "soon"},
     "waits.default/delete (--set): 'soon' is not a number; e.g. waits.default/delete=120"),
    ({"waits.Delete": "5"}, "waits.Delete (--set): 'Delete' is not of the form <scope>/<key>; "
                            "e.g. waits.stage5/pvc-bound=90"),
])
def test_a_bad_cli_setting(cli, expected):
    assert problems(cli=cli) == [expected]


def test_an_empty_profile_is_fine(tmp_path):
    assert load(profile=write_profile(tmp_path, "# nothing yet\n")).proxmox.port == 8006


def test_ca_bundle_must_be_a_pem_file(tmp_path):
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello\n")
    [line] = problems(environ={"PROXMOX_CA_BUNDLE": str(not_pem)})
    assert f"'{not_pem}' is not a PEM file" in line
    [line] = problems(environ={"PROXMOX_CA_BUNDLE": str(tmp_path)})
    assert line.endswith(f"cannot read '{tmp_path}' (Is a directory)")
    good = tmp_path / "ca.pem"
    good.write_text(PEM)
    assert load(environ={"PROXMOX_CA_BUNDLE": str(good)}).proxmox.ca_bundle == good


@pytest.mark.parametrize("host", ["pve1", "pve1.example.com", "10.0.0.5", "fd00::5"])
def test_host_names_and_addresses_are_accepted(host):
    assert load(environ={**CREDENTIALS, "PROXMOX_HOST": host}).proxmox.host == host


@pytest.mark.parametrize("given, expected_hint", [
    ("https://10.0.0.5:8006", "PROXMOX_HOST=10.0.0.5"),
    ("[fd00::5]:8006", "PROXMOX_HOST=fd00::5"),
    ("pve1.example.com:8006", "PROXMOX_HOST=pve1.example.com"),
])
def test_host_hint_shows_the_host_part(given, expected_hint):
    [line] = problems(environ={**CREDENTIALS, "PROXMOX_HOST": given})
    assert line.endswith(f"; e.g. {expected_hint}"), line


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("YES", True), ("On", True), ("1", True),
    ("false", False), ("No", False), ("OFF", False), ("0", False),
])
def test_booleans_from_strings(text, expected):
    assert load(environ={"PROXMOX_VERIFY_SSL": text}).proxmox.verify_ssl is expected


def test_booleans_from_yaml(tmp_path):
    profile = write_profile(tmp_path, "proxmox: {verify_ssl: no}\ntest: {sdn_required: true}\n")
    settings = load(profile=profile)
    assert (settings.proxmox.verify_ssl, settings.test.sdn_required) == (False, True)


def test_lists_from_comma_separated_strings_and_yaml_lists(tmp_path):
    profile = write_profile(tmp_path, "test: {tenant_vnets: [tenant1, tenant2]}\n")
    settings = load(profile=profile, environ={"PROXMOX_NODES": "pve1, pve2,,pve3"}, cli={"lab.faults": "a,b=2"})
    assert settings.proxmox.nodes == ["pve1", "pve2", "pve3"]
    assert settings.test.tenant_vnets == ["tenant1", "tenant2"]
    assert settings.lab.faults == ["a", "b=2"]


@pytest.mark.parametrize("given, seconds", [("300", 300.0), ("300s", 300.0), ("5m", 300.0), ("1.5h", 5400.0),
                                            ("90.5", 90.5)])
def test_test_duration_accepts_units(given, seconds):
    assert load(environ={"PERF_TEST_DURATION": given}).perf.test_duration == seconds


def test_yaml_numbers_are_taken_as_they_are(tmp_path):
    profile = write_profile(tmp_path, "test: {vm_template: 9000, vlan_tag: 100}\nperf: {test_duration: 120}\n")
    settings = load(profile=profile)
    assert (settings.test.vm_template, settings.test.vlan_tag, settings.perf.test_duration) == ("9000", 100, 120.0)


# --- rules across keys ---------------------------------------------------------------------------

@pytest.mark.parametrize("environ, expected", [
    ({"PROXMOX_TOKEN_SECRET": SECRET},
     "proxmox.token_id: missing; PROXMOX_TOKEN_SECRET is set, so PROXMOX_TOKEN_ID is required"),
    ({"PROXMOX_USERNAME": "qa@pve"},
     "proxmox.password: missing; PROXMOX_USERNAME is set, so PROXMOX_PASSWORD is required"),
    ({"PROXMOX_PASSWORD": SECRET},
     "proxmox.username: missing; PROXMOX_PASSWORD is set, so PROXMOX_USERNAME is required"),
    ({"PROXMOX_CSI_TOKEN_ID": "csi@pve!csi"}, "proxmox.identities.csi.token_secret: missing; PROXMOX_CSI_TOKEN_ID "
                                             "is set, so PROXMOX_CSI_TOKEN_SECRET is required"),
    ({"PROXMOX_CCM_TOKEN_SECRET": SECRET}, "proxmox.identities.ccm.token_id: missing; PROXMOX_CCM_TOKEN_SECRET "
                                          "is set, so PROXMOX_CCM_TOKEN_ID is required"),
])
def test_credentials_come_in_pairs(environ, expected):
    assert problems(environ=environ) == [expected]


def test_a_pair_half_from_the_profile_names_the_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, "proxmox: {identities: {capmox: {token_id: capmox@pve!capi}}}\n")
    assert problems(profile=Path("site.yaml")) == [
        "proxmox.identities.capmox.token_secret: missing; proxmox.identities.capmox.token_id (profile site.yaml) "
        "is set, so proxmox.identities.capmox.token_secret is required"]


def test_a_pair_split_over_sources_is_complete(tmp_path):
    profile = write_profile(tmp_path, "proxmox: {token_id: qa@pve!suite}\n")
    assert load(profile=profile, environ={"PROXMOX_TOKEN_SECRET": SECRET}).proxmox.token_id == "qa@pve!suite"


def test_identity_is_built_from_both_halves():
    capmox = load(environ=CREDENTIALS).proxmox.identities.capmox
    assert (capmox.token_id, capmox.token_secret.get_secret_value()) == ("capmox@pve!capi", SECRET)


def test_live_target_needs_host_and_credentials():
    assert problems(environ={"PROXQA_TARGET": "live"}) == [
        "proxmox.host: missing; the target is live, so PROXMOX_HOST is required; e.g. PROXMOX_HOST=pve1.example.com",
        "proxmox.token_id: missing; the target is live, so PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET "
        "(or PROXMOX_USERNAME and PROXMOX_PASSWORD) are required"]


@pytest.mark.parametrize("credentials", [
    {"PROXMOX_USERNAME": "qa@pve", "PROXMOX_PASSWORD": SECRET},
    {"PROXMOX_TOKEN_ID": "qa@pve!suite", "PROXMOX_TOKEN_SECRET": SECRET},
], ids=["password", "token"])
def test_live_target_with_either_credential_loads(credentials):
    assert load(environ={"PROXMOX_HOST": "pve1", **credentials}).target == "live"


def test_several_problems_from_all_layers_are_reported_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, "proxmox: {hots: pve1}\ntest: {vlan_tag: 5000}\n")
    lines = problems(profile=Path("site.yaml"), environ={"PROXMOX_PORT": "eighty", "PROXMOX_TOKEN_ID": "qa@pve!t"},
                     cli={"proxmox.verify_ssl": "maybe"})
    assert lines == [
        "profile site.yaml: unknown key 'proxmox.hots'; did you mean 'proxmox.host'?",
        "proxmox.port (environment PROXMOX_PORT): 'eighty' is not a whole number; e.g. PROXMOX_PORT=8006",
        "proxmox.verify_ssl (--set): 'maybe' is not a boolean; use true or false",
        "test.vlan_tag (profile site.yaml): 5000 is out of range, must be 1..4094; e.g. vlan_tag: 100",
        "proxmox.token_secret: missing; PROXMOX_TOKEN_ID is set, so PROXMOX_TOKEN_SECRET is required",
    ]
    assert str(ConfigError(lines)) == "\n".join(lines)


def test_an_overridden_bad_value_is_not_checked():
    assert load(environ={"PROXMOX_PORT": "eighty"}, cli={"proxmox.port": "8007"}).proxmox.port == 8007


# --- secrets -------------------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [
    {"environ": {"PROXMOX_PASSWORD": SECRET}},
    {"environ": {"PROXMOX_TOKEN_SECRET": SECRET, "PROXMOX_PORT": "x"}},
    {"environ": {"PROXMOX_TOKEN_ID": UUID_SECRET, "PROXMOX_TOKEN_SECRET": "qa@pve!suite"}},
    {"profile_text": f"proxmox:\n  password: {SECRET}\n   port: 1\n"},
    {"profile_text": f"proxmox:\n  password: [{SECRET}]\n"},
    {"profile_text": f"proxmox:\n  password: {SECRET}\n  hots: x\n"},
    {"cli": {"PROXMOX_CAPMOX_TOKEN_SECRET": SECRET, "proxmox.hots": "x"}},
    {"lab": {"PROXMOX_CSI_TOKEN_SECRET": SECRET}},
], ids=["pair", "other-problem", "swapped-token", "yaml-error-line", "yaml-list", "profile-unknown-key",
        "cli", "lab"])
def test_no_secret_value_in_any_message(tmp_path, layers):
    if "profile_text" in layers:
        layers["profile"] = write_profile(tmp_path, layers.pop("profile_text"))
    with pytest.raises(ConfigError) as caught:
        load(**layers)
    message = str(caught.value)
    assert caught.value.problems and SECRET not in message and UUID_SECRET not in message, message


def test_a_token_secret_in_the_token_id_is_called_the_value_given():
    [line] = problems(environ={"PROXMOX_TOKEN_ID": UUID_SECRET, "PROXMOX_TOKEN_SECRET": SECRET})
    assert "the value given looks like a token secret" in line


def test_secrets_lists_every_secret_value():
    settings = load(environ={**CREDENTIALS, "PROXMOX_CCM_TOKEN_ID": "ccm@pve!ccm", "PROXMOX_CCM_TOKEN_SECRET": "ccm-s"})
    assert sorted(settings.secrets()) == sorted([SECRET, SECRET, SECRET, "ccm-s"])
    assert load().secrets() == []


def test_describe_hides_secrets_and_shows_every_key():
    settings = load(environ=LIVE)
    shown = settings.describe()
    assert set(SETTING_KEYS) <= set(shown)
    assert shown["proxmox.password"] == shown["proxmox.token_secret"] == "***"
    assert shown["proxmox.identities.capmox.token_secret"] == "***"
    assert shown["proxmox.identities.csi.token_secret"] == "(not set)"
    assert (shown["proxmox.host"], shown["proxmox.port"]) == ("pve1.example.com", "8006")
    assert shown["proxmox.verify_ssl"] == "true"
    assert shown["waits.default/vm-ready"] == "420"
    assert SECRET not in repr(shown) and SECRET not in repr(settings) and SECRET not in str(settings)


# --- monitoring ----------------------------------------------------------------------------------

def test_monitoring_defaults_and_values():
    assert (load().monitoring.metrics_url, load().monitoring.window) == (None, 600.0)
    monitoring = load(environ={"MONITORING_METRICS_URL": "http://vmselect:8481/select/0/prometheus/",
                               "MONITORING_GRAFANA_URL": "https://grafana.example.com", "MONITORING_WINDOW": "2m",
                               "MONITORING_GRAFANA_TOKEN": SECRET}).monitoring
    assert monitoring.metrics_url == "http://vmselect:8481/select/0/prometheus"     # no trailing slash
    assert (monitoring.grafana_url, monitoring.window) == ("https://grafana.example.com", 120.0)
    assert monitoring.grafana_token.get_secret_value() == SECRET


def test_a_url_without_scheme_gets_an_example_with_one():
    assert problems(environ={"MONITORING_METRICS_URL": "vmselect:8481"}) == [
        "monitoring.metrics_url (environment MONITORING_METRICS_URL): 'vmselect:8481' is not a URL: it has no "
        "http:// or https://; e.g. MONITORING_METRICS_URL=http://vmselect:8481"]


@pytest.mark.parametrize("url", [f"https://admin:{SECRET}@grafana.example.com", f"admin:{SECRET}@grafana:3000"])
def test_a_url_with_credentials_is_refused_without_echoing_them(url):
    [line] = problems(environ={"MONITORING_GRAFANA_URL": url})
    assert line.startswith("monitoring.grafana_url (environment MONITORING_GRAFANA_URL): the URL given carries "
                           "credentials"), line
    assert SECRET not in line, line


def test_grafana_token_is_a_secret():
    settings = load(environ={"MONITORING_GRAFANA_TOKEN": SECRET})
    assert settings.secrets() == [SECRET]
    assert settings.describe()["monitoring.grafana_token"] == "***"


# --- waits ---------------------------------------------------------------------------------------

def test_wait_seconds_tries_the_scope_then_default(tmp_path):
    profile = write_profile(tmp_path, "waits:\n  stage5/pvc-bound: 90\n")
    settings = load(profile=profile, cli={"waits.default/delete": "30"})
    assert settings.wait_seconds("stage5", "pvc-bound") == 90
    assert settings.wait_seconds("stage3", "pvc-bound") == 60
    assert settings.wait_seconds("stage5", "delete") == 30
    assert settings.wait_seconds("stage5", "node-ready") == 420     # defaults merged key by key


def test_wait_seconds_names_the_known_waits_for_an_unknown_key():
    with pytest.raises(KeyError, match="no wait stage5/coffee or default/coffee; known waits: default/backup, default/delete"):
        load().wait_seconds("stage5", "coffee")


@pytest.mark.parametrize("wait, sla_env", [
    ("vm-ready", "SLA_VM_CREATE_SECONDS"),
    ("pvc-bound", "SLA_VOLUME_PROVISION_SECONDS"),
    ("pod-running", "SLA_POD_STARTUP_SECONDS"),
])
@pytest.mark.parametrize("scope", ["default", "stage5"])
def test_a_wait_at_or_below_its_sla_is_a_problem(wait, sla_env, scope):
    dotted_sla = {env: key for key, env in SETTING_KEYS.items()}[sla_env]
    key = f"waits.{scope}/{wait}"
    assert problems(cli={key: "50"}, environ={sla_env: "50"}) == [
        f"{key} (--set): 50 s is not above {dotted_sla} (50 s, environment {sla_env}); "
        f"a wait that times an SLA must outlast it; e.g. {key}=100"]
    assert load(cli={key: "51"}, environ={sla_env: "50"}).waits[f"{scope}/{wait}"] == 51


def test_a_default_wait_below_a_raised_sla_is_a_problem():
    assert problems(environ={"SLA_VM_CREATE_SECONDS": "600"}) == [
        "waits.default/vm-ready (default): 420 s is not above sla.vm_create (600 s, environment "
        "SLA_VM_CREATE_SECONDS); a wait that times an SLA must outlast it; e.g. waits.default/vm-ready=1200"]


def test_a_profile_wait_below_the_default_sla_names_the_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path, "waits:\n  stage7/pod-running: 100\n")
    assert problems(profile=Path("site.yaml")) == [
        "waits.stage7/pod-running (profile site.yaml): 100 s is not above sla.pod_startup (120 s, default); "
        "a wait that times an SLA must outlast it; e.g. stage7/pod-running: 240"]


def test_an_invalid_sla_is_reported_once_without_a_wait_comparison():
    [line] = problems(environ={"SLA_VM_CREATE_SECONDS": "slow"})
    assert line.startswith("sla.vm_create (environment SLA_VM_CREATE_SECONDS): 'slow' is not a number")


# --- the model, the table, the docs and the example profile ---------------------------------------

def leaf_keys(model: type[pydantic.BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        nested = [arg for arg in (field.annotation, *getattr(field.annotation, "__args__", ()))
                  if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel)]
        if nested:
            keys |= leaf_keys(nested[0], f"{prefix}{name}.")
        elif name != "waits":
            keys.add(f"{prefix}{name}")
    return keys


def test_the_key_table_matches_the_model():
    assert set(SETTING_KEYS) == leaf_keys(Settings)


def test_settings_are_frozen():
    settings = load()
    with pytest.raises(pydantic.ValidationError):
        settings.proxmox.port = 1


def test_every_key_and_environment_name_is_documented():
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [name for pair in SETTING_KEYS.items() for name in pair if f"`{name}`" not in doc]
    assert missing == [], f"docs/configuration.md does not mention {missing}"


def test_example_profile_has_every_key_and_loads(tmp_path):
    path = REPO / "profiles" / "example.yaml"
    assert set(SETTING_KEYS) | {"waits"} <= flat_keys(yaml.safe_load(path.read_text(encoding="utf-8")))
    kubeconfig = tmp_path / "admin.yaml"      # the profile's kubeconfig must exist to load; this one does
    kubeconfig.write_text("clusters: [{name: mgmt, cluster: {server: 'https://127.0.0.1:6443'}}]\n")
    settings = load(profile=path, environ={"KUBECONFIG": str(kubeconfig)})
    assert (settings.target, settings.proxmox.host) == ("live", "pve1.example.com")
    assert settings.proxmox.identities.ccm.token_id == "ccm@pve!ccm"
    assert settings.wait_seconds("stage5", "pvc-bound") == 90
