"""The suite's settings: one typed, frozen model filled from --set > lab > environment > profile > defaults.

Every value is checked before the first test; all problems are reported together, one line each
(`<dotted key> (<where>): <what is wrong>; e.g. <valid example>`), through ConfigError. No secret
value ever appears in a message. docs/configuration.md is the reference for users.
"""
from __future__ import annotations

import difflib
import ipaddress
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one printable line per problem."""

    exit_code = 4

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- the keys -------------------------------------------------------------------------------------

_KEYS: tuple[tuple[str, str, str], ...] = (
    # dotted key, environment name, example value shown in error lines
    ("target", "PROXQA_TARGET", "live"),
    ("run_id", "PROXQA_RUN_ID", "nightly-42"),
    ("read_only", "PROXQA_READ_ONLY", "true"),
    ("keep_test_resources", "KEEP_TEST_RESOURCES", "false"),
    ("proxmox.host", "PROXMOX_HOST", "pve1.example.com"),
    ("proxmox.port", "PROXMOX_PORT", "8006"),
    ("proxmox.username", "PROXMOX_USERNAME", "root@pam"),
    ("proxmox.password", "PROXMOX_PASSWORD", "CHANGE-ME"),
    ("proxmox.token_id", "PROXMOX_TOKEN_ID", "proxqa@pve!qa"),
    ("proxmox.token_secret", "PROXMOX_TOKEN_SECRET", "CHANGE-ME"),
    ("proxmox.verify_ssl", "PROXMOX_VERIFY_SSL", "true"),
    ("proxmox.ca_bundle", "PROXMOX_CA_BUNDLE", "/etc/ssl/certs/pve-root-ca.pem"),
    ("proxmox.nodes", "PROXMOX_NODES", "pve1,pve2,pve3"),
    ("proxmox.connect_timeout", "PROXMOX_CONNECT_TIMEOUT", "5"),
    ("proxmox.request_timeout", "PROXMOX_REQUEST_TIMEOUT", "30"),
    ("proxmox.identities.capmox.token_id", "PROXMOX_CAPMOX_TOKEN_ID", "capmox@pve!capi"),
    ("proxmox.identities.capmox.token_secret", "PROXMOX_CAPMOX_TOKEN_SECRET", "CHANGE-ME"),
    ("proxmox.identities.csi.token_id", "PROXMOX_CSI_TOKEN_ID", "csi@pve!csi"),
    ("proxmox.identities.csi.token_secret", "PROXMOX_CSI_TOKEN_SECRET", "CHANGE-ME"),
    ("proxmox.identities.ccm.token_id", "PROXMOX_CCM_TOKEN_ID", "ccm@pve!ccm"),
    ("proxmox.identities.ccm.token_secret", "PROXMOX_CCM_TOKEN_SECRET", "CHANGE-ME"),
    ("proxmox.identities.backup.token_id", "PROXMOX_BACKUP_TOKEN_ID", "qa@pve!backup"),
    ("proxmox.identities.backup.token_secret", "PROXMOX_BACKUP_TOKEN_SECRET", "CHANGE-ME"),
    ("test.vm_template", "TEST_VM_TEMPLATE", "9000"),
    ("test.template_has_agent", "TEST_TEMPLATE_HAS_AGENT", "true"),
    ("test.storage_pool", "TEST_STORAGE_POOL", "local-lvm"),
    ("test.iso_storage", "TEST_ISO_STORAGE", "local"),
    ("test.network_bridge", "TEST_NETWORK_BRIDGE", "vmbr0"),
    ("test.vlan_tag", "TEST_VLAN_TAG", "100"),
    ("test.sdn_required", "TEST_SDN_REQUIRED", "false"),
    ("test.tenant_vnets", "TEST_TENANT_VNETS", "tenant1,tenant2"),
    ("test.namespace", "TEST_NAMESPACE", "proxqa"),
    ("test.min_free_storage_gib", "TEST_MIN_FREE_STORAGE_GIB", "100"),
    ("test.link_speed_mbit", "TEST_LINK_SPEED_MBIT", "10000"),
    ("test.latency_samples", "TEST_LATENCY_SAMPLES", "20"),
    ("test.cert_expiry_warn_days", "TEST_CERT_EXPIRY_WARN_DAYS", "30"),
    ("test.worker_mode", "TEST_WORKER_MODE", "capi"),
    ("test.pod_image", "TEST_POD_IMAGE", "registry.k8s.io/pause:3.10"),
    ("test.probe_image", "TEST_PROBE_IMAGE", "busybox:1.36"),
    ("test.server_image", "TEST_SERVER_IMAGE", "nginx:1.27"),
    ("test.cluster_domain", "TEST_CLUSTER_DOMAIN", "cozy.local"),
    ("test.storage_class", "TEST_STORAGE_CLASS", "proxmox-data"),
    ("test.snapshot_class", "TEST_SNAPSHOT_CLASS", "proxmox-snapshots"),
    ("test.backup_storage", "TEST_BACKUP_STORAGE", "local"),
    ("test.external_access", "TEST_EXTERNAL_ACCESS", "true"),
    ("test.allow_destructive", "TEST_ALLOW_DESTRUCTIVE", "true"),
    ("test.production", "TEST_PRODUCTION", "false"),
    ("kubernetes.kubeconfig", "KUBECONFIG", "~/.kube/config"),
    ("perf.vm_count", "PERF_VM_COUNT", "10"),
    ("perf.volume_size", "PERF_VOLUME_SIZE", "10Gi"),
    ("perf.test_duration", "PERF_TEST_DURATION", "5m"),
    ("perf.clone_concurrency", "PERF_CLONE_CONCURRENCY", "4"),
    ("perf.probe_interval", "PERF_PROBE_INTERVAL", "5s"),
    ("sla.api_latency", "SLA_API_LATENCY_SECONDS", "2.0"),
    ("sla.vm_create", "SLA_VM_CREATE_SECONDS", "300"),
    ("sla.volume_provision", "SLA_VOLUME_PROVISION_SECONDS", "30"),
    ("sla.pod_startup", "SLA_POD_STARTUP_SECONDS", "120"),
    ("sla.availability", "SLA_AVAILABILITY_PERCENT", "99.0"),
    ("sla.error_rate", "SLA_ERROR_RATE_PERCENT", "1.0"),
    ("sla.recovery", "SLA_RECOVERY_SECONDS", "600"),
    ("limits.storage_usage_percent", "LIMIT_STORAGE_USAGE_PERCENT", "90"),
    ("limits.node_cpu_percent", "LIMIT_NODE_CPU_PERCENT", "80"),
    ("limits.node_memory_percent", "LIMIT_NODE_MEMORY_PERCENT", "85"),
    ("limits.bandwidth_percent", "LIMIT_BANDWIDTH_PERCENT", "60"),
    ("capi.ip_range", "TEST_CAPI_IP_RANGE", "10.10.10.100-10.10.10.150"),
    ("capi.ip_prefix", "TEST_CAPI_IP_PREFIX", "24"),
    ("capi.gateway", "TEST_CAPI_GATEWAY", "10.10.10.1"),
    ("capi.dns_servers", "TEST_CAPI_DNS_SERVERS", "10.10.10.1"),
    ("capi.control_plane_endpoint", "TEST_CAPI_CONTROL_PLANE_ENDPOINT", "10.10.10.10:6443"),
    ("capi.vmid_range", "TEST_VMID_RANGE", "9900-9999"),
    ("capi.vm_cores", "TEST_VM_CORES", "2"),
    ("capi.vm_memory_mib", "TEST_VM_MEMORY_MIB", "2048"),
    ("capi.vm_disk_gib", "TEST_VM_DISK_GIB", "20"),
    ("capi.max_restarts", "LIMIT_CONTROLLER_RESTARTS", "5"),
    ("monitoring.metrics_url", "MONITORING_METRICS_URL", "http://vmselect.monitoring:8481/select/0/prometheus"),
    ("monitoring.targets_url", "MONITORING_TARGETS_URL", "http://vmagent.monitoring:8429"),
    ("monitoring.vmalert_url", "MONITORING_VMALERT_URL", "http://vmalert.monitoring:8080"),
    ("monitoring.logs_url", "MONITORING_LOGS_URL", "http://victorialogs.monitoring:9428"),
    ("monitoring.grafana_url", "MONITORING_GRAFANA_URL", "https://grafana.example.com"),
    ("monitoring.grafana_token", "MONITORING_GRAFANA_TOKEN", "CHANGE-ME"),
    ("monitoring.window", "MONITORING_WINDOW", "10m"),
    ("gate.pass_rate", "GATE_PASS_RATE", "95.0"),
    ("gate.min_executed", "GATE_MIN_EXECUTED", "10"),
    ("lab.time_scale", "LAB_TIME_SCALE", "0.01"),
    ("lab.faults", "LAB_FAULTS", "pve-latency=200ms"),
)

SETTING_KEYS: dict[str, str] = {dotted: env for dotted, env, _ in _KEYS}
"""Dotted key -> environment name. `waits` is not listed: it has no environment name (profile and --set only)."""

_EXAMPLES = {dotted: example for dotted, _, example in _KEYS}
_KEY_OF_ENV = {env: dotted for dotted, env in SETTING_KEYS.items()}
_SECTIONS = {".".join(parts[:depth]) for parts in (dotted.split(".") for dotted in SETTING_KEYS)
             for depth in range(1, len(parts))}

DEFAULT_WAITS: dict[str, float] = {
    "default/delete": 120.0, "default/task": 120.0, "default/pod-scheduled": 60.0, "default/pod-running": 180.0,
    "default/vm-ready": 420.0, "default/pvc-bound": 60.0, "default/node-ready": 420.0,
    "default/fresh-metrics": 120.0, "default/vm-restarted": 600.0, "default/machine-failed": 300.0,
    "default/policy-applied": 60.0, "default/lb-address": 120.0, "default/volume-resized": 180.0,
    "default/tenant-ready": 300.0, "default/logs-ingested": 120.0, "default/kubernetes-ready": 900.0,
    "default/workloads-ready": 600.0,
    "default/recovery": 900.0, "default/backup": 1800.0, "default/restore": 1800.0,
}
# A wait that times an SLA step must outlast the SLA, so a breach is measured rather than cut off.
_SLA_OF_WAIT = {"vm-ready": "sla.vm_create", "pvc-bound": "sla.volume_provision", "pod-running": "sla.pod_startup",
                "recovery": "sla.recovery"}
_WAIT_KEY = re.compile(r"[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*")
_WAIT_EXAMPLE = ("waits.stage5/pvc-bound", "90")


# --- value checks: each takes what a layer gave (a string, or a YAML value) and returns the typed value ---

class _Invalid(ValueError):
    """A value is wrong. `example` replaces the key's example value; show_example=False when `what` says it all."""

    def __init__(self, what: str, *, example: str | None = None, show_example: bool = True):
        super().__init__(what)
        self.what, self.example, self.show_example = what, example, show_example


_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise _Invalid(f"{value!r} is not a boolean; use true or false", show_example=False)


def _range_text(low: float | None, high: float | None, above: float | None) -> str:
    if above is not None:
        return f"above {above:g}"
    if high is None:
        return f"at least {low:g}"
    return f"{low:g}..{high:g}"


def _in_range(number: float, value: Any, low: float | None, high: float | None, above: float | None) -> Any:
    if (above is not None and number <= above) or (low is not None and number < low) or (
            high is not None and number > high):
        raise _Invalid(f"{value!r} is out of range, must be {_range_text(low, high, above)}")
    return number


def _whole(low: int | None = None, high: int | None = None) -> BeforeValidator:
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            number = int(value)
        else:
            raise _Invalid(f"{value!r} is not a whole number")
        return _in_range(number, value, low, high, None)
    return BeforeValidator(check)


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(low: float | None = None, high: float | None = None, *, above: float | None = None) -> BeforeValidator:
    def check(value: Any) -> float:
        parsed = _to_float(value)
        if parsed is None:
            raise _Invalid(f"{value!r} is not a number")
        return _in_range(parsed, value, low, high, above)
    return BeforeValidator(check)


_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration_seconds(value: Any) -> float:
    """Seconds from a duration as the settings write it: a number, or one with s, m or h ("90", "30m", "1h");
    ValueError when it is none."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value) if isinstance(value, str) else None
    if match:
        return float(match[1]) * _UNIT_SECONDS[match[2]]
    if (seconds := _to_float(value)) is None:
        raise _Invalid(f"{value!r} is not a duration (seconds, or a number with s, m or h)")
    return seconds


def _duration(value: Any) -> float:
    return _in_range(duration_seconds(value), value, None, None, 0)


def _text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):   # a YAML number such as a VMID
        return str(value)
    if not isinstance(value, str):
        raise _Invalid(f"{value!r} is not a single text value")
    if not value.strip():
        raise _Invalid(f"{value!r} is blank")
    return value.strip()


def _matching(pattern: str, form: str) -> Callable[[Any], str]:
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        text = _text(value)
        if not compiled.fullmatch(text):
            raise _Invalid(f"{value!r} is not {form}")
        return text
    return check


_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(text))
    return True


def _host(value: Any) -> str:
    text = _text(value)
    if _is_host(text):
        return text
    scheme, _, rest = text.rpartition("://")
    authority, slash, _ = rest.partition("/")
    host_port = authority.rpartition("@")[2]
    port = re.search(r":\d*$", host_port)
    name = (host_port[:port.start()] if port else host_port).removeprefix("[").removesuffix("]")
    if not _is_host(name):
        raise _Invalid(f"{value!r} is not a host name or IP address")
    if scheme:
        fault = "is a URL, give the host only"
    elif slash:
        fault = "has a path, give the host only"
    elif port:
        fault = "has a port, give the host only (the port goes in proxmox.port)"
    else:
        fault = "is more than a host name, give the host only"
    raise _Invalid(f"{value!r} {fault}", example=name)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_token_id_form = _matching(r"[^\s@!]+@[A-Za-z0-9][\w.-]*![A-Za-z][\w.-]*", "of the form user@realm!name")


def _token_id(value: Any) -> str:
    if isinstance(value, str) and _UUID.fullmatch(value.strip()):   # a swapped id and secret must not be echoed
        raise _Invalid("the value given looks like a token secret, not a token ID (user@realm!name)")
    return _token_id_form(value)


def _secret(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise _Invalid("the value given is not text (quote it in YAML)")
    return SecretStr(value)


def _path(value: Any) -> Path:
    return value if isinstance(value, Path) else Path(_text(value)).expanduser()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _Invalid(f"cannot read {str(path)!r} ({error.strerror or error})", show_example=False) from None


def _ca_bundle(value: Any) -> Path:
    path = _path(value)
    if b"-----BEGIN CERTIFICATE-----" not in _read(path):
        raise _Invalid(f"{str(path)!r} is not a PEM file (no BEGIN CERTIFICATE line)")
    return path


def _kubeconfig(value: Any) -> Path:
    if isinstance(value, str) and ":" in value:     # kubectl merges a list of files; the suite reads one
        raise _Invalid(f"{value!r} names several files; give the one kubeconfig of the management cluster",
                       example=value.split(":")[0] or None)
    path = _path(value)
    try:
        content = yaml.safe_load(_read(path))
    except yaml.YAMLError as error:     # never the text itself: a kubeconfig holds credentials
        raise _Invalid(f"{str(path)!r} is not a kubeconfig ({_yaml_problem(error)})") from None
    if not (isinstance(content, dict) and content.get("clusters")):
        raise _Invalid(f"{str(path)!r} is not a kubeconfig (it lists no clusters)")
    return path


def _http_url(value: Any) -> str:
    text = _text(value)
    if "@" in text.partition("://")[2 if "://" in text else 0].partition("/")[0]:   # never echo user:password@
        raise _Invalid("the URL given carries credentials (user:password@); give it without them")
    if "://" not in text:
        raise _Invalid(f"{value!r} is not a URL: it has no http:// or https://", example=f"http://{text}")
    parts = urlsplit(text)
    try:
        parts.port
    except ValueError:
        raise _Invalid(f"{value!r} has an invalid port") from None
    if parts.scheme not in ("http", "https"):
        raise _Invalid(f"{value!r} is not an http or https URL")
    if not parts.hostname:
        raise _Invalid(f"{value!r} has no host")
    if parts.query or parts.fragment:
        raise _Invalid(f"{value!r} has a query or fragment; give the base URL only",
                       example=urlunsplit(parts._replace(query="", fragment="")))
    return text.rstrip("/")


def _ipv4_address(value: Any) -> str:
    text = _text(value)
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise _Invalid(f"{value!r} is not an IPv4 address") from None
    return text


def _ipv4_range(value: Any) -> str:
    """first-last (or one address), first not above last."""
    text = _text(value)
    try:
        ends = [ipaddress.IPv4Address(end) for end in text.split("-")]
    except ValueError:
        ends = []
    if not 1 <= len(ends) <= 2 or ends[0] > ends[-1]:
        raise _Invalid(f"{value!r} is not an IPv4 range first-last (first not above last)")
    return text


def _list_of(item: Callable[[Any], str]) -> BeforeValidator:
    def check(value: Any) -> list[str]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise _Invalid(f"{value!r} is not a list (comma-separated, or a YAML list)")
        return [item(entry) for entry in value]
    return BeforeValidator(check)


def _target(value: Any) -> str:
    text = _text(value).lower()
    if text not in ("lab", "live"):
        raise _Invalid(f"{value!r} is not a target; use lab or live", show_example=False)
    return text


def _wait_key(value: Any) -> str:
    if not (isinstance(value, str) and _WAIT_KEY.fullmatch(value)):
        raise _Invalid(f"{value!r} is not of the form <scope>/<key>")
    return value


_Text = Annotated[str, BeforeValidator(_text)]
_Bool = Annotated[bool, BeforeValidator(_boolean)]
_Secret = Annotated[SecretStr, BeforeValidator(_secret)]
_TokenId = Annotated[str, BeforeValidator(_token_id)]
_UserId = Annotated[str, BeforeValidator(_matching(r"[^\s@!]+@[A-Za-z0-9][\w.-]*", "of the form user@realm"))]
_Host = Annotated[str, BeforeValidator(_host)]
_CaBundle = Annotated[Path, BeforeValidator(_ca_bundle)]
_Kubeconfig = Annotated[Path, BeforeValidator(_kubeconfig)]
_Seconds = Annotated[float, _number(above=0)]
_Duration = Annotated[float, BeforeValidator(_duration)]
_HttpUrl = Annotated[str, BeforeValidator(_http_url)]
_Percent = Annotated[float, _number(0, 100)]
_Names = Annotated[list[str], _list_of(_text)]
_Label = Annotated[str, BeforeValidator(_matching(
    r"(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?", "a DNS-1123 label (lower-case letters, digits, dashes)"))]
_Quantity = Annotated[str, BeforeValidator(_matching(
    r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?", "a Kubernetes quantity such as 10Gi or 512Mi"))]
_RunId = Annotated[str, BeforeValidator(_matching(
    r"[A-Za-z0-9-]{1,40}", "a run ID (letters, digits, dashes; at most 40)"))]
_Faults = Annotated[list[str], _list_of(_matching(r"[a-z0-9][a-z0-9_.-]*(=.*)?", "a fault: name or name=value"))]
_WaitKey = Annotated[str, BeforeValidator(_wait_key)]


# --- the model ------------------------------------------------------------------------------------

class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Identity(_Frozen):
    token_id: _TokenId
    token_secret: _Secret


class Identities(_Frozen):
    capmox: Identity | None = None
    csi: Identity | None = None
    ccm: Identity | None = None
    backup: Identity | None = None       # the suite's backup drill (S8.7): clones, backs up and restores a test VM


class ProxmoxSettings(_Frozen):
    host: _Host | None = None
    port: Annotated[int, _whole(1, 65535)] = 8006
    username: _UserId | None = None
    password: _Secret | None = None
    token_id: _TokenId | None = None
    token_secret: _Secret | None = None
    verify_ssl: _Bool = True
    ca_bundle: _CaBundle | None = None
    nodes: _Names = []
    connect_timeout: _Seconds = 5.0
    request_timeout: _Seconds = 30.0
    identities: Identities = Identities()


class ResourceSettings(_Frozen):
    """The `test.*` keys: what the target offers the tests."""

    vm_template: _Text | None = None
    template_has_agent: _Bool = True
    storage_pool: _Text | None = None
    iso_storage: _Text | None = None
    network_bridge: _Text = "vmbr0"
    vlan_tag: Annotated[int, _whole(1, 4094)] | None = None
    sdn_required: _Bool = False
    tenant_vnets: _Names = []
    namespace: _Label = "proxqa"
    min_free_storage_gib: Annotated[float, _number(0)] = 100.0
    link_speed_mbit: Annotated[int, _whole(1)] | None = None
    latency_samples: Annotated[int, _whole(1, 1000)] = 20
    cert_expiry_warn_days: Annotated[int, _whole(0)] = 30
    worker_mode: Annotated[str, BeforeValidator(_matching(r"capi|host", "capi or host"))] = "capi"
    pod_image: _Text = "registry.k8s.io/pause:3.10"     # what a pod that only has to run runs
    probe_image: _Text = "busybox:1.36"                 # probe Jobs: sh, wget, nc, nslookup
    server_image: _Text = "nginx:1.27"                  # answers HTTP on port 80
    cluster_domain: _Text = "cozy.local"
    storage_class: _Text | None = None                  # default: the StorageClass of the Proxmox CSI driver
    snapshot_class: _Text | None = None                 # S5.6 runs only when a VolumeSnapshotClass is named
    backup_storage: _Text | None = None                 # S8.7: default, the first storage taking backups
    external_access: _Bool = False                      # S6.6: LoadBalancer Services get addresses here
    allow_destructive: _Bool = False                    # S8.6 runs only with this and --destructive
    production: _Bool = False                           # refuses destructive checks outright


class KubernetesSettings(_Frozen):
    kubeconfig: _Kubeconfig | None = None


class PerfSettings(_Frozen):
    vm_count: Annotated[int, _whole(1)] = 10
    volume_size: _Quantity = "10Gi"
    test_duration: _Duration = 300.0
    clone_concurrency: Annotated[int, _whole(1)] = 4     # S8.5: VMs cloning at once (storage locks time out)
    probe_interval: _Duration = 5.0                     # S8.9: seconds between availability probes


class SlaSettings(_Frozen):
    api_latency: _Seconds = 2.0
    vm_create: _Seconds = 300.0
    volume_provision: _Seconds = 30.0
    pod_startup: _Seconds = 120.0
    availability: _Percent = 99.0
    error_rate: _Percent = 1.0
    recovery: _Seconds = 600.0


class LimitSettings(_Frozen):
    storage_usage_percent: _Percent = 90.0
    node_cpu_percent: _Percent = 80.0
    node_memory_percent: _Percent = 85.0
    bandwidth_percent: _Percent = 60.0


class CapiSettings(_Frozen):
    """The `capi.*` keys: the test VMs stage 3 creates through Cluster API, and where their addresses come from."""

    ip_range: Annotated[str, BeforeValidator(_ipv4_range)] | None = None
    ip_prefix: Annotated[int, _whole(1, 32)] = 24
    gateway: Annotated[str, BeforeValidator(_ipv4_address)] | None = None
    dns_servers: _Names = []
    control_plane_endpoint: Annotated[str, BeforeValidator(_matching(r"[^\s:/]+:\d{1,5}", "host:port"))] | None = None
    vmid_range: Annotated[str, BeforeValidator(_matching(r"\d{3,9}-\d{3,9}", "first-last VMID"))] = "9900-9999"
    vm_cores: Annotated[int, _whole(1, 512)] = 2
    vm_memory_mib: Annotated[int, _whole(64)] = 2048
    vm_disk_gib: Annotated[int, _whole(1)] = 20
    max_restarts: Annotated[int, _whole(1)] = 5


class MonitoringSettings(_Frozen):
    """The `monitoring.*` keys: where stage 7 reads the monitoring stack's query APIs."""

    metrics_url: _HttpUrl | None = None      # Prometheus query API: vmselect .../select/0/prometheus or VictoriaMetrics
    targets_url: _HttpUrl | None = None      # where /api/v1/targets lists the scrape targets: vmagent
    vmalert_url: _HttpUrl | None = None
    logs_url: _HttpUrl | None = None         # VictoriaLogs
    grafana_url: _HttpUrl | None = None
    grafana_token: _Secret | None = None
    window: _Duration = 600.0                # seconds over which S7.4 and S7.8 average


class GateSettings(_Frozen):
    pass_rate: _Percent = 95.0
    min_executed: Annotated[int, _whole(0)] = 10


class LabSettings(_Frozen):
    time_scale: Annotated[float, _number(0)] = 0.0
    faults: _Faults = []


class Settings(_Frozen):
    target: Annotated[Literal["lab", "live"], BeforeValidator(_target)] = "lab"
    run_id: _RunId | None = None
    read_only: _Bool = False
    keep_test_resources: _Bool = False
    proxmox: ProxmoxSettings = ProxmoxSettings()
    test: ResourceSettings = ResourceSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    perf: PerfSettings = PerfSettings()
    sla: SlaSettings = SlaSettings()
    limits: LimitSettings = LimitSettings()
    capi: CapiSettings = CapiSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    gate: GateSettings = GateSettings()
    waits: dict[_WaitKey, _Seconds] = Field(default_factory=lambda: dict(DEFAULT_WAITS))
    lab: LabSettings = LabSettings()

    def wait_seconds(self, scope: str, key: str) -> float:
        """The wait "<scope>/<key>", else "default/<key>"; KeyError naming the known waits."""
        for name in (f"{scope}/{key}", f"default/{key}"):
            if name in self.waits:
                return self.waits[name]
        raise KeyError(f"no wait {scope}/{key} or default/{key}; known waits: {', '.join(sorted(self.waits))}")

    def secrets(self) -> list[str]:
        """Every non-empty secret value, for reports to redact."""
        values = (_lookup(self, dotted) for dotted in SETTING_KEYS)
        return [value.get_secret_value() for value in values
                if isinstance(value, SecretStr) and value.get_secret_value()]

    def describe(self) -> dict[str, str]:
        """Dotted key -> printable value for the report's environment section; secrets show as ***."""
        shown = {dotted: _printable(_lookup(self, dotted)) for dotted in SETTING_KEYS}
        shown.update({f"waits.{name}": f"{seconds:g}" for name, seconds in sorted(self.waits.items())})
        return shown


def _lookup(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = None if value is None else getattr(value, part)
    return value


def _printable(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "***"
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    return str(value)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


@cache
def _adapter(dotted: str) -> TypeAdapter:
    """The validator of one key, taken from the model so the model stays the one place that defines it."""
    if dotted.startswith("waits."):
        return TypeAdapter(_Seconds)
    model: Any = Settings
    *sections, leaf = dotted.split(".")
    for section in sections:
        model = _without_none(model.model_fields[section].annotation)
    field = model.model_fields[leaf]
    base = _without_none(field.annotation)
    return TypeAdapter(Annotated[(base, *field.metadata)] if field.metadata else base)


# --- where values come from -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    label: str      # "environment", "lab", "--set", "default" or "profile <path>"
    style: str      # how keys are written there: "env" (PROXMOX_PORT=8006), "yaml" (port: 8006)
    #                 or "set" (proxmox.port=8006)

    def where(self, dotted: str) -> str:
        return f"{self.label} {SETTING_KEYS[dotted]}" if self.style == "env" else self.label

    def example(self, dotted: str, value: str) -> str:
        if self.style == "env":
            return f"{SETTING_KEYS[dotted]}={value}"
        if self.style == "yaml":
            return f"{dotted.removeprefix('waits.').rsplit('.', 1)[-1]}: {value}"
        return f"{dotted}={value}"

    def name(self, dotted: str) -> str:
        """How a user of this source names the key in a sentence."""
        if self.style == "env":
            return SETTING_KEYS[dotted] if self.label == "environment" else f"{SETTING_KEYS[dotted]} ({self.label})"
        return f"{dotted} ({self.label})"


_DEFAULT, _ENVIRONMENT, _LAB, _CLI = (_Source("default", "set"), _Source("environment", "env"),
                                      _Source("lab", "env"), _Source("--set", "set"))


@dataclass(frozen=True)
class _Given:
    value: Any
    source: _Source


def _is_given(value: Any) -> bool:
    return value is not None and value != ""


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else "; docs/configuration.md lists the keys"


def _from_environment(environ: Mapping[str, str], source: _Source) -> dict[str, _Given]:
    return {dotted: _Given(environ[env], source) for dotted, env in SETTING_KEYS.items() if _is_given(environ.get(env))}


def _from_cli(cli: Mapping[str, str]) -> tuple[dict[str, _Given], list[str]]:
    values, problems = {}, []
    for name, value in cli.items():
        dotted = _KEY_OF_ENV.get(name, name)
        if dotted in SETTING_KEYS or dotted.startswith("waits."):
            if _is_given(value):
                values[dotted] = _Given(value, _CLI)
        else:
            problems.append(f"--set: unknown key {name!r}{_suggest(name, [*SETTING_KEYS, *_KEY_OF_ENV])}")
    return values, problems


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "syntax error"
    # The problem text only: str(error) quotes the offending line, which may hold a secret.
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _section_example(section: str) -> str:
    if section == "waits":
        return "waits: {default/delete: 120}"
    first = next(dotted for dotted in SETTING_KEYS if dotted.startswith(f"{section}."))
    *nested, leaf = first[len(section) + 1:].split(".")
    flow = f"{{{leaf}: {_EXAMPLES[first]}}}"
    for name in reversed(nested):
        flow = f"{{{name}: {flow}}}"
    return f"{section.rsplit('.', 1)[-1]}: {flow}"


def _flatten(mapping: dict, prefix: str, source: _Source, values: dict[str, _Given], problems: list[str]) -> None:
    for name, value in mapping.items():
        dotted = f"{prefix}{name}"
        if dotted in _SECTIONS or dotted == "waits":
            if isinstance(value, dict):
                _flatten(value, f"{dotted}.", source, values, problems)
            elif value is not None:
                problems.append(f"{dotted} ({source.label}): is a section, so it needs a mapping of keys, "
                                f"not a single value; e.g. {_section_example(dotted)}")
        elif dotted in SETTING_KEYS or dotted.startswith("waits."):
            if _is_given(value):
                values[dotted] = _Given(value, source)
        else:
            known = [*SETTING_KEYS, *_SECTIONS, "waits"]
            problems.append(f"{source.label}: unknown key {dotted!r}{_suggest(dotted, known)}")


def _from_profile(path: Path) -> tuple[dict[str, _Given], list[str]]:
    source = _Source(f"profile {path}", "yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        return {}, [f"{source.label}: cannot read it ({error.strerror or error})"]
    except UnicodeDecodeError:
        return {}, [f"{source.label}: is not UTF-8 text"]
    except yaml.YAMLError as error:
        return {}, [f"{source.label}: {_yaml_problem(error)}"]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        return {}, [f"{source.label}: the top level is {kind}, not a mapping of sections; "
                    f"e.g. {_section_example('proxmox')}"]
    values: dict[str, _Given] = {}
    problems: list[str] = []
    _flatten(data, "", source, values, problems)
    return values, problems


def _gather(cli: Mapping[str, str], environ: Mapping[str, str], profile: Path | None,
            lab: Mapping[str, str] | None) -> tuple[dict[str, _Given], list[str]]:
    """The winning value of every key that some layer gives, and the problems of reading the layers."""
    merged = {f"waits.{name}": _Given(seconds, _DEFAULT) for name, seconds in DEFAULT_WAITS.items()}
    problems: list[str] = []
    if profile is not None:
        values, problems = _from_profile(profile)
        merged.update(values)
    merged.update(_from_environment(environ, _ENVIRONMENT))
    if lab is not None:
        merged.update({"target": _Given("lab", _LAB), **_from_environment(lab, _LAB)})
    values, cli_problems = _from_cli(cli)
    merged.update(values)
    return merged, problems + cli_problems


# --- checking -------------------------------------------------------------------------------------

def _line(dotted: str, source: _Source, what: str, example: str | None) -> str:
    """One problem line; `example` is a valid setting as written in that source, or None."""
    line = f"{dotted} ({source.where(dotted)}): {what}"
    return f"{line}; e.g. {example}" if example is not None else line


def _parse(merged: dict[str, _Given]) -> tuple[dict[str, Any], list[str]]:
    """The typed value of every key that checks out, and one problem line for each that does not."""
    parsed, problems = {}, []
    for dotted, given in merged.items():
        try:
            if dotted.startswith("waits."):
                _wait_key(dotted.removeprefix("waits."))
            parsed[dotted] = _adapter(dotted).validate_python(given.value)
        except _Invalid as invalid:    # a bad wait name: the example shows a valid one
            problems.append(_line(dotted, given.source, invalid.what, given.source.example(*_WAIT_EXAMPLE)))
        except ValidationError as error:
            problems.append(_invalid_line(dotted, given.source, error))
    return parsed, problems


def _invalid_line(dotted: str, source: _Source, error: ValidationError) -> str:
    detail = error.errors()[0]
    invalid = detail.get("ctx", {}).get("error")
    if not isinstance(invalid, _Invalid):    # not raised by our checks; pydantic's text never holds the input
        return _line(dotted, source, f"the value given is invalid ({detail['msg']})", _example(dotted, source))
    example = _example(dotted, source, invalid.example) if invalid.show_example else None
    return _line(dotted, source, invalid.what, example)


def _example(dotted: str, source: _Source, value: str | None = None) -> str:
    """A valid setting of `dotted` as written in `source`: the given value, else the key's example."""
    return source.example(dotted, value or _EXAMPLES.get(dotted, "120"))   # only waits lack an example


def _target_of(merged: dict[str, _Given], parsed: dict[str, Any]) -> str:
    return parsed.get("target") or ("live" if "proxmox.host" in merged else "lab")


def _pair_problems(merged: dict[str, _Given]) -> list[str]:
    pairs = [("proxmox.username", "proxmox.password"), ("proxmox.token_id", "proxmox.token_secret")]
    pairs += [(f"proxmox.identities.{name}.token_id", f"proxmox.identities.{name}.token_secret")
              for name in Identities.model_fields]
    problems = []
    for first, second in pairs:
        for present, missing in ((first, second), (second, first)):
            if present in merged and missing not in merged:
                source = merged[present].source
                required = SETTING_KEYS[missing] if source.style == "env" else missing
                problems.append(f"{missing}: missing; {source.name(present)} is set, so {required} is required")
    return problems


def _live_problems(merged: dict[str, _Given]) -> list[str]:
    problems = []
    if "proxmox.host" not in merged:
        problems.append("proxmox.host: missing; the target is live, so PROXMOX_HOST is required; "
                        f"e.g. PROXMOX_HOST={_EXAMPLES['proxmox.host']}")
    credentials = ("proxmox.username", "proxmox.password", "proxmox.token_id", "proxmox.token_secret")
    if not any(key in merged for key in credentials):
        problems.append("proxmox.token_id: missing; the target is live, so PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET "
                        "(or PROXMOX_USERNAME and PROXMOX_PASSWORD) are required")
    return problems


def _wait_problems(merged: dict[str, _Given], parsed: dict[str, Any]) -> list[str]:
    problems = []
    for dotted, given in merged.items():
        sla_key = _SLA_OF_WAIT.get(dotted.rpartition("/")[2]) if dotted.startswith("waits.") else None
        if sla_key is None or dotted not in parsed:
            continue
        if sla_key in merged:
            if sla_key not in parsed:      # already reported as invalid
                continue
            sla, sla_where = parsed[sla_key], merged[sla_key].source.where(sla_key)
        else:
            sla, sla_where = _lookup(Settings(), sla_key), "default"
        if parsed[dotted] <= sla:
            what = f"{parsed[dotted]:g} s is not above {sla_key} ({sla:g} s, {sla_where}); a wait that times an SLA " \
                   "must outlast it"
            problems.append(_line(dotted, given.source, what, _example(dotted, given.source, f"{2 * sla:g}")))
    return problems


def _nested(parsed: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {"waits": {}}
    for dotted, value in parsed.items():
        if dotted.startswith("waits."):
            tree["waits"][dotted.removeprefix("waits.")] = value
            continue
        *sections, leaf = dotted.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return tree


def _ordered(merged: dict[str, _Given]) -> dict[str, _Given]:
    """Table order, then waits by name, so problem lines come out in a stable order."""
    keys = [dotted for dotted in SETTING_KEYS if dotted in merged]
    return {dotted: merged[dotted] for dotted in keys + sorted(set(merged) - set(keys))}


# --- the public functions -------------------------------------------------------------------------

def resolve_target(*, cli: Mapping[str, str], environ: Mapping[str, str], profile: Path | None) -> str:
    """"lab" or "live": an explicit target wins (cli > environment > profile), else "live" iff proxmox.host is set."""
    merged, problems = _gather(cli, environ, profile, lab=None)
    parsed, target_problems = _parse({"target": merged["target"]} if "target" in merged else {})
    if problems + target_problems:
        raise ConfigError(problems + target_problems)
    return _target_of(merged, parsed)


def load_settings(*, cli: Mapping[str, str], environ: Mapping[str, str], profile: Path | None,
                  lab: Mapping[str, str] | None = None) -> Settings:
    """The settings from cli > lab > environment > profile > defaults; ConfigError listing every problem.

    `cli` keys are dotted keys or environment names; `lab` maps environment names to values, as the lab prints them.
    Only the winning value of a key is checked: a lower layer's value that is overridden is never used.
    """
    merged, problems = _gather(cli, environ, profile, lab)
    merged = _ordered(merged)
    parsed, value_problems = _parse(merged)
    target = _target_of(merged, parsed)
    problems += value_problems + _pair_problems(merged) + _wait_problems(merged, parsed)
    if target == "live":
        problems += _live_problems(merged)
    if problems:
        raise ConfigError(problems)
    return Settings.model_validate({**_nested(parsed), "target": target})
