"""Capacity: CPU, memory and network headroom on the target nodes."""
import time

import pytest

MIB = 1024 ** 2
RECENT_SECONDS = 600


@pytest.mark.check("S2.7")
def test_s2_7_nodes_have_headroom_for_test_vms(pve, target_nodes, template, settings):
    """Per node CPU and memory below the limits; free memory across the nodes fits PERF_VM_COUNT test VMs."""
    limits = settings.limits
    statuses = {node: pve.node_status(node) for node in target_nodes}
    problems = [f"{node}: CPU {s.cpu_percent:.1f} % above {limits.node_cpu_percent:g} %"
                for node, s in statuses.items() if s.cpu_percent >= limits.node_cpu_percent]
    problems += [f"{node}: memory {s.memory_percent:.1f} % used, above {limits.node_memory_percent:g} %"
                 for node, s in statuses.items() if s.memory_percent >= limits.node_memory_percent]
    assert template is not None, f"template {settings.test.vm_template} not found: the test VM size is unknown"
    vm_mib = int(pve.vm_config(template.node, template.vmid).get("memory") or 512)
    need = settings.perf.vm_count * vm_mib * MIB
    free = sum(s.memory_free for s in statuses.values())
    if free < need:
        problems.append(f"free memory {free / MIB:.0f} MiB across {len(statuses)} nodes does not fit "
                        f"{settings.perf.vm_count} test VMs of {vm_mib} MiB (PERF_VM_COUNT)")
    assert not problems, "; ".join(problems)


@pytest.mark.check("S2.8")
def test_s2_8_recent_traffic_below_link_limit(pve, target_nodes, settings):
    """Recent netin/netout from the node's RRD data stay below the limit share of the configured link speed."""
    speed = settings.test.link_speed_mbit
    if not speed:
        pytest.skip("link speed not configured (TEST_LINK_SPEED_MBIT)")
    limit = settings.limits.bandwidth_percent
    problems = []
    for node in target_nodes:
        recent = [p for p in pve.rrd(node) if p.time >= time.time() - RECENT_SECONDS]
        assert recent, f"{node}: no RRD data in the last {RECENT_SECONDS} s (GET /nodes/{node}/rrddata)"
        peak = max(max(p.netin, p.netout) for p in recent) * 8 / 1e6
        if peak / speed * 100 >= limit:
            problems.append(f"{node}: traffic peaked at {peak:.0f} Mbit/s, {peak / speed * 100:.0f} % of the "
                            f"{speed} Mbit/s link, limit {limit:g} %")
    assert not problems, "; ".join(problems)
