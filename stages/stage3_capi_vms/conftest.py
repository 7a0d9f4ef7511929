"""Stage 3 facts: the real names of Cluster API and CAPMOX in CozyStack."""
import pytest

from proxqa.kube.client import KubeClient
from proxqa.pve.client import PveClient

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


@pytest.fixture(scope="module")
def guest_agent_reader(pve, pve_endpoint, integration_identities) -> PveClient:
    """Who reads guest-agent data: the cloud controller's token (it holds VM.GuestAgent.Audit, as CCM reads
    node addresses this way) when configured, else the suite's own identity."""
    ccm = integration_identities.get("ccm")
    return PveClient(pve_endpoint, ccm) if ccm else pve


@pytest.fixture(scope="module")
def vm_operator(pve_endpoint, integration_identities) -> PveClient:
    """Who stops a test VM behind CAPMOX's back: CAPMOX's own token (it holds VM.PowerMgmt on the VMs it made; the
    suite's token only audits)."""
    capmox = integration_identities.get("capmox")
    if capmox is None:
        pytest.skip("stopping a VM needs the CAPMOX token (proxmox.identities.capmox): the suite's token only audits")
    return PveClient(pve_endpoint, capmox)
