"""Installation: the Cluster API operator, its providers and the CRDs the integration needs."""
import pytest

from stages.stage3_capi_vms.conftest import CAPI_NAMESPACE

REQUIRED_PROVIDERS = ("CoreProvider/cluster-api", "InfrastructureProvider/proxmox")
REQUIRED_RESOURCES = {
    "cluster.x-k8s.io/v1beta1": ("clusters", "machines", "machinesets", "machinedeployments"),
    "infrastructure.cluster.x-k8s.io/v1alpha1": ("proxmoxclusters", "proxmoxmachines", "proxmoxmachinetemplates"),
    "ipam.cluster.x-k8s.io/v1beta1": ("ipaddressclaims", "ipaddresses"),
    "ipam.cluster.x-k8s.io/v1alpha2": ("inclusterippools",),
}


def _ready(obj: dict) -> str:
    """"True" when the Ready condition holds, else its status with reason and message."""
    cond = next((c for c in obj.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), None)
    if cond is None:
        return "no Ready condition"
    return "True" if cond.get("status") == "True" else (
        f"Ready={cond.get('status')} ({cond.get('reason', '')}: {cond.get('message', '')})")


@pytest.mark.check("S3.1")
def test_s3_1_capi_operator_runs_and_providers_ready(mgmt_kube, providers):
    """The capi-operator Deployment is Available with Ready pods; CoreProvider cluster-api and
    InfrastructureProvider proxmox are Ready."""
    operator = mgmt_kube.deployment(CAPI_NAMESPACE, "capi-operator")
    problems = []
    if operator.conditions.get("Available") != "True" or operator.available < max(operator.replicas, 1):
        problems.append(f"capi-operator: {operator.available}/{operator.replicas} available, "
                        f"conditions {operator.conditions}")
    for name in REQUIRED_PROVIDERS:
        state = _ready(providers[name]) if name in providers else "missing"
        if state != "True":
            problems.append(f"{name}: {state}")
    assert not problems, "; ".join(problems)


@pytest.mark.check("S3.2")
def test_s3_2_crds_are_served(mgmt_kube):
    """Every CRD of CAPI, CAPMOX and the in-cluster IPAM is served by the API (discovery, not just the object)."""
    missing = []
    for group_version, plurals in REQUIRED_RESOURCES.items():
        served = mgmt_kube.served_resources(group_version)
        missing += [f"{p} ({group_version})" for p in plurals if p not in served]
    assert not missing, f"not served: {', '.join(missing)}"
