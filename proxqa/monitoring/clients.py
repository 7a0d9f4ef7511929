"""One client per monitoring API: paths and field names live here, answers become records."""
from __future__ import annotations

from typing import Any

from proxqa.monitoring.http import JsonApi, MonitoringError
from proxqa.monitoring.records import (AlertRule, Dashboard, GrafanaHealth, LogEntry, RuleGroup, Sample,
                                       ScrapeTarget)
from proxqa.waits import Deadline, wait_for


def _data(api: JsonApi, path: str, params: dict[str, str] | None = None) -> Any:
    """The `data` of a Prometheus-style answer ({"status": "success", "data": ...})."""
    status, answer = api.get(path, params)
    if not isinstance(answer, dict) or answer.get("status") != "success" or "data" not in answer:
        raise MonitoringError(f"{api.endpoint.api} GET {api.endpoint.url}{path}", status,
                              f"not a Prometheus API answer: {str(answer)[:300]}")
    return answer["data"]


class MetricsClient:
    """The Prometheus-compatible query API: vmselect (.../select/0/prometheus) or single-node VictoriaMetrics."""

    def __init__(self, api: JsonApi):
        self._api = api

    def __repr__(self) -> str:
        return str(self._api.endpoint)

    def query(self, expression: str) -> list[Sample]:
        """The instant value of a MetricsQL/PromQL expression now: one Sample per series (a scalar is one too)."""
        data = _data(self._api, "/api/v1/query", {"query": expression})
        if data.get("resultType") == "scalar":
            timestamp, value = data["result"]
            return [Sample({}, float(value), float(timestamp))]
        return [Sample(item["metric"], float(item["value"][1]), float(item["value"][0])) for item in data["result"]]

    def server_time(self) -> float:
        """The query API's own clock (time()), so freshness needs no agreement between clocks."""
        return self.query("time()")[0].value

    def wait_series(self, expression: str, deadline: Deadline) -> list[Sample]:
        """The expression's series once there is at least one (a just-started agent has scraped nothing yet)."""
        return wait_for(f"series of {expression} in the {self}", lambda: self.query(expression), done=bool,
                        deadline=deadline)


class ScrapeTargetsClient:
    """Where /api/v1/targets lists the scrape targets: vmagent (or a Prometheus server)."""

    def __init__(self, api: JsonApi):
        self._api = api

    def __repr__(self) -> str:
        return str(self._api.endpoint)

    def targets(self) -> list[ScrapeTarget]:
        return [ScrapeTarget(job=t["labels"].get("job", ""), instance=t["labels"].get("instance", ""),
                             url=t.get("scrapeUrl", ""), health=t.get("health", "unknown"),
                             last_error=t.get("lastError", ""), last_scrape=t.get("lastScrape", ""))
                for t in _data(self._api, "/api/v1/targets")["activeTargets"]]

    def wait_scraped_again(self, deadline: Deadline) -> list[ScrapeTarget]:
        """The targets once each has been scraped after this call began, so every health is current;
        [] at once when none is listed."""
        first = {target.url: target.last_scrape for target in self.targets()}
        return wait_for(f"every target of the {self} scraped again", self.targets,
                        done=lambda targets: all(t.health != "unknown" and first.get(t.url) != t.last_scrape
                                                 for t in targets),
                        show=lambda targets: ", ".join(f"{t.job} {t.instance} {t.health} at {t.last_scrape}"
                                                       for t in targets),
                        deadline=deadline)


def wait_targets_stored(metrics: MetricsClient, targets: ScrapeTargetsClient | None, deadline: Deadline) -> None:
    """Until the query API holds an `up` series of every target the agent has scraped (without a target list, any
    `up` series): the first samples of a just-started agent take a scrape or two to become queryable."""
    def missing() -> list[str]:
        stored = {(s.labels.get("job"), s.labels.get("instance")) for s in metrics.query("up")}
        if targets is None:
            return [] if stored else ["any target"]
        scraped = [t for t in targets.targets() if t.health != "unknown"]
        return [f"{t.job} {t.instance}" for t in scraped if (t.job, t.instance) not in stored] or (
            [] if scraped else ["any target"])

    wait_for(f"the `up` series of every scrape target in the {metrics}", missing, done=lambda absent: not absent,
             show=lambda absent: "missing " + ", ".join(absent), deadline=deadline)


class AlertRulesClient:
    """The alert engine's rules API: vmalert's /api/v1/rules (Prometheus answers it the same way)."""

    def __init__(self, api: JsonApi):
        self._api = api

    def __repr__(self) -> str:
        return str(self._api.endpoint)

    def groups(self) -> list[RuleGroup]:
        return [RuleGroup(group["name"], tuple(
                    AlertRule(group=group["name"], name=rule["name"], type=rule.get("type", ""),
                              health=rule.get("health", "unknown"), last_error=rule.get("lastError", ""),
                              last_evaluation=rule.get("lastEvaluation", "")) for rule in group.get("rules", [])))
                for group in _data(self._api, "/api/v1/rules")["groups"]]

    def wait_evaluated(self, deadline: Deadline) -> list[RuleGroup]:
        """The rule groups once every rule has been evaluated at least once (a rule loaded a moment ago has no
        health yet); [] at once when none is loaded."""
        return wait_for(f"every rule of the {self} evaluated", self.groups,
                        done=lambda groups: all(rule.evaluated for group in groups for rule in group.rules),
                        show=lambda groups: ", ".join(f"{r.group}/{r.name} {r.health} at {r.last_evaluation}"
                                                      for g in groups for r in g.rules if not r.evaluated),
                        deadline=deadline)


class GrafanaClient:
    """Grafana's HTTP API: health and dashboard search."""

    def __init__(self, api: JsonApi):
        self._api = api

    def __repr__(self) -> str:
        return str(self._api.endpoint)

    def health(self) -> GrafanaHealth:
        """GET /api/health; a 503 is an answer too: Grafana says so when its database fails."""
        status, body = self._api.get("/api/health", answers=(200, 503))
        return GrafanaHealth(status, str(body.get("database", "")), str(body.get("version", "")))

    def dashboards(self) -> list[Dashboard]:
        _, hits = self._api.get("/api/search", {"type": "dash-db"})
        return [Dashboard(hit.get("uid", ""), hit.get("title", ""), hit.get("folderTitle", "General")) for hit in hits]


class LogsClient:
    """VictoriaLogs' LogsQL query API (vlselect or single-node VictoriaLogs): one JSON entry per line."""

    def __init__(self, api: JsonApi):
        self._api = api

    def __repr__(self) -> str:
        return str(self._api.endpoint)

    def query(self, logsql: str, limit: int = 100) -> list[LogEntry]:
        """The entries matching a LogsQL query (the newest `limit`)."""
        return [LogEntry(str(entry.get("_msg", "")), str(entry.get("_time", "")),
                         {name: str(value) for name, value in entry.items() if name not in ("_msg", "_time")})
                for entry in self._api.get_lines("/select/logsql/query", {"query": logsql, "limit": str(limit)})]

    def wait_entries(self, logsql: str, deadline: Deadline) -> list[LogEntry]:
        """The query's entries once there is at least one: a collector ships lines a moment after they are
        written."""
        return wait_for(f"log entries matching {logsql} in the {self}", lambda: self.query(logsql), done=bool,
                        deadline=deadline, show=lambda entries: "none yet")
