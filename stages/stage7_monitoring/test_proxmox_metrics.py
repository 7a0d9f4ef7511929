"""Proxmox metrics: the exporter reports every node up, and the CSI and CCM API call series exist."""
import pytest

NO_EXPORTER = ("no pve_up series: no Proxmox exporter is scraped; deploy prometheus-pve-exporter with a read-only "
               "(PVEAuditor) token and add it to vmagent's scrape targets (e.g. a VMServiceScrape or VMStaticScrape)")


@pytest.mark.check("S7.3")
def test_s7_3_pve_up_is_one_for_every_node(proxmox_series, target_nodes, deadline):
    """pve_up (prometheus-pve-exporter) is 1 for every target node, read from a scrape newer than the check's
    start, so a node that went down a moment ago shows as down."""
    nodes = proxmox_series.wait_fresh_node_up(deadline("fresh-metrics"))
    assert nodes, NO_EXPORTER
    problems = [f"{node}: no pve_up series (id node/{node})" for node in target_nodes if node not in nodes]
    problems += [f"{node}: pve_up {nodes[node].value:g}" for node in target_nodes
                 if node in nodes and nodes[node].value != 1]
    assert not problems, "Proxmox nodes not up in the metrics: " + "; ".join(problems)


@pytest.mark.check("S7.3")
def test_s7_3_csi_and_ccm_request_series_exist(proxmox_series, integration_identities):
    """When the settings name the CSI or CCM token, those components run, and their
    proxmox_api_request_duration_seconds histograms are in the metrics backend."""
    running = sorted(set(integration_identities) & {"csi", "ccm"})
    if not running:
        pytest.skip("no CSI or CCM token configured (PROXMOX_CSI_TOKEN_ID, PROXMOX_CCM_TOKEN_ID)")
    series = proxmox_series.api_request_series()
    assert series, (f"no proxmox_api_request_duration_seconds series, though the settings name the "
                    f"{' and '.join(running)} tokens: their metrics endpoints are not scraped")
