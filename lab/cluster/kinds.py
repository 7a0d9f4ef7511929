"""The kinds the controllers read and write, as (apiVersion, kind), and the labels and names Cluster API uses."""

from .crds import ADDRESS_VERSION, CAPI_VERSION, INFRA_VERSION, POOL_VERSION

CLUSTER = ('cluster.x-k8s.io/' + CAPI_VERSION, 'Cluster')
MACHINE = ('cluster.x-k8s.io/' + CAPI_VERSION, 'Machine')
MACHINE_SET = ('cluster.x-k8s.io/' + CAPI_VERSION, 'MachineSet')
MACHINE_DEPLOYMENT = ('cluster.x-k8s.io/' + CAPI_VERSION, 'MachineDeployment')
MACHINE_HEALTH_CHECK = ('cluster.x-k8s.io/' + CAPI_VERSION, 'MachineHealthCheck')
PROXMOX_CLUSTER = ('infrastructure.cluster.x-k8s.io/' + INFRA_VERSION, 'ProxmoxCluster')
PROXMOX_MACHINE = ('infrastructure.cluster.x-k8s.io/' + INFRA_VERSION, 'ProxmoxMachine')
PROXMOX_MACHINE_TEMPLATE = ('infrastructure.cluster.x-k8s.io/' + INFRA_VERSION, 'ProxmoxMachineTemplate')
IN_CLUSTER_IP_POOL = ('ipam.cluster.x-k8s.io/' + POOL_VERSION, 'InClusterIPPool')
IP_ADDRESS_CLAIM = ('ipam.cluster.x-k8s.io/' + ADDRESS_VERSION, 'IPAddressClaim')
IP_ADDRESS = ('ipam.cluster.x-k8s.io/' + ADDRESS_VERSION, 'IPAddress')
KUBEADM_CONFIG = ('bootstrap.cluster.x-k8s.io/' + CAPI_VERSION, 'KubeadmConfig')
NODE = ('v1', 'Node')
LEASE = ('coordination.k8s.io/v1', 'Lease')
SECRET = ('v1', 'Secret')

CLUSTER_NAME_LABEL = 'cluster.x-k8s.io/cluster-name'
DEPLOYMENT_NAME_LABEL = 'cluster.x-k8s.io/deployment-name'
SET_NAME_LABEL = 'cluster.x-k8s.io/set-name'
TEMPLATE_HASH_LABEL = 'machine-template-hash'
DELETE_MACHINE_ANNOTATION = 'cluster.x-k8s.io/delete-machine'
CLONED_FROM_NAME = 'cluster.x-k8s.io/cloned-from-name'
CLONED_FROM_KIND = 'cluster.x-k8s.io/cloned-from-groupkind'

CLUSTER_FINALIZER = 'cluster.cluster.x-k8s.io'
MACHINE_FINALIZER = 'machine.cluster.x-k8s.io'
PROXMOX_CLUSTER_FINALIZER = 'proxmoxcluster.infrastructure.cluster.x-k8s.io'
PROXMOX_MACHINE_FINALIZER = 'proxmoxmachine.infrastructure.cluster.x-k8s.io'

SYSTEM_NAMESPACE = 'cozy-cluster-api'
CREDENTIALS_SECRET = 'capmox-manager-credentials'


def rtype(store, ref):
    """The ResourceType of an (apiVersion, kind) ref; KeyError while it is not served."""
    return store.kind(*ref)
