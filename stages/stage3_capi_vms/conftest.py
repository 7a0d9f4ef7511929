"""Stage 3 facts: the real names of Cluster API and CAPMOX in CozyStack."""
import pytest

from proxqa.kube.client import KubeClient

CAPI_NAMESPACE = "cozy-cluster-api"
OPERATOR_GROUP, OPERATOR_VERSION = "operator.cluster.x-k8s.io", "v1alpha2"
CAPMOX_SELECTOR = "control-plane=controller-manager"
CAPMOX_DEPLOYMENT = "capmox-controller-manager"
CAPMOX_SECRET = "capmox-manager-credentials"
INFRA_GROUP, INFRA_VERSION = "infrastructure.cluster.x-k8s.io", "v1alpha1"


@pytest.fixture(scope="module")
def capmox_namespace(mgmt_kube: KubeClient) -> str:
    """The namespace the CAPMOX controller runs in, found by its Deployment name and label."""
    found = [ns for ns, d in mgmt_kube.deployments_everywhere(CAPMOX_SELECTOR) if d.name == CAPMOX_DEPLOYMENT]
    if not found:
        pytest.fail(f"no Deployment {CAPMOX_DEPLOYMENT} with label {CAPMOX_SELECTOR} in any namespace")
    return found[0]


@pytest.fixture(scope="module")
def providers(mgmt_kube: KubeClient) -> dict[str, dict]:
    """"CoreProvider/cluster-api", "InfrastructureProvider/proxmox", ... -> the provider object."""
    found = {}
    for plural, kind in (("coreproviders", "CoreProvider"), ("infrastructureproviders", "InfrastructureProvider")):
        for obj in mgmt_kube.custom_objects(OPERATOR_GROUP, OPERATOR_VERSION, plural):
            found[f"{kind}/{obj['metadata']['name']}"] = obj
    return found
