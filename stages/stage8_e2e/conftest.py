"""Stage 8: one CozyStack Tenant and one Kubernetes app on Proxmox, made once for the stage.

The Tenant is created when the stage starts (S8.1 waits for it); the Kubernetes app once the Tenant's namespace
exists (S8.2 waits for it, S8.4 scales it). Both go when the stage ends, or earlier when S8.10 tears the stage
down to look for leftovers; before the app is deleted the stage notes its VMs and their cloud-init ISOs, so S8.10
can check that Proxmox no longer holds them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from proxqa import cozystack
from proxqa.capi.chain import KINDS, ChainSpec, watched
from proxqa.capi.machines import MachineState, machine_state
from proxqa.config import Settings
from proxqa.diagnostics import Diagnostics
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import Workspace
from proxqa.naming import Names
from proxqa.pve.client import PveClient
from proxqa.safety import skip_if_read_only
from proxqa.waits import Deadline

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
KAMAJI_API = "controlplane.cluster.x-k8s.io/v1alpha1"
WORKERS = 1                                     # the node group's size outside S8.4
MAX_WORKERS = 3


@dataclass(frozen=True)
class WorkerVm:
    """A worker VM of the stage's cluster as Proxmox held it before the stage was torn down."""
    vmid: int
    node: str
    isos: tuple[str, ...]           # volids of ISO images attached as CD-ROM (CAPMOX's cloud-init ISO)


@dataclass(frozen=True)
class TenantCluster:
    """The stage's Kubernetes app and the names CozyStack derives from it."""
    name: str
    namespace: str

    @property
    def cluster(self) -> str:
        """The release, Cluster, KamajiControlPlane and ProxmoxCluster name."""
        return f"kubernetes-{self.name}"

    @property
    def machine_deployment(self) -> str:
        return f"{self.cluster}-{cozystack.NODE_GROUP}"

    @property
    def selector(self) -> str:
        return f"{CLUSTER_NAME_LABEL}={self.cluster}"


class Stage:
    """The stage's objects in one Workspace; their deletions run once, newest first, at S8.10 or at the stage's
    end, whichever comes first."""

    def __init__(self, kube: KubeClient, pve: PveClient, names: Names, delete_deadline: Deadline, keep: bool,
                 diagnostics: Diagnostics):
        self.kube, self._pve = kube, pve
        self._cleanups: list[Callable[[], None]] = []
        self.space = Workspace(kube, names, delete_deadline=delete_deadline, diagnostics=diagnostics,
                               add_cleanup=(lambda _: None) if keep else self._cleanups.append)
        self.tenants: list[str] = []
        self.worker_vms: list[WorkerVm] = []

    def tenant(self) -> str:
        cozystack.require_app_kind(self.kube, "Tenant")
        name = cozystack.tenant_name(self.space.names, "e2e")
        self.space.create(cozystack.tenant(name))
        self.tenants.append(name)
        return name

    def kubernetes(self, namespace: str, workers: cozystack.ProxmoxWorkers, size: cozystack.NodeSize) -> TenantCluster:
        cozystack.require_app_kind(self.kube, "Kubernetes")
        found = TenantCluster(self.space.names.new("k8s"), namespace)
        self.space.create(cozystack.kubernetes_app(found.name, namespace, workers, size, WORKERS, MAX_WORKERS))
        self._cleanups.append(lambda: self._note_worker_vms(found))
        return found

    def _note_worker_vms(self, cluster: TenantCluster) -> None:
        vms = {vm.vmid: vm.node for vm in self._pve.vm_resources()}
        for machine in proxmox_machines(self.kube, cluster):
            if machine.vmid in vms:
                node = vms[machine.vmid]
                isos = tuple(self._pve.vm_config(node, machine.vmid).cdrom_isos())
                self.worker_vms.append(WorkerVm(machine.vmid, node, isos))

    def tear_down(self) -> None:
        """Run the pending deletions (each waits until its object is gone); a failed one leaves the rest pending
        for the next call."""
        while self._cleanups:
            self._cleanups.pop()()


def proxmox_machines(kube: KubeClient, cluster: TenantCluster) -> list[MachineState]:
    raw = kube.custom_objects_labelled(*KINDS["ProxmoxMachine"], cluster.namespace, cluster.selector)
    return [machine_state(m) for m in raw]


def machines(kube: KubeClient, cluster: TenantCluster) -> list[dict]:
    """The cluster's Cluster API Machines, as stored."""
    return kube.custom_objects_labelled(*KINDS["Machine"], cluster.namespace, cluster.selector)


def node_ref(machine: dict) -> str:
    return ((machine.get("status") or {}).get("nodeRef") or {}).get("name", "")


def tenant_kube(kube: KubeClient, cluster: TenantCluster) -> KubeClient:
    """The tenant cluster, from its admin kubeconfig Secret (held in memory, never shown)."""
    secret = cozystack.ADMIN_KUBECONFIG_SECRET.format(name=cluster.name)
    data = kube.secret_data(cluster.namespace, secret)
    key = cozystack.ADMIN_KUBECONFIG_KEY
    assert key in data, f"Secret {cluster.namespace}/{secret} has no key {key}; keys: {', '.join(sorted(data))}"
    return KubeClient(data[key], f"tenant cluster {cluster.cluster}")


def node_condition(node: dict | None) -> str:
    """"Ready=False KubeletNotReady: message", or why there is none."""
    if node is None:
        return "not in the cluster"
    ready = cozystack.condition(node, "Ready")
    return f"{cozystack.shown(ready)}: {ready.get('message', '')}".rstrip(": ")


@dataclass(frozen=True)
class Workers:
    """The node group as seen at one moment."""
    machines: list[dict]
    vms: list[MachineState]

    @property
    def joined(self) -> list[str]:
        """Nodes of Running Machines."""
        return [node_ref(m) for m in self.machines if (m.get("status") or {}).get("phase") == "Running"
                and node_ref(m)]

    def failure(self) -> str | None:
        broken = [f"{vm.name}: {vm.failure}" for vm in self.vms if vm.failure]
        broken += [f"Machine {m['metadata']['name']} phase Failed: {m['status'].get('failureMessage', '')}"
                   for m in self.machines if (m.get("status") or {}).get("phase") == "Failed"]
        return "; ".join(broken) or None

    def __str__(self) -> str:
        shown = [f"Machine {m['metadata']['name']} {(m.get('status') or {}).get('phase', 'no phase')}, nodeRef "
                 f"{node_ref(m) or 'none'}" for m in self.machines]
        shown += [f"{vm.name}: {'ready' if vm.ready else vm.reason or 'no condition'}" for vm in self.vms]
        return "; ".join(shown) or "no Machine yet"


def wait_workers(kube: KubeClient, cluster: TenantCluster, count: int, deadline: Deadline) -> Workers:
    """The node group once it has exactly count ready VMs and count Running Machines with a Node; stops at once
    when a machine or its VM failed."""
    return wait_watching(
        workers_watched(kube, cluster), f"{count} worker(s) of {cluster.cluster} Running with a Node",
        lambda: Workers(machines(kube, cluster), proxmox_machines(kube, cluster)),
        done=lambda w: (len(w.vms) == count and all(vm.ready for vm in w.vms) and len(w.machines) == count
                        and len(w.joined) == count),
        failed=Workers.failure, deadline=deadline, show=str)


def workers_watched(kube: KubeClient, cluster: TenantCluster) -> list[Watched]:
    """Watches on the node group's Machines and ProxmoxMachines."""
    return [watched(kube, kind, cluster.namespace, cluster.selector) for kind in ("Machine", "ProxmoxMachine")]


def stage_deadline(settings: Settings, key: str) -> Deadline:
    """A package fixture's deadline (the `deadline` fixture is per test)."""
    return Deadline(settings.wait_seconds("stage8", key))


@pytest.fixture(scope="package")
def stage(mgmt_kube: KubeClient, pve: PveClient, names: Names, settings: Settings, diagnostics: Diagnostics,
          request: pytest.FixtureRequest) -> Stage:
    skip_if_read_only(settings.read_only, "creates a CozyStack Tenant and a Kubernetes cluster in it")
    made = Stage(mgmt_kube, pve, names, stage_deadline(settings, "delete"), settings.keep_test_resources,
                 diagnostics)
    request.addfinalizer(made.tear_down)
    return made


@pytest.fixture(scope="package")
def stage_tenant(stage: Stage) -> str:
    """The stage's Tenant, created (S8.1 waits for it)."""
    return stage.tenant()


@pytest.fixture(scope="package")
def proxmox_workers(chain_spec: ChainSpec, settings: Settings) -> cozystack.ProxmoxWorkers:
    """The worker VMs' source, network and addresses: the same settings and template the CAPI test VMs use."""
    return cozystack.ProxmoxWorkers(
        source_node=chain_spec.source_node, template_id=chain_spec.template_id, bridge=chain_spec.bridge,
        storage=settings.test.storage_pool, allowed_nodes=chain_spec.allowed_nodes, addresses=chain_spec.ip_range,
        prefix=chain_spec.ip_prefix, gateway=chain_spec.gateway, dns_servers=chain_spec.dns_servers,
        vmid_range=(chain_spec.vmid_start, chain_spec.vmid_end))


@pytest.fixture(scope="package")
def tenant_cluster(stage: Stage, stage_tenant: str, proxmox_workers: cozystack.ProxmoxWorkers,
                   chain_spec: ChainSpec, settings: Settings) -> TenantCluster:
    """The stage's Kubernetes app in the Tenant's namespace, created (S8.2 waits for it). S8.1 proves the Tenant;
    the checks that need the cluster are blocked when it failed."""
    namespace = cozystack.wait_tenant(stage.kube, stage_tenant, stage_deadline(settings, "tenant-ready"))
    size = cozystack.NodeSize(chain_spec.cores, chain_spec.memory_mib, chain_spec.disk_gib)
    return stage.kubernetes(namespace, proxmox_workers, size)
