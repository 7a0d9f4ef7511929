"""The check catalogue: every check ID of STAGES.md, its title and its prerequisites.

A prerequisite is a group of check IDs of which at least one must not have failed
("S1.4|S1.5" reads "S1.4 or S1.5"). A check whose prerequisite group failed entirely
is reported as blocked instead of being run into time-outs.
"""
from __future__ import annotations

from dataclasses import dataclass

STAGES: dict[int, str] = {
    1: "Proxmox API connection",
    2: "Network and storage configuration",
    3: "VM management via Cluster API",
    4: "Proxmox worker integration",
    5: "CSI storage",
    6: "Network policies",
    7: "Monitoring and logging",
    8: "End to end",
}

PVE_REACHABLE = ("S1.1",)
PVE_READABLE = ("S1.1", "S1.2", "S1.4|S1.5")


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    needs: tuple[str, ...] = ()

    @property
    def stage(self) -> int:
        return stage_of(self.id)


def stage_of(check_id: str) -> int:
    """The stage number of a check ID: ``S2.5`` -> 2."""
    return int(check_id[1:].split(".")[0])


def _checks(*rows: tuple[str, str, tuple[str, ...]]) -> dict[str, Check]:
    return {cid: Check(cid, title, needs) for cid, title, needs in rows}


CHECKS: dict[str, Check] = _checks(
    ("S1.1", "Endpoint reachable over verified TLS", ()),
    ("S1.2", "API version", PVE_REACHABLE),
    ("S1.3", "API latency SLA", ("S1.1", "S1.4|S1.5")),
    ("S1.4", "Password login", PVE_REACHABLE),
    ("S1.5", "API token login", PVE_REACHABLE),
    ("S1.6", "Bad credentials refused", PVE_REACHABLE),
    ("S1.7", "Forged or expired ticket refused", PVE_REACHABLE),
    ("S1.8", "Cluster health", PVE_READABLE),
    ("S1.9", "Privileges per identity", PVE_READABLE),
    ("S2.1", "Bridge", PVE_READABLE),
    ("S2.2", "SDN zones and vnets", PVE_READABLE),
    ("S2.3", "Tenant network isolation", PVE_READABLE),
    ("S2.4", "Storage", PVE_READABLE),
    ("S2.5", "Storage space", PVE_READABLE),
    ("S2.6", "VM template", PVE_READABLE),
    ("S2.7", "Node capacity", PVE_READABLE),
    ("S2.8", "Network bandwidth", PVE_READABLE),
    ("S3.1", "Cluster API installed", ()),
    ("S3.2", "CRDs served", ()),
    ("S3.3", "CAPMOX controller and webhook", ("S3.2",)),
    ("S3.4", "CAPMOX credentials", PVE_READABLE),
    ("S3.5", "CAPMOX and CAPI versions compatible", ("S3.1",)),
    ("S3.6", "VM provisioning SLA", ("S3.3", "S3.4", "S2.6")),
    ("S3.7", "VM lifecycle", ("S3.6",)),
    ("S3.8", "Provisioning error path", ("S3.3",)),
    ("S4.1", "Worker joins", ("S3.6",)),
    ("S4.2", "Worker Ready and schedulable", ("S4.1",)),
    ("S4.3", "Worker identity", ("S4.1",)),
    ("S4.4", "Pod scheduling SLA", ("S4.2",)),
    ("S4.5", "Worker resources", ("S4.2",)),
    ("S4.6", "Node agents", ("S4.1",)),
    ("S5.1", "CSI driver", ()),
    ("S5.2", "StorageClass", ("S5.1",)),
    ("S5.3", "Volume provisioning SLA", ("S5.2",)),
    ("S5.4", "Volume data", ("S5.3",)),
    ("S5.5", "Volume expansion", ("S5.3",)),
    ("S5.6", "Volume snapshots", ("S5.3",)),
    ("S5.7", "Unsupported access mode", ("S5.2",)),
    ("S5.8", "Volume cleanup", ("S5.3",)),
    ("S6.1", "CNI health", ()),
    ("S6.2", "DNS", ("S6.1",)),
    ("S6.3", "Pod networking", ("S6.1",)),
    ("S6.4", "Network policy enforcement", ("S6.3",)),
    ("S6.5", "Tenant isolation", ("S6.3",)),
    ("S6.6", "External access", ("S6.3",)),
    ("S7.1", "Monitoring operators", ()),
    ("S7.2", "Metrics backend and scrape targets", ()),
    ("S7.3", "Proxmox metrics", ("S7.2",)),
    ("S7.4", "Derived SLIs: API error rate and uptime", ("S7.2",)),
    ("S7.5", "Alerting rules", ()),
    ("S7.6", "Dashboards", ()),
    ("S7.7", "Logging", ()),
    ("S7.8", "Utilisation over the window", ("S7.2",)),
    ("S8.1", "Tenant", ()),
    ("S8.2", "Tenant Kubernetes on Proxmox", ("S8.1",)),
    ("S8.3", "Stateful workloads", ("S8.2",)),
    ("S8.4", "Scaling", ("S8.2",)),
    ("S8.5", "Performance at PERF_VM_COUNT", ("S8.2",)),
    ("S8.6", "Fault tolerance", ("S8.2",)),
    ("S8.7", "Backup and restore", ()),
    ("S8.8", "Health gate and version", ()),
    ("S8.9", "Availability over the run", ()),
    ("S8.10", "Nothing left behind", ()),
)


def check(check_id: str) -> Check:
    """The catalogue entry for an ID, or KeyError naming the known IDs of its stage."""
    try:
        return CHECKS[check_id]
    except KeyError:
        known = ", ".join(c for c in CHECKS if c.split(".")[0] == check_id.split(".")[0]) or "none"
        raise KeyError(f"unknown check ID {check_id!r}; known in that stage: {known}") from None


def order_key(check_id: str) -> tuple[int, int]:
    """Sort key that runs checks in stage order, then by number (S1.10 after S1.9)."""
    stage, number = check_id[1:].split(".")
    return int(stage), int(number)
