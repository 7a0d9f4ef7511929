"""What runs of the suite left behind, found by the suite's marks alone: Kubernetes objects of every served kind that
carry the run label (and the HelmReleases CozyStack makes for such apps, which carry a prefixed copy of it), Proxmox
VMs that carry a run's tag, Proxmox volumes named after a run, and backups whose notes start with a run's mark. S8.10, the run's own teardown and the janitor
all list through here; nothing without a mark is ever listed.
"""
from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import EagerDiscoverer
from kubernetes.dynamic.resource import ResourceList

from proxqa import cozystack
from proxqa.kube.client import KubeClient, KubeError, kube_call
from proxqa.naming import APP_LABEL_PREFIX, RUN_LABEL, WORKER_LABEL, made_by
from proxqa.pve.client import PveClient
from proxqa.pve.errors import PveError

HELM_RELEASE = ("helm.toolkit.fluxcd.io", "HelmRelease")
# (API group, kind) of what the suite makes that is itself a cluster -> (Secret name, key) of its kubeconfig, where
# Cluster API and CozyStack keep it; "{name}" is the object's name.
TENANT_KUBECONFIGS = {
    ("cluster.x-k8s.io", "Cluster"): ("{name}-kubeconfig", "value"),
    ("apps.cozystack.io", "Kubernetes"): (cozystack.ADMIN_KUBECONFIG_SECRET, cozystack.ADMIN_KUBECONFIG_KEY),
}
CLOUD_INIT_ISO = "user-data-{vmid}.iso"     # the name CAPMOX gives the cloud-init ISO of a VM


def run_selector(run: str | None = None, worker: str | None = None, prefix: str = "") -> str:
    """A label selector for the objects of that run (and worker), or of any run of the suite."""
    parts = [f"{prefix}{RUN_LABEL}" + (f"={run}" if run else "")]
    if worker:
        parts.append(f"{prefix}{WORKER_LABEL}={worker}")
    return ",".join(parts)


# --------------------------------------------------------------------------- Kubernetes

@dataclass(frozen=True)
class KubeObject:
    """A run-labelled object as listed."""
    api_version: str
    kind: str
    name: str
    namespace: str | None
    run: str
    worker: str
    uid: str
    created: datetime.datetime | None
    owners: tuple[tuple[str, str, str, str], ...]   # (apiVersion, kind, name, uid) of its ownerReferences
    deleting: bool                                  # deletionTimestamp set: the API is deleting it
    state: str                                      # phase, Ready condition, finalizers: for diagnostics

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def _created(meta: dict) -> datetime.datetime | None:
    stamp = meta.get("creationTimestamp")
    if isinstance(stamp, datetime.datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _state(obj: dict) -> str:
    meta, status = obj["metadata"], obj.get("status") or {}
    parts = [f"phase {status['phase']}"] if isinstance(status, dict) and status.get("phase") else []
    conditions = status.get("conditions") if isinstance(status, dict) else None
    parts += [f"{c.get('type')}={c.get('status')} {c.get('reason') or ''}".rstrip()
              for c in conditions or [] if isinstance(c, dict) and c.get("type") == "Ready"]
    if meta.get("deletionTimestamp"):
        parts.append(f"deleting since {meta['deletionTimestamp']}")
    if meta.get("finalizers"):
        parts.append("finalizers " + ", ".join(meta["finalizers"]))
    return "; ".join(parts) or "no status"


def kube_object(obj: dict, api_version: str, kind: str) -> KubeObject:
    """The listed object (a plain dict as the API gave it) as a KubeObject; its run from either form of the label."""
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    run = labels.get(RUN_LABEL) or labels.get(APP_LABEL_PREFIX + RUN_LABEL, "")
    worker = labels.get(WORKER_LABEL) or labels.get(APP_LABEL_PREFIX + WORKER_LABEL, "")
    owners = tuple((o.get("apiVersion", ""), o.get("kind", ""), o.get("name", ""), o.get("uid", ""))
                   for o in meta.get("ownerReferences") or [])
    return KubeObject(api_version, kind, meta["name"], meta.get("namespace"), run, worker, meta.get("uid", ""),
                      _created(meta), owners, bool(meta.get("deletionTimestamp")), _state(obj))


class ClusterLeftovers:
    """One Kubernetes cluster: its run-labelled objects of every kind it serves, and deleting them."""

    def __init__(self, kube: KubeClient):
        self.kube, self.name = kube, kube.name
        self._kinds: list[Any] | None = None

    def _listable(self) -> list[Any]:
        """Every kind the cluster serves that can be listed, once per (group, kind), in its preferred version;
        discovered afresh (a cached discovery could miss a kind added since)."""
        if self._kinds is None:
            with tempfile.TemporaryDirectory() as cache:
                dynamic = kube_call(lambda: DynamicClient(self.kube.api, cache_file=os.path.join(cache, "discovery"),
                                                          discoverer=EagerDiscoverer), verb="GET", kind="discovery")
                found = [r for r in dynamic.resources.search()
                         if not isinstance(r, ResourceList) and "list" in (r.verbs or [])]
            chosen: dict[tuple[str, str], Any] = {}
            for resource in sorted(found, key=lambda r: not r.preferred):
                chosen.setdefault((resource.group, resource.kind), resource)
            self._kinds = list(chosen.values())
        return self._kinds

    def labelled(self, run: str | None = None, worker: str | None = None) -> list[KubeObject]:
        """Every object with the label of that run (and worker), or of any run, in every namespace."""
        found = []
        for resource in self._listable():
            prefix = APP_LABEL_PREFIX if (resource.group, resource.kind) == HELM_RELEASE else ""
            selector = run_selector(run, worker, prefix)
            try:
                listed = kube_call(lambda: resource.get(label_selector=selector).to_dict(), verb="LIST",
                                   kind=resource.kind, name=selector)
            except KubeError as exc:
                if exc.code == 404:
                    continue    # no longer served (its CRD went since discovery)
                raise
            found += [kube_object(obj, resource.group_version, resource.kind) for obj in listed.get("items") or []]
        return found

    def exists(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        try:
            return self.kube.get(api_version, kind, name, namespace) is not None
        except KubeError as exc:
            if exc.code == 404:
                return False    # the kind itself is no longer served (its CRD went)
            raise

    def delete(self, obj: KubeObject) -> None:
        self.kube.delete(obj.api_version, obj.kind, obj.name, obj.namespace)

    def tenant_kubeconfigs(self, objects: list[KubeObject]) -> list[tuple[str, str]]:
        """(title, kubeconfig text) of the clusters these objects are (Cluster API Clusters, CozyStack Kubernetes
        apps) whose kubeconfig Secret exists; held in memory only, never shown."""
        found = []
        for obj in objects:
            where = TENANT_KUBECONFIGS.get((obj.group, obj.kind))
            if where is None or obj.namespace is None:
                continue
            secret, key = where[0].format(name=obj.name), where[1]
            try:
                data = self.kube.secret_data(obj.namespace, secret)
            except KubeError as exc:
                if exc.code == 404:
                    continue    # not provisioned yet, or gone: nothing can have been made inside
                raise
            if key in data:
                found.append((f"tenant cluster of {obj.kind} {obj.namespace}/{obj.name}", data[key]))
        return found


def api_server(kubeconfig: str) -> str:
    """The API server address a kubeconfig's current context points at (tells apart tenant clusters)."""
    config = yaml.safe_load(kubeconfig) or {}
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    cluster_name = contexts.get(config.get("current-context"), {}).get("cluster")
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    chosen = clusters.get(cluster_name) or next(iter(clusters.values()), {})
    return str(chosen.get("server", ""))


# --------------------------------------------------------------------------- Proxmox

@dataclass(frozen=True)
class RunVm:
    """A VM that carries a run's tag (CAPMOX tags each VM with its Cluster's name, qa-<run>-<worker>-...)."""
    vmid: int
    name: str
    node: str
    status: str
    run: str
    worker: str
    isos: tuple[str, ...]       # volids of its own cloud-init ISO (user-data-<vmid>.iso), attached as CD-ROM

    def __str__(self) -> str:
        return f"VM {self.vmid} {self.name} on {self.node} ({self.status})"


@dataclass(frozen=True)
class RunVolume:
    """A volume (ISO image, disk) whose name starts like the names of a run: qa-<run>-<worker>-..."""
    node: str
    storage: str
    content: str                # iso, images, ...
    volid: str
    run: str
    worker: str

    def __str__(self) -> str:
        return f"volume {self.volid} on {self.node}"


def run_vms(pve: PveClient, run: str | None = None, worker: str | None = None) -> list[RunVm]:
    """The VMs with a tag of that run (and worker), or of any run; never a template."""
    found = []
    for vm, tags in pve.tagged_vms():
        marks = [mark for mark in map(made_by, sorted(tags)) if mark and (run is None or mark[0] == run)
                 and (worker is None or mark[1] == worker)]
        if marks and not vm.template:
            isos = _cloud_init_isos(pve, vm.node, vm.vmid)
            found.append(RunVm(vm.vmid, vm.name, vm.node, vm.status, *marks[0], isos))
    return found


def _cloud_init_isos(pve: PveClient, node: str, vmid: int) -> tuple[str, ...]:
    """The VM's own cloud-init ISO if attached; none when the VM went in the meantime."""
    try:
        attached = pve.vm_config(node, vmid).cdrom_isos()
    except PveError:
        return ()
    return tuple(volid for volid in attached if volid.rpartition("/")[2] == CLOUD_INIT_ISO.format(vmid=vmid))


def run_backups(pve: PveClient, run: str | None = None, worker: str | None = None) -> list[RunVolume]:
    """Backups whose notes start with a run's (and worker's) mark, or any run's: vzdump names a backup after its VM,
    so the suite writes the VM's tag (qa-<run>-<worker>-vm) first in the notes."""
    found = []
    for node in (n.name for n in pve.nodes() if n.status == "online"):
        for storage in (s for s in pve.storages(node) if s.active and "backup" in s.content):
            for volid, notes in pve.backup_notes(node, storage.name).items():
                mark = made_by(notes.split(" ", 1)[0])
                if mark and (run is None or mark[0] == run) and (worker is None or mark[1] == worker):
                    found.append(RunVolume(node, storage.name, "backup", volid, *mark))
    return found


def run_volumes(pve: PveClient, run: str | None = None, worker: str | None = None) -> list[RunVolume]:
    """Volumes named like that run's (and worker's) objects, or any run's, on every online node's active storages."""
    found = []
    for node in (n.name for n in pve.nodes() if n.status == "online"):
        for storage in (s for s in pve.storages(node) if s.active):
            for content in sorted(storage.content):
                for volid in pve.storage_volumes(node, storage.name, content):
                    mark = made_by(volid.partition(":")[2].rpartition("/")[2])
                    if mark and (run is None or mark[0] == run) and (worker is None or mark[1] == worker):
                        found.append(RunVolume(node, storage.name, content, volid, *mark))
    return found
