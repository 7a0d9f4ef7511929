"""Typed records of what the monitoring APIs report; tests get these, never raw dicts."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NEVER = "0001-01-01T00:00:00Z"      # Go's zero time: what the APIs show for "not yet"


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float
    timestamp: float            # seconds since the epoch


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    instance: str
    url: str                    # the scrape URL: what tells two targets apart
    health: str                 # "up", "down", "unknown" (not scraped yet)
    last_error: str
    last_scrape: str            # RFC 3339 as the API gives it; compared only for change

    @property
    def up(self) -> bool:
        return self.health == "up"


@dataclass(frozen=True)
class AlertRule:
    group: str
    name: str
    type: str                   # "alerting" or "recording"
    health: str                 # "ok", "err", "unknown"
    last_error: str
    last_evaluation: str        # RFC 3339; NEVER before the first evaluation

    @property
    def evaluated(self) -> bool:
        return not self.last_evaluation.startswith(NEVER[:10])


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[AlertRule, ...]


@dataclass(frozen=True)
class GrafanaHealth:
    status: int                 # HTTP status of /api/health (503 when its database fails)
    database: str               # "ok" when healthy
    version: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.database == "ok"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder: str


@dataclass(frozen=True)
class NodeUp:
    node: str
    value: float                # pve_up: 1 up, 0 down
    scraped_at: float           # timestamp of the newest sample


@dataclass(frozen=True)
class ErrorRatio:
    errors: float               # increase of proxmox_api_request_errors_total over the window
    requests: float             # increase of proxmox_api_requests_total over the window

    @property
    def percent(self) -> float:
        return 100 * self.errors / self.requests


# Where log collectors put the pod's name: CozyStack's fluent-bit lifts it to kubernetes_pod_name; fluent-bit's
# nested record and Vector's kubernetes_logs give kubernetes.pod_name (VictoriaLogs flattens objects with dots).
POD_NAME_FIELDS = ("kubernetes_pod_name", "kubernetes.pod_name")


@dataclass(frozen=True)
class LogEntry:
    message: str                # _msg
    time: str                   # _time, RFC 3339
    fields: Mapping[str, str]   # every other field, _stream included

    @property
    def pod_name(self) -> str | None:
        return next((self.fields[name] for name in POD_NAME_FIELDS if name in self.fields), None)
