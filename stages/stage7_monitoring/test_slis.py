"""Derived SLIs: the Proxmox API error rate and the nodes' uptime over the window."""
import pytest

from proxqa.monitoring.proxmox import window_text


@pytest.mark.check("S7.4")
def test_s7_4_proxmox_api_error_rate_below_sla(proxmox_series, settings, sla):
    """Failed over all Proxmox API requests of the CSI and CCM plugins (increase of
    proxmox_api_request_errors_total over proxmox_api_requests_total across the window) stays below the SLA."""
    window = settings.monitoring.window
    ratio = proxmox_series.api_error_ratio(window)
    assert ratio.requests > 0, (f"no Proxmox API requests counted over {window_text(window)}: "
                                "proxmox_api_requests_total did not increase")
    sla.expect("proxmox-api-error-rate", ratio.percent, threshold="error_rate", unit="%",
               detail=f"{ratio.errors:.0f} of {ratio.requests:.0f} requests failed over {window_text(window)}")


@pytest.mark.check("S7.4")
def test_s7_4_node_uptime_above_sla(proxmox_series, target_nodes, settings, sla):
    """Each target node's uptime, avg_over_time(pve_up[window]), stays above the availability SLA; every node
    is a row of the SLA table."""
    window = settings.monitoring.window
    uptime = proxmox_series.node_uptime(window)
    missing = [node for node in target_nodes if node not in uptime]
    assert not missing, f"no pve_up samples over {window_text(window)} for {', '.join(missing)}"
    # Nodes within the SLA first, then the breaching ones worst first: all reach the table, the breach names the worst.
    for node in sorted(target_nodes, key=lambda n: (uptime[n] <= settings.sla.availability, uptime[n])):
        sla.expect(f"pve-node-uptime {node}", uptime[node], threshold="availability", unit="%", comparison=">",
                   detail=f"avg_over_time(pve_up[{window_text(window)}])")
