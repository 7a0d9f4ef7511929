"""Utilisation over the window: Proxmox node CPU and memory from the metrics backend."""
import pytest

from proxqa.monitoring.proxmox import window_text


@pytest.mark.check("S7.8")
def test_s7_8_node_cpu_and_memory_below_limits_over_the_window(proxmox_series, target_nodes, settings):
    """Per target node, CPU (pve_cpu_usage_ratio) and memory (pve_memory_usage_bytes over pve_memory_size_bytes),
    averaged over the window, stay below the limits.

    Measured: the node series of prometheus-pve-exporter's cluster collector. Not measured: disk I/O and network,
    for which the exporter has no node series (its disk and network series are per guest); S2.8 checks node
    traffic from Proxmox's RRD data instead."""
    window, limits = settings.monitoring.window, settings.limits
    over = f"on average over {window_text(window)}"
    cpu, memory = proxmox_series.node_cpu_percent(window), proxmox_series.node_memory_percent(window)
    problems = [f"{node}: no CPU or memory series {over} (id node/{node}; an offline node reports none)"
                for node in target_nodes if node not in cpu or node not in memory]
    problems += [f"{node}: CPU {cpu[node]:.1f} % {over}, above {limits.node_cpu_percent:g} %"
                 for node in target_nodes if cpu.get(node, 0) >= limits.node_cpu_percent]
    problems += [f"{node}: memory {memory[node]:.1f} % used {over}, above {limits.node_memory_percent:g} %"
                 for node in target_nodes if memory.get(node, 0) >= limits.node_memory_percent]
    assert not problems, "; ".join(problems)
