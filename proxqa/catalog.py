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
