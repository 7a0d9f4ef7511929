"""Bridge: the VM bridge on every target node."""
import pytest


@pytest.mark.check("S2.1")
def test_s2_1_bridge_active_on_every_node(pve, target_nodes, settings):
    """The bridge exists on every target node, is a bridge and active; VLAN-aware when a VLAN tag is configured."""
    bridge, tag = settings.test.network_bridge, settings.test.vlan_tag
    problems = []
    for node in target_nodes:
        iface = next((i for i in pve.network(node) if i.name == bridge), None)
        if iface is None:
            problems.append(f"{node}: no interface {bridge}")
        elif iface.type != "bridge":
            problems.append(f"{node}: {bridge} is of type {iface.type}, not bridge")
        elif not iface.active:
            problems.append(f"{node}: {bridge} is not active")
        elif tag is not None and not iface.vlan_aware:
            problems.append(f"{node}: {bridge} is not VLAN aware (bridge_vlan_aware=0) but VLAN tag {tag} is "
                            f"configured")
    assert not problems, "; ".join(problems)
