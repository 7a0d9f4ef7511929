"""CozyStack's apps as the suite makes and reads them: Tenants and Kubernetes apps (apps.cozystack.io), the Flux
HelmReleases they become, and the waits until they are Ready."""
from __future__ import annotations

from dataclasses import dataclass

from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.naming import Names
from proxqa.waits import Deadline

APPS_API = "apps.cozystack.io/v1alpha1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
TENANT_PARENT = "tenant-root"           # a Tenant made here gets namespace tenant-<name>
RELEASE_PREFIX = {"Tenant": "tenant-", "Kubernetes": "kubernetes-"}
APP_PLURALS = {"Tenant": "tenants", "Kubernetes": "kuberneteses"}
NODE_GROUP = "md0"                      # the chart's default node group name
# Where CozyStack keeps a Kubernetes app's admin kubeconfig ("{name}": the app's name), and the key its docs read.
ADMIN_KUBECONFIG_SECRET = "kubernetes-{name}-admin-kubeconfig"
ADMIN_KUBECONFIG_KEY = "super-admin.conf"


def tenant_name(names: Names, what: str) -> str:
    """A fresh Tenant name: lowercase alphanumerics only (the tenant chart refuses dashes), short because it ends
    up in many derived names."""
    return "qa" + what + names.new(what).rsplit("-", 1)[-1]


def tenant(name: str) -> dict:
    """An isolated Tenant in tenant-root."""
    return {"apiVersion": APPS_API, "kind": "Tenant", "metadata": {"name": name, "namespace": TENANT_PARENT},
            "spec": {"isolated": True}}


def tenant_namespace(name: str) -> str:
    return f"tenant-{name}"


def require_app_kind(kube: KubeClient, kind: str) -> None:
    served = kube.served_resources(APPS_API)
    assert APP_PLURALS[kind] in served, (
        f"the cluster does not serve CozyStack's {kind} kind ({APPS_API}): "
        f"{', '.join(sorted(served)) or 'the group/version is not served'}")


def condition(obj: dict | None, kind: str) -> dict:
    """The status condition of that type, or {}."""
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def release_failure(ready: dict) -> str | None:
    """InstallFailed, UpgradeFailed: Helm gave up on the chart; waiting longer cannot help."""
    if ready.get("status") == "False" and ready.get("reason", "").endswith("Failed"):
        return f"{ready['reason']}: {ready.get('message', '')}"
    return None


def shown(ready: dict) -> str:
    return f"Ready={ready.get('status', 'no condition')} {ready.get('reason', '')}".rstrip()


def wait_tenant(kube: KubeClient, name: str, deadline: Deadline) -> str:
    """The Tenant's namespace tenant-<name>, once the Tenant is Ready and the namespace exists."""
    namespace = tenant_namespace(name)

    def state() -> tuple[dict, bool]:
        return (condition(kube.get(APPS_API, "Tenant", name, TENANT_PARENT), "Ready"),
                kube.get("v1", "Namespace", namespace) is not None)

    wait_watching([Watched(kube, APPS_API, "Tenant", TENANT_PARENT, name),
                   Watched(kube, "v1", "Namespace", name=namespace)],
                  f"Tenant {TENANT_PARENT}/{name} Ready with namespace {namespace}", state,
                  done=lambda seen: seen[0].get("status") == "True" and seen[1],
                  failed=lambda seen: release_failure(seen[0]), deadline=deadline,
                  show=lambda seen: f"{shown(seen[0])}, namespace {namespace} {'exists' if seen[1] else 'not there'}")
    return namespace


def wait_release_ready(kube: KubeClient, kind: str, name: str, namespace: str, deadline: Deadline) -> dict:
    """The app's HelmRelease <prefix><name>, once Ready; stops at once when Helm gave up."""
    release = RELEASE_PREFIX[kind] + name
    return wait_watching([Watched(kube, HELM_API, "HelmRelease", namespace, release)],
                         f"HelmRelease {namespace}/{release} of {kind} {name} Ready",
                         lambda: kube.get(HELM_API, "HelmRelease", release, namespace),
                         done=lambda hr: condition(hr, "Ready").get("status") == "True",
                         failed=lambda hr: release_failure(condition(hr, "Ready")), deadline=deadline,
                         show=lambda hr: shown(condition(hr, "Ready")) if hr else "no HelmRelease yet")


@dataclass(frozen=True)
class ProxmoxWorkers:
    """Where the worker VMs of a Kubernetes app on the proxmox substrate come from (`spec.proxmox`)."""
    source_node: str
    template_id: int
    bridge: str
    storage: str | None
    allowed_nodes: tuple[str, ...]
    addresses: str                      # "first-last"
    prefix: int
    gateway: str
    dns_servers: tuple[str, ...]
    vmid_range: tuple[int, int]

    def values(self) -> dict:
        values = {"sourceNode": self.source_node, "templateID": self.template_id, "bridge": self.bridge,
                  "allowedNodes": list(self.allowed_nodes), "dnsServers": list(self.dns_servers),
                  "ipv4Config": {"addresses": [self.addresses], "prefix": self.prefix, "gateway": self.gateway},
                  "vmIDRange": {"start": self.vmid_range[0], "end": self.vmid_range[1]}}
        if self.storage:
            values["storage"] = self.storage
        return values


@dataclass(frozen=True)
class NodeSize:
    cores: int
    memory_mib: int
    disk_gib: int


def kubernetes_app(name: str, namespace: str, workers: ProxmoxWorkers, size: NodeSize, replicas: int,
                   max_replicas: int) -> dict:
    """A Kubernetes app on the proxmox substrate with one node group of `replicas` workers. Its MachineHealthCheck
    may remediate every machine: under the chart's default maxUnhealthy (50 %) a failed worker of a group of one
    would never be replaced."""
    group = {"minReplicas": replicas, "maxReplicas": max_replicas, "ephemeralStorage": f"{size.disk_gib}Gi",
             "resources": {"cpu": str(size.cores), "memory": f"{size.memory_mib}Mi"}, "roles": ["ingress-nginx"]}
    return {"apiVersion": APPS_API, "kind": "Kubernetes", "metadata": {"name": name, "namespace": namespace},
            "spec": {"substrate": "proxmox", "controlPlane": {"replicas": 1}, "nodeGroups": {NODE_GROUP: group},
                     "nodeHealthCheck": {"maxUnhealthy": "100%"}, "proxmox": workers.values()}}


def scale_node_group(kube: KubeClient, name: str, namespace: str, replicas: int) -> None:
    """Set the node group's minReplicas (the chart makes it the MachineDeployment's replicas)."""
    kube.patch(APPS_API, "Kubernetes", name, {"spec": {"nodeGroups": {NODE_GROUP: {"minReplicas": replicas}}}},
               namespace)
