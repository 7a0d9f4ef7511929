"""The CustomResourceDefinitions the management cluster is seeded with: Cluster API core v1.10 (v1beta1),
CAPMOX v0.7 (infrastructure v1alpha1), the in-cluster IPAM provider, kubeadm bootstrap, Kamaji's control plane
(CozyStack's) and the cluster-api-operator's provider kinds. Names, groups, versions, short names, categories
and printer columns are the real ones; schemas are open (the lab's API server enforces none).
"""

from dataclasses import dataclass

CAPI = 'cluster.x-k8s.io'
INFRA = 'infrastructure.cluster.x-k8s.io'
IPAM = 'ipam.cluster.x-k8s.io'
BOOTSTRAP = 'bootstrap.cluster.x-k8s.io'
CONTROLPLANE = 'controlplane.cluster.x-k8s.io'
OPERATOR = 'operator.cluster.x-k8s.io'
APPS = 'apps.cozystack.io'
HELM = 'helm.toolkit.fluxcd.io'
CAPI_VERSION = 'v1beta1'
INFRA_VERSION = 'v1alpha1'
POOL_VERSION = 'v1alpha2'
ADDRESS_VERSION = 'v1beta1'
CAPI_CATEGORIES = ('cluster-api',)


def _column(name, path, kind='string'):
    return {'name': name, 'type': kind, 'jsonPath': path}


AGE = _column('Age', '.metadata.creationTimestamp', 'date')
CLUSTER = _column('Cluster', '.spec.clusterName')
CLUSTER_LABEL = _column('Cluster', ".metadata.labels['cluster.x-k8s.io/cluster-name']")
VERSION = _column('Version', '.spec.version')


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    plural: str
    versions: tuple              # served versions; the last one is stored
    namespaced: bool = True
    short_names: tuple = ()
    categories: tuple = CAPI_CATEGORIES
    scale: bool = False          # the /scale subresource (MachineSet, MachineDeployment)
    columns: tuple = ()

    @property
    def name(self):
        return '{0}.{1}'.format(self.plural, self.group)

    def manifest(self):
        subresources = {'status': {}}
        if self.scale:
            subresources['scale'] = {'specReplicasPath': '.spec.replicas', 'statusReplicasPath': '.status.replicas',
                                     'labelSelectorPath': '.status.selector'}
        names = {'kind': self.kind, 'listKind': self.kind + 'List', 'plural': self.plural,
                 'singular': self.kind.lower()}
        if self.short_names:
            names['shortNames'] = list(self.short_names)
        if self.categories:
            names['categories'] = list(self.categories)
        versions = [{'name': version, 'served': True, 'storage': version == self.versions[-1],
                     'schema': {'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}},
                     'subresources': subresources, 'additionalPrinterColumns': list(self.columns)}
                    for version in self.versions]
        return {'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
                'metadata': {'name': self.name, 'labels': self.labels},
                'spec': {'group': self.group, 'names': names, 'scope': 'Namespaced' if self.namespaced else 'Cluster',
                         'versions': versions}}

    @property
    def provider(self):
        return PROVIDER_LABELS.get(self.group, 'cluster-api')

    @property
    def labels(self):
        """Cluster API's provider label on its CRDs; Flux's labels on HelmRelease; none on CozyStack's."""
        if self.group.endswith(CAPI):
            return {'cluster.x-k8s.io/provider': self.provider}
        return dict(FOREIGN_LABELS.get(self.group, {}))


PROVIDER_LABELS = {INFRA: 'infrastructure-proxmox', BOOTSTRAP: 'bootstrap-kubeadm',
                   CONTROLPLANE: 'control-plane-kamaji', OPERATOR: 'cluster-api-operator'}

CAPI_CRDS = (
    Crd(CAPI, 'Cluster', 'clusters', (CAPI_VERSION,), short_names=('cl',), columns=(
        _column('Phase', '.status.phase'), AGE, _column('Version', '.spec.topology.version'))),
    Crd(CAPI, 'Machine', 'machines', (CAPI_VERSION,), short_names=('ma',), columns=(
        CLUSTER, _column('NodeName', '.status.nodeRef.name'), _column('ProviderID', '.spec.providerID'),
        _column('Phase', '.status.phase'), AGE, VERSION)),
    Crd(CAPI, 'MachineSet', 'machinesets', (CAPI_VERSION,), short_names=('ms',), scale=True, columns=(
        CLUSTER, _column('Replicas', '.status.replicas', 'integer'), _column('Ready', '.status.readyReplicas',
                                                                             'integer'),
        _column('Available', '.status.availableReplicas', 'integer'), AGE,
        _column('Version', '.spec.template.spec.version'))),
    Crd(CAPI, 'MachineDeployment', 'machinedeployments', (CAPI_VERSION,), short_names=('md',), scale=True, columns=(
        CLUSTER, _column('Replicas', '.status.replicas', 'integer'),
        _column('Ready', '.status.readyReplicas', 'integer'), _column('Updated', '.status.updatedReplicas', 'integer'),
        _column('Unavailable', '.status.unavailableReplicas', 'integer'), _column('Phase', '.status.phase'), AGE,
        _column('Version', '.spec.template.spec.version'))),
    Crd(CAPI, 'MachineHealthCheck', 'machinehealthchecks', (CAPI_VERSION,), short_names=('mhc', 'mhcs'), columns=(
        CLUSTER, _column('ExpectedMachines', '.status.expectedMachines', 'integer'),
        _column('MaxUnhealthy', '.spec.maxUnhealthy'), _column('CurrentHealthy', '.status.currentHealthy', 'integer'),
        AGE)),
)
INFRA_CRDS = (
    Crd(INFRA, 'ProxmoxCluster', 'proxmoxclusters', (INFRA_VERSION,), columns=(
        CLUSTER_LABEL, _column('Ready', '.status.ready'), _column('Endpoint', '.spec.controlPlaneEndpoint'))),
    Crd(INFRA, 'ProxmoxClusterTemplate', 'proxmoxclustertemplates', (INFRA_VERSION,)),
    Crd(INFRA, 'ProxmoxMachine', 'proxmoxmachines', (INFRA_VERSION,), short_names=('moxm',),
        categories=('cluster-api', 'proxmox'), columns=(
            CLUSTER_LABEL, _column('Ready', '.status.ready'), _column('Node', '.status.proxmoxNode'),
            _column('Provider_ID', '.spec.providerID'),
            _column('Machine', '.metadata.ownerReferences[?(@.kind=="Machine")].name'))),
    Crd(INFRA, 'ProxmoxMachineTemplate', 'proxmoxmachinetemplates', (INFRA_VERSION,), short_names=('pmt',)),
)
IPAM_CRDS = (
    Crd(IPAM, 'InClusterIPPool', 'inclusterippools', ('v1alpha1', POOL_VERSION), columns=(
        _column('Addresses', '.spec.addresses'), _column('Total', '.status.ipAddresses.total', 'integer'),
        _column('Free', '.status.ipAddresses.free', 'integer'),
        _column('Used', '.status.ipAddresses.used', 'integer'))),
    Crd(IPAM, 'GlobalInClusterIPPool', 'globalinclusterippools', ('v1alpha1', POOL_VERSION), namespaced=False),
    Crd(IPAM, 'IPAddressClaim', 'ipaddressclaims', ('v1alpha1', ADDRESS_VERSION), columns=(
        _column('Pool Name', '.spec.poolRef.name'), _column('Pool Kind', '.spec.poolRef.kind'), AGE)),
    Crd(IPAM, 'IPAddress', 'ipaddresses', ('v1alpha1', ADDRESS_VERSION), columns=(
        _column('Address', '.spec.address'), _column('Pool Name', '.spec.poolRef.name'),
        _column('Pool Kind', '.spec.poolRef.kind'), AGE)),
)
OTHER_CRDS = (
    Crd(BOOTSTRAP, 'KubeadmConfig', 'kubeadmconfigs', (CAPI_VERSION,), columns=(AGE,)),
    Crd(BOOTSTRAP, 'KubeadmConfigTemplate', 'kubeadmconfigtemplates', (CAPI_VERSION,), columns=(AGE,)),
    Crd(CONTROLPLANE, 'KamajiControlPlane', 'kamajicontrolplanes', ('v1alpha1',), short_names=('ktcp',)),
    Crd(OPERATOR, 'CoreProvider', 'coreproviders', ('v1alpha1', 'v1alpha2'), categories=(), columns=(
        _column('InstalledVersion', '.status.installedVersion'),
        _column('Ready', '.status.conditions[?(@.type=="Ready")].status'))),
    Crd(OPERATOR, 'InfrastructureProvider', 'infrastructureproviders', ('v1alpha1', 'v1alpha2'), categories=(),
        columns=(_column('InstalledVersion', '.status.installedVersion'),
                 _column('Ready', '.status.conditions[?(@.type=="Ready")].status'))),
    Crd(OPERATOR, 'BootstrapProvider', 'bootstrapproviders', ('v1alpha1', 'v1alpha2'), categories=()),
    Crd(OPERATOR, 'ControlPlaneProvider', 'controlplaneproviders', ('v1alpha1', 'v1alpha2'), categories=()),
    Crd(OPERATOR, 'IPAMProvider', 'ipamproviders', ('v1alpha1', 'v1alpha2'), categories=()),
)
READY = _column('Ready', '.status.conditions[?(@.type=="Ready")].status')
APP_VERSION = _column('Version', '.status.version')
FOREIGN_LABELS = {HELM: {'app.kubernetes.io/component': 'helm-controller', 'app.kubernetes.io/instance': 'flux-system',
                         'app.kubernetes.io/part-of': 'flux'}}
COZYSTACK_CRDS = (   # the apps are served by cozystack-api (an aggregated API) in CozyStack; CRDs in the lab
    Crd(APPS, 'Tenant', 'tenants', ('v1alpha1',), categories=(), columns=(READY, AGE, APP_VERSION)),
    Crd(APPS, 'Kubernetes', 'kuberneteses', ('v1alpha1',), categories=(), columns=(READY, AGE, APP_VERSION)),
    Crd(HELM, 'HelmRelease', 'helmreleases', ('v2beta1', 'v2beta2', 'v2'), short_names=('hr',), categories=(),
        columns=(AGE, READY, _column('Status', '.status.conditions[?(@.type=="Ready")].message'))),
)
ALL_CRDS = CAPI_CRDS + INFRA_CRDS + IPAM_CRDS + OTHER_CRDS + COZYSTACK_CRDS
