"""Names and labels of everything the suite creates: qa-<run>-<worker>-<rand>, labelled with the run ID, and
recorded in the run's ledger before it is created."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxqa.ledger import Ledger

RUN_LABEL = "proxqa.io/run"
WORKER_LABEL = "proxqa.io/worker"           # parallel runs: which xdist worker made it
APP_LABEL_PREFIX = "apps.cozystack.io-"     # CozyStack copies an app's labels to its HelmRelease with this prefix
CLUSTER_PREFIX = "kubernetes-"              # CozyStack's name of a Kubernetes app's Cluster: kubernetes-<app>
# A name (or Proxmox tag) the suite made: qa-<run>-<worker>-..., also behind CozyStack's prefix.
_MADE_NAME = re.compile(rf"^(?:{CLUSTER_PREFIX})?qa-(?P<run>[a-z0-9][a-z0-9-]*?)-(?P<worker>w0|gw\d+)-")


def label_value(run_id: str) -> str:
    """The run ID as a valid label value (63 characters, alphanumerics at both ends)."""
    return re.sub(r"[^a-z0-9.-]", "-", run_id.lower())[:63].strip("-.")


def made_by(name: str) -> tuple[str, str] | None:
    """(run label value, worker) of a name or Proxmox tag the suite made (qa-<run>-<worker>-..., or CozyStack's
    kubernetes-qa-... for an app's cluster), else None."""
    match = _MADE_NAME.match(name)
    return (match["run"], match["worker"]) if match else None


@dataclass(frozen=True)
class Names:
    run_id: str
    worker: str = "w0"                      # the xdist worker ("gw1") or "w0" in a serial run
    ledger: Ledger | None = field(default=None, compare=False, repr=False)

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.label_value, WORKER_LABEL: self.worker}

    @property
    def prefix(self) -> str:
        """What every name this worker makes starts with: qa-<run>-<worker>-."""
        return f"qa-{self.label_value}-{self.worker}-"

    @property
    def label_value(self) -> str:
        return label_value(self.run_id)

    @property
    def vm_tag(self) -> str:
        """The Proxmox tag of a VM the suite makes itself (qa-<run>-<worker>-vm); CAPMOX tags the VMs it makes with
        their Cluster's name, which has the same form. The janitor finds VMs by these tags alone."""
        return f"{self.prefix}vm"

    def new(self, what: str) -> str:
        """A fresh DNS-1123 name, unique per call: qa-<run>-<worker>-<what>-<rand>."""
        name = f"{self.prefix}{what}-{secrets.token_hex(3)}"
        return re.sub(r"[^a-z0-9-]", "-", name.lower())[:63].rstrip("-")

    def intend(self, cluster: str, body: dict) -> None:
        """Record in the run's ledger that this object is about to be created on that cluster (call it before the
        create call, so even a run killed during the call leaves a trace); nothing without a ledger."""
        if self.ledger is not None:
            self.ledger.intend(cluster, body, worker=self.worker)

    def intend_vm(self, node: str, vmid: int, name: str) -> None:
        """Record in the run's ledger a VM the suite is about to make itself (clone, restore), tagged vm_tag."""
        if self.ledger is not None:
            self.ledger.intend_vm(node, vmid, name, self.vm_tag, worker=self.worker)
