"""Typed records of what the Proxmox API reports; tests get these, never raw dicts."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PveVersion:
    version: str                # "9.0.10"
    release: str                # "9.0"

    @property
    def major_minor(self) -> tuple[int, int]:
        parts = (self.release or self.version).split(".")
        return int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


@dataclass(frozen=True)
class NodeInfo:
    name: str
    status: str                 # "online", "offline", "unknown"


@dataclass(frozen=True)
class ClusterStatus:
    clustered: bool             # False on a stand-alone node (no cluster entry)
    quorate: bool
    online: dict[str, bool]     # node name -> online


@dataclass(frozen=True)
class NetworkInterface:
    name: str
    type: str                   # "bridge", "eth", "bond", "vlan", ...
    active: bool
    vlan_aware: bool


@dataclass(frozen=True)
class SdnZone:
    name: str
    type: str
    bridge: str | None


@dataclass(frozen=True)
class SdnVnet:
    name: str
    zone: str
    tag: int | None


@dataclass(frozen=True)
class StorageStatus:
    name: str
    type: str
    content: frozenset[str]
    enabled: bool
    active: bool
    total: int                  # bytes
    used: int
    avail: int

    @property
    def used_percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0


@dataclass(frozen=True)
class VmResource:
    vmid: int
    name: str
    node: str
    status: str
    template: bool


def template_named(vms: list[VmResource], wanted: str | None) -> VmResource | None:
    """The template among the VMs whose VMID or name is `wanted` (TEST_VM_TEMPLATE); None when there is none."""
    return next((vm for vm in vms if vm.template and wanted in (str(vm.vmid), vm.name)), None) if wanted else None


@dataclass(frozen=True)
class NodeStatus:
    cpu_percent: float
    memory_total: int           # bytes
    memory_used: int

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_used / self.memory_total if self.memory_total else 0.0

    @property
    def memory_free(self) -> int:
        return self.memory_total - self.memory_used


@dataclass(frozen=True)
class RrdPoint:
    time: int
    netin: float                # bytes per second
    netout: float


@dataclass(frozen=True)
class VmConfig:
    vmid: int
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def cdrom_isos(self) -> list[str]:
        """Volume IDs of the ISO images attached as CD-ROM drives (CAPMOX's cloud-init ISO among them)."""
        return [value.split(",")[0] for value in self.values.values() if "media=cdrom" in value and ":iso/" in value]
