"""Cluster health: nodes online and quorum."""
import pytest


@pytest.mark.check("S1.8")
def test_s1_8_configured_nodes_online_and_quorate(pve, target_nodes):
    """Every target node is online in /nodes, and /cluster/status is quorate."""
    listed = {n.name: n.status for n in pve.nodes()}
    problems = [f"{node} is not listed in /nodes (listed: {', '.join(sorted(listed))})" for node in target_nodes
                if node not in listed]
    problems += [f"{node} is {listed[node]}" for node in target_nodes if listed.get(node, "online") != "online"]
    cluster = pve.cluster_status()
    if not cluster.quorate:
        problems.append("cluster has no quorum (/cluster/status quorate=0)")
    assert not problems, "cluster unhealthy: " + "; ".join(problems)
