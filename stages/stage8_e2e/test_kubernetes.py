"""Tenant Kubernetes on Proxmox: a Kubernetes app in the Tenant becomes a cluster whose workers are Proxmox VMs."""
import pytest

from proxqa import cozystack
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import is_ready

from .conftest import KAMAJI_API, WORKERS, node_condition, proxmox_machines, tenant_kube, wait_workers

KUBEVIRT_API = "kubevirt.io/v1"
CAPI_API = "cluster.x-k8s.io/v1beta1"


@pytest.mark.check("S8.2")
def test_s8_2_tenant_kubernetes_runs_on_proxmox(mgmt_kube, tenant_cluster, pve, deadline):
    """Its HelmRelease is Ready, the KamajiControlPlane ready, the MachineDeployment's readyReplicas equal its
    replicas; the admin kubeconfig Secret reaches the tenant cluster, whose Nodes of the workers are Ready; the
    worker VMs run in Proxmox and no KubeVirt VirtualMachine exists in the tenant namespace."""
    namespace = tenant_cluster.namespace
    cozystack.wait_release_ready(mgmt_kube, "Kubernetes", tenant_cluster.name, namespace, deadline("kubernetes-ready"))
    workers = wait_workers(mgmt_kube, tenant_cluster, WORKERS, deadline("kubernetes-ready"))

    control_plane = mgmt_kube.get(KAMAJI_API, "KamajiControlPlane", tenant_cluster.cluster, namespace) or {}
    assert (control_plane.get("status") or {}).get("ready") is True, (
        f"KamajiControlPlane {namespace}/{tenant_cluster.cluster} not ready: "
        f"{(control_plane.get('status') or 'no status') if control_plane else 'it does not exist'}")

    def counts() -> tuple[int, int]:
        md = mgmt_kube.get(CAPI_API, "MachineDeployment", tenant_cluster.machine_deployment, namespace) or {}
        status = md.get("status") or {}
        return status.get("readyReplicas") or 0, status.get("replicas") or 0

    wait_watching([Watched(mgmt_kube, CAPI_API, "MachineDeployment", namespace, tenant_cluster.machine_deployment)],
                  f"MachineDeployment {namespace}/{tenant_cluster.machine_deployment}: readyReplicas == replicas == "
                  f"{WORKERS}", counts, done=lambda c: c == (WORKERS, WORKERS), deadline=deadline("kubernetes-ready"),
                  show=lambda c: f"{c[0]} of {c[1]} ready")

    wait_watching([Watched(mgmt_kube, cozystack.APPS_API, "Kubernetes", namespace, tenant_cluster.name)],
                  f"Kubernetes {namespace}/{tenant_cluster.name} WorkloadsReady",
                  lambda: cozystack.condition(mgmt_kube.get(cozystack.APPS_API, "Kubernetes", tenant_cluster.name,
                                                            namespace), "WorkloadsReady"),
                  done=lambda c: c.get("status") == "True", deadline=deadline("kubernetes-ready"),
                  show=lambda c: f"WorkloadsReady={c.get('status', 'no condition')} {c.get('message', '')}".rstrip())

    tenant = tenant_kube(mgmt_kube, tenant_cluster)
    nodes = {name: tenant.get("v1", "Node", name) for name in workers.joined}
    not_ready = [f"{name} ({node_condition(node)})" for name, node in nodes.items() if not is_ready(node)]
    assert not not_ready, f"through the admin kubeconfig the tenant cluster shows worker Nodes {', '.join(not_ready)}"

    vms = {vm.vmid: vm for vm in pve.vm_resources()}
    not_running = [f"{m.name}: VM {m.vmid} {vms[m.vmid].status if m.vmid in vms else 'not in /cluster/resources'}"
                   for m in proxmox_machines(mgmt_kube, tenant_cluster)
                   if m.vmid not in vms or vms[m.vmid].status != "running"]
    assert not not_running, f"worker VMs of {tenant_cluster.cluster} in Proxmox: {'; '.join(not_running)}"

    if "virtualmachines" in mgmt_kube.served_resources(KUBEVIRT_API):
        kubevirt = [vm["metadata"]["name"] for vm in mgmt_kube.list(KUBEVIRT_API, "VirtualMachine", namespace)]
        assert not kubevirt, f"KubeVirt VirtualMachines in {namespace} (workers must be Proxmox VMs): {kubevirt}"
