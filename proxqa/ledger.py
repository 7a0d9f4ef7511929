"""The run's ledger: reports/<run>/ledger.jsonl, one JSON line per object the suite is about to create, written
before the create call, so a run killed at any moment leaves a record of what it may have left behind.

Append-only and safe with xdist workers: each record is one write() to a file opened with O_APPEND, which the
kernel appends as a whole at the current end. The ledger is a hint for people and for the janitor (which runs died,
with what); what the janitor deletes is decided by the run's labels and tags alone.
"""
from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path

from proxqa.naming import CLUSTER_PREFIX

LEDGER_FILE = "ledger.jsonl"
# (API group, kind) of the objects whose controllers make Proxmox VMs -> what the VMs' tag puts before the object's
# name (CAPMOX tags each VM with its Cluster's name; CozyStack names an app's Cluster kubernetes-<app>).
VM_MAKERS = {("cluster.x-k8s.io", "Cluster"): "", ("apps.cozystack.io", "Kubernetes"): CLUSTER_PREFIX}


@dataclass(frozen=True)
class Ledger:
    path: Path
    run_id: str
    pve_cluster: str = ""       # the Proxmox API host of the run's target

    def intend(self, cluster: str, body: dict, *, worker: str) -> None:
        """Record a Kubernetes object about to be created on that cluster (side kube) and, for a Cluster API Cluster
        or a CozyStack Kubernetes app, the Proxmox VMs its controllers will make (side pve, by their tag)."""
        meta = body["metadata"]
        entries = [{**self._common(worker), "side": "kube", "cluster": cluster, "apiVersion": body["apiVersion"],
                    "kind": body["kind"], "namespace": meta.get("namespace"), "name": meta["name"]}]
        tag_prefix = VM_MAKERS.get((body["apiVersion"].rpartition("/")[0], body["kind"]))
        if tag_prefix is not None:
            entries.append({**self._common(worker), "side": "pve", "cluster": self.pve_cluster, "kind": "VM",
                            "tag": tag_prefix + meta["name"], "madeBy": f"{body['kind']} {meta['name']}"})
        self._append(entries)

    def intend_vm(self, node: str, vmid: int, name: str, tag: str, *, worker: str) -> None:
        """Record a VM the suite is about to make on Proxmox itself (side pve)."""
        self._append([{**self._common(worker), "side": "pve", "cluster": self.pve_cluster, "kind": "VM",
                       "node": node, "vmid": vmid, "name": name, "tag": tag}])

    def _common(self, worker: str) -> dict:
        return {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                "run": self.run_id, "worker": worker}

    def _append(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
        finally:
            os.close(fd)
        if written != len(data):
            raise OSError(f"ledger {self.path}: wrote {written} of {len(data)} bytes (disk full?)")


def read_ledger(path: Path) -> list[dict]:
    """The ledger's records, oldest first; none when there is no ledger. A last line cut short (a writer killed
    in the middle, or a full disk) is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
