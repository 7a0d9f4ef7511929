"""Dashboards: Grafana is healthy and has dashboards."""
import pytest


@pytest.mark.check("S7.6")
def test_s7_6_grafana_healthy_with_dashboards(grafana, record_environment):
    """Grafana's /api/health is ok (its database too), and dashboard search lists at least one dashboard."""
    health = grafana.health()
    assert health.ok, f"Grafana is not healthy: HTTP {health.status}, database {health.database!r}"
    record_environment("Grafana version", health.version)
    dashboards = grafana.dashboards()
    assert dashboards, f"{grafana} lists no dashboards (search type=dash-db)"
