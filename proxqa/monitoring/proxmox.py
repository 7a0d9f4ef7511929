"""The Proxmox series in the metrics backend, by node name: prometheus-pve-exporter's (`pve_*`, labelled
`id="node/<name>"`) and the CSI and CCM plugins' Proxmox API call series (`proxmox_api_*`)."""
from __future__ import annotations

from proxqa.monitoring.clients import MetricsClient
from proxqa.monitoring.records import ErrorRatio, NodeUp, Sample
from proxqa.waits import Deadline, wait_for

NODES = 'id=~"node/.+"'


def window_text(seconds: float) -> str:
    """A window as MetricsQL and people write it: 600 -> "10m", 90 -> "90s", 0.5 -> "500ms"."""
    milliseconds = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def _by_node(samples: list[Sample]) -> dict[str, float]:
    return {sample.labels["id"].removeprefix("node/"): sample.value for sample in samples}


class ProxmoxSeries:
    def __init__(self, metrics: MetricsClient):
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"ProxmoxSeries({self._metrics!r})"

    def _values(self, expression: str) -> dict[str, float]:
        return _by_node(self._metrics.query(expression))

    def _single(self, expression: str) -> float:
        """The value of an expression with one series, 0.0 when it has none."""
        samples = self._metrics.query(expression)
        return samples[0].value if samples else 0.0

    # --------------------------------------------------------------- pve_up

    def node_up(self) -> dict[str, NodeUp]:
        """node -> pve_up now (the lowest when several exporters report the node) and when it was last scraped."""
        values = self._values(f"min by (id) (pve_up{{{NODES}}})")
        scraped = self._values(f"max by (id) (timestamp(pve_up{{{NODES}}}))")
        return {node: NodeUp(node, value, scraped.get(node, 0.0)) for node, value in values.items()}

    def wait_fresh_node_up(self, deadline: Deadline) -> dict[str, NodeUp]:
        """node_up() once every node's pve_up comes from a scrape after this call began, so a node that went down
        a moment ago shows as down; {} once no pve_up series is left (no exporter is scraped)."""
        since = self._metrics.server_time()
        return wait_for("pve_up of every node from a scrape after the check began", self.node_up,
                        done=lambda nodes: all(n.scraped_at > since for n in nodes.values()),
                        show=lambda nodes: ", ".join(f"{n.node} {n.value:g} at {n.scraped_at:.3f} (wanted after "
                                                     f"{since:.3f})" for n in nodes.values()),
                        deadline=deadline)

    def node_uptime(self, window: float) -> dict[str, float]:
        """node -> percent of pve_up samples that were 1 over the window: avg_over_time(pve_up[window])."""
        expression = f"100 * min by (id) (avg_over_time(pve_up{{{NODES}}}[{window_text(window)}]))"
        return self._values(expression)

    # ---------------------------------------------------------- utilisation

    def node_cpu_percent(self, window: float) -> dict[str, float]:
        """node -> CPU use averaged over the window (pve_cpu_usage_ratio: the share of all its cores)."""
        return self._values(f"100 * max by (id) (avg_over_time(pve_cpu_usage_ratio{{{NODES}}}"
                            f"[{window_text(window)}]))")

    def node_memory_percent(self, window: float) -> dict[str, float]:
        """node -> memory used averaged over the window (pve_memory_usage_bytes over pve_memory_size_bytes)."""
        span = window_text(window)
        return self._values(f"100 * max by (id) (avg_over_time(pve_memory_usage_bytes{{{NODES}}}[{span}]) "
                            f"/ avg_over_time(pve_memory_size_bytes{{{NODES}}}[{span}]))")

    # ------------------------------------------------- CSI and CCM API calls

    def api_request_series(self) -> dict[str, int]:
        """job -> how many proxmox_api_request_duration_seconds histograms (one per request and method) it has."""
        samples = self._metrics.query("count by (job) (proxmox_api_request_duration_seconds_count)")
        return {sample.labels.get("job", ""): int(sample.value) for sample in samples}

    def api_error_ratio(self, window: float) -> ErrorRatio:
        """Failed and all Proxmox API requests of the CSI and CCM plugins: their increase over the window."""
        span = window_text(window)
        return ErrorRatio(errors=self._single(f"sum(increase(proxmox_api_request_errors_total[{span}]))"),
                          requests=self._single(f"sum(increase(proxmox_api_requests_total[{span}]))"))
