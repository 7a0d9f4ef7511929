"""CozyStack's apps layer in the lab: Tenants and their namespaces, Kubernetes apps on Proxmox workers, the
HelmReleases between, and the faults tenant-isolation-broken and helmrelease-failed. Driven with kubectl and the
kubernetes client only; every app a test makes is deleted in teardown, and its VMs waited for."""

import base64
import secrets

import pytest
import yaml
from kubernetes import client, config

from cluster_helpers import CAPI, GATEWAY, INFRA, WAIT, condition, wait_for
from workload_helpers import Cluster, Space

APPS = ('apps.cozystack.io', 'v1alpha1')
HELM = ('helm.toolkit.fluxcd.io', 'v2')
POOL_RANGE = '192.0.2.240-192.0.2.254'     # apart from the other tests' pools
ADMIN_KEYS = ['admin.conf', 'admin.svc', 'super-admin.conf', 'super-admin.svc']


def tenant_manifest(name, namespace='tenant-root', **spec):
    return {'apiVersion': 'apps.cozystack.io/v1alpha1', 'kind': 'Tenant',
            'metadata': {'name': name, 'namespace': namespace}, 'spec': spec}


def kubernetes_manifest(name, namespace, twin, replicas=1, substrate='proxmox'):
    """A Kubernetes app with one node group of Proxmox workers cloned from the twin's template."""
    node, template = twin.template()
    settings = twin.settings
    return {'apiVersion': 'apps.cozystack.io/v1alpha1', 'kind': 'Kubernetes',
            'metadata': {'name': name, 'namespace': namespace},
            'spec': {'version': 'v1.32', 'substrate': substrate, 'controlPlane': {'replicas': 2},
                     'nodeGroups': {'md0': {'minReplicas': replicas, 'maxReplicas': 3, 'ephemeralStorage': '20Gi',
                                            'resources': {'cpu': 2, 'memory': '4Gi'}, 'roles': ['ingress-nginx']}},
                     'nodeHealthCheck': {'maxUnhealthy': '100%'},
                     'proxmox': {'sourceNode': node, 'templateID': template, 'bridge': settings['TEST_NETWORK_BRIDGE'],
                                 'storage': settings['TEST_STORAGE_POOL'], 'format': 'raw',
                                 'allowedNodes': settings['PROXMOX_NODES'].split(','), 'dnsServers': [GATEWAY],
                                 'ipv4Config': {'addresses': [POOL_RANGE], 'prefix': 24, 'gateway': GATEWAY}}}}


class Apps(object):
    """Applies apps with kubectl; remove() deletes the tenants (which takes their apps along) and waits until their
    namespaces and VMs are gone."""

    def __init__(self, lab):
        self.lab = lab
        self.tenants = []
        self.clusters = []

    def name(self):
        return 'qa' + secrets.token_hex(3)

    def apply(self, manifest):
        self.lab.kubectl.run('apply', '-f', '-', stdin=yaml.safe_dump(manifest))

    def tenant(self, namespace='tenant-root', **spec):
        name = self.name()
        self.tenants.append((namespace, name))
        self.apply(tenant_manifest(name, namespace, **spec))
        return name

    def kubernetes(self, namespace, **options):
        name = self.name()
        self.clusters.append(name)
        self.apply(kubernetes_manifest(name, namespace, self.lab.twin, **options))
        return name

    def get(self, api, plural, namespace, name):
        return self.lab.get(api, plural, namespace, name)

    def namespace(self, name):
        try:
            return self.lab.core.read_namespace(name).to_dict()
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise

    def vms(self, cluster):
        return sorted(vmid for vmid, vm in self.lab.twin.vms().items()
                      if vm['name'].startswith('kubernetes-{0}-'.format(cluster)))

    def remove(self):
        for namespace, name in reversed(self.tenants):
            self.lab.kubectl.run('delete', 'tenants.apps.cozystack.io', name, '-n', namespace, '--ignore-not-found',
                                 '--wait=false')
        for cluster in self.clusters:
            wait_for('the VMs of {0} are deleted'.format(cluster), lambda: self.vms(cluster), lambda vmids: vmids == [])
        for namespace, name in self.tenants:
            wait_for('namespace {0} is gone'.format(name), lambda: self.namespace('tenant-' + name),
                     lambda found: found is None)


@pytest.fixture
def apps(lab):
    made = Apps(lab)
    yield made
    lab.clear_faults()
    made.remove()


def ready(obj):
    return condition(obj, 'Ready').get('status') == 'True'


def release(apps, namespace, name, status='True'):
    """The HelmRelease once its Ready condition has that status."""
    return wait_for('HelmRelease {0}/{1} Ready={2}'.format(namespace, name, status),
                    lambda: apps.get(HELM, 'helmreleases', namespace, name),
                    lambda hr: condition(hr, 'Ready').get('status') == status)


class TenantSpace(Space):
    """A tenant's namespace (the tenant chart makes it) used with the workload helpers."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name


def policy_names(lab, namespace):
    return sorted(item.metadata.name for item in
                  client.NetworkingV1Api(lab.mgmt).list_namespaced_network_policy(namespace).items)


# ----------------------------------------------------------------------------------------------- seeded

def test_the_platform_is_seeded_ready(lab):
    version = lab.core.read_namespaced_config_map('cozystack-version', 'cozy-system')
    assert version.data['version'].isdigit()
    releases = lab.custom.list_cluster_custom_object(*HELM, 'helmreleases')['items']
    where = dict(((hr['metadata']['namespace'], hr['metadata']['name']), hr) for hr in releases)
    for key in [('cozy-cilium', 'cilium'), ('cozy-kubeovn', 'kubeovn'), ('cozy-cluster-api', 'capi-operator'),
                ('cozy-victoria-metrics-operator', 'victoria-metrics-operator'), ('tenant-root', 'tenant-root')]:
        assert ready(where[key]), where[key]
    assert lab.core.read_namespace('cozy-cilium').metadata.labels['cozystack.io/system'] == 'true'
    root = lab.get(APPS, 'tenants', 'tenant-root', 'root')
    assert ready(root) and root['status']['namespace'] == 'tenant-root'
    table = lab.kubectl.run('get', 'tenants', '-n', 'tenant-root').stdout.split('\n')
    assert table[0].split() == ['NAME', 'READY', 'AGE', 'VERSION'] and table[1].split()[:2] == ['root', 'True']


# ------------------------------------------------------------------------------------------------ tenants

def test_a_tenant_gets_its_release_namespace_and_policies(lab, apps):
    name = apps.tenant()
    hr = release(apps, 'tenant-root', 'tenant-' + name)
    assert condition(hr, 'Ready')['reason'] == 'InstallSucceeded'
    assert hr['metadata']['labels']['apps.cozystack.io/application.kind'] == 'Tenant'
    assert hr['spec']['chart']['spec']['chart'] == 'tenant'
    namespace = wait_for('the tenant namespace', lambda: apps.namespace('tenant-' + name), lambda found: found)
    labels = namespace['metadata']['labels']
    assert {key: labels[key] for key in ('tenant.cozystack.io/tenant-root', 'tenant.cozystack.io/tenant-' + name,
                                         'namespace.cozystack.io/etcd', 'namespace.cozystack.io/host')} == {
        'tenant.cozystack.io/tenant-root': '', 'tenant.cozystack.io/tenant-' + name: '',
        'namespace.cozystack.io/etcd': 'tenant-root', 'namespace.cozystack.io/host': name + '.example.org'}
    assert policy_names(lab, 'tenant-' + name) == ['allow-internal-communication', 'tenant-{0}-ingress'.format(name)]
    ingress = client.NetworkingV1Api(lab.mgmt).read_namespaced_network_policy('tenant-{0}-ingress'.format(name),
                                                                              'tenant-' + name)
    peers = [peer.namespace_selector.to_dict() for peer in ingress.spec.ingress[0]._from]
    assert {'match_labels': {'kubernetes.io/metadata.name': 'tenant-root'}, 'match_expressions': None} in peers
    assert {'match_labels': {'cozystack.io/system': 'true'}, 'match_expressions': None} in peers
    assert {'match_labels': None, 'match_expressions': [{'key': 'tenant.cozystack.io/tenant-root',
                                                         'operator': 'DoesNotExist', 'values': None}]} in peers
    assert lab.core.read_namespaced_secret('cozystack-values', 'tenant-' + name).data['values.yaml']
    tenant = wait_for('the Tenant is Ready', lambda: apps.get(APPS, 'tenants', 'tenant-root', name), ready)
    assert tenant['status']['namespace'] == 'tenant-' + name


def test_a_nested_tenant_is_named_after_its_parent_and_goes_with_it(lab, apps):
    parent = apps.tenant()
    wait_for('the parent namespace', lambda: apps.namespace('tenant-' + parent), lambda found: found)
    child = apps.name()
    apps.apply(tenant_manifest(child, 'tenant-' + parent, isolated=True))
    nested = 'tenant-{0}-{1}'.format(parent, child)
    namespace = wait_for('the nested namespace', lambda: apps.namespace(nested), lambda found: found)
    assert namespace['metadata']['owner_references'][0]['name'] == 'tenant-' + parent
    assert 'tenant.cozystack.io/tenant-' + parent in namespace['metadata']['labels']
    ingress = client.NetworkingV1Api(lab.mgmt).read_namespaced_network_policy(nested + '-ingress', nested)
    peers = [(peer.namespace_selector.match_labels or {}).get('kubernetes.io/metadata.name')
             for peer in ingress.spec.ingress[0]._from]
    assert 'tenant-root' in peers and 'tenant-' + parent in peers
    child_app = apps.get(APPS, 'tenants', 'tenant-' + parent, child)
    assert child_app['status']['namespace'] == nested
    lab.kubectl.run('delete', 'tenants.apps.cozystack.io', parent, '-n', 'tenant-root', '--wait=false')
    for name in (nested, 'tenant-' + parent):
        wait_for('namespace {0} is gone'.format(name), lambda: apps.namespace(name), lambda found: found is None)
    assert apps.get(HELM, 'helmreleases', 'tenant-root', 'tenant-' + parent) is None


def test_a_tenant_name_with_a_dash_fails_to_install(lab, apps):
    name = apps.name() + '-x'
    apps.tenants.append(('tenant-root', name))
    apps.apply(tenant_manifest(name))
    hr = release(apps, 'tenant-root', 'tenant-' + name, 'False')
    assert condition(hr, 'Ready')['reason'] == 'InstallFailed'
    assert 'should not contain any other dashes: tenant-' + name in condition(hr, 'Ready')['message']
    assert apps.namespace('tenant-' + name) is None


# ----------------------------------------------------------------------------------------- Kubernetes

def test_a_kubernetes_app_gets_proxmox_workers_and_an_admin_kubeconfig(lab, apps, tmp_path):
    tenant = apps.tenant()
    namespace = 'tenant-' + tenant
    wait_for('the tenant namespace', lambda: apps.namespace(namespace), lambda found: found)
    name = apps.kubernetes(namespace)
    release_name = 'kubernetes-' + name
    assert condition(release(apps, namespace, release_name), 'Ready')['reason'] == 'InstallSucceeded'
    cluster = apps.get(CAPI, 'clusters', namespace, release_name)
    assert cluster['spec']['controlPlaneRef']['kind'] == 'KamajiControlPlane'
    assert cluster['spec']['infrastructureRef']['kind'] == 'ProxmoxCluster'
    md = wait_for('the node group is ready', lambda: apps.get(CAPI, 'machinedeployments', namespace,
                                                              release_name + '-md0'),
                  lambda found: ((found or {}).get('status') or {}).get('readyReplicas') == 1)
    assert md['spec']['template']['spec']['infrastructureRef']['kind'] == 'ProxmoxMachineTemplate'
    assert len(apps.vms(name)) == 1
    [machine] = lab.items(CAPI, 'machines', namespace)
    node = wait_for('the Node is Ready', lambda: lab.node(machine['metadata']['name']),
                    lambda found: condition(found, 'Ready').get('status') == 'True')
    assert node['spec']['provider_id'] == machine['spec']['providerID']
    app = wait_for('the app reports its workloads ready', lambda: apps.get(APPS, 'kuberneteses', namespace, name),
                   lambda found: condition(found, 'WorkloadsReady').get('status') == 'True')
    assert ready(app)
    secret = lab.core.read_namespaced_secret(release_name + '-admin-kubeconfig', namespace)
    assert sorted(secret.data) == ADMIN_KEYS
    path = tmp_path / 'admin.conf'
    path.write_bytes(base64.b64decode(secret.data['super-admin.conf']))
    tenant_api = config.new_client_from_config(config_file=str(path))
    try:
        names = [item.metadata.name for item in client.CoreV1Api(tenant_api).list_node().items]
    finally:
        tenant_api.close()
    assert machine['metadata']['name'] in names
    groups = [item.name for item in client.ApisApi(lab.mgmt).get_api_versions().groups]
    assert 'kubevirt.io' not in groups      # no KubeVirt VirtualMachine can exist for it


def test_scaling_a_node_group_and_deleting_the_app_leaves_nothing(lab, apps):
    tenant = apps.tenant()
    namespace = 'tenant-' + tenant
    wait_for('the tenant namespace', lambda: apps.namespace(namespace), lambda found: found)
    name = apps.kubernetes(namespace)
    md_name = 'kubernetes-{0}-md0'.format(name)

    def ready_replicas(number):
        return wait_for('{0} ready replicas'.format(number),
                        lambda: apps.get(CAPI, 'machinedeployments', namespace, md_name),
                        lambda md: (md or {}).get('spec', {}).get('replicas') == number and
                        (md.get('status') or {}).get('readyReplicas') == number, WAIT * 2)

    ready_replicas(1)
    lab.kubectl.run('patch', 'kuberneteses.apps.cozystack.io', name, '-n', namespace, '--type', 'merge', '-p',
                    '{"spec": {"nodeGroups": {"md0": {"minReplicas": 2}}}}')
    ready_replicas(2)
    assert len(apps.vms(name)) == 2
    hr = apps.get(HELM, 'helmreleases', namespace, 'kubernetes-' + name)
    assert condition(hr, 'Ready')['reason'] == 'UpgradeSucceeded'
    lab.kubectl.run('delete', 'kuberneteses.apps.cozystack.io', name, '-n', namespace, '--wait=false')
    wait_for('the VMs are deleted', lambda: apps.vms(name), lambda vmids: vmids == [])
    wait_for('the HelmRelease is gone', lambda: apps.get(HELM, 'helmreleases', namespace, 'kubernetes-' + name),
             lambda found: found is None)
    for api, plural in ((CAPI, 'clusters'), (CAPI, 'machinedeployments'), (CAPI, 'machines'),
                        (INFRA, 'proxmoxmachines'), (INFRA, 'proxmoxclusters'), (INFRA, 'proxmoxmachinetemplates')):
        assert lab.items(api, plural, namespace) == [], plural
    secrets_left = [item.metadata.name for item in lab.core.list_namespaced_secret(namespace).items]
    assert secrets_left == ['cozystack-values']


def test_a_kubernetes_app_off_the_proxmox_substrate_fails_to_install(lab, apps):
    tenant = apps.tenant()
    namespace = 'tenant-' + tenant
    wait_for('the tenant namespace', lambda: apps.namespace(namespace), lambda found: found)
    name = apps.kubernetes(namespace, substrate='kubevirt')
    hr = release(apps, namespace, 'kubernetes-' + name, 'False')
    assert 'no matches for kind "KubevirtCluster"' in condition(hr, 'Ready')['message']
    assert lab.items(CAPI, 'clusters', namespace) == []


# ------------------------------------------------------------------------------------------------- faults

def test_helmrelease_failed_leaves_new_apps_uninstalled_until_cleared(lab, apps):
    existing = apps.tenant()
    namespace = 'tenant-' + existing
    wait_for('the tenant namespace', lambda: apps.namespace(namespace), lambda found: found)
    lab.set_fault('helmrelease-failed')
    tenant = apps.tenant()
    hr = release(apps, 'tenant-root', 'tenant-' + tenant, 'False')
    assert condition(hr, 'Ready')['reason'] == 'InstallFailed'
    assert condition(hr, 'Ready')['message'].startswith(
        'Helm install failed for release tenant-root/tenant-{0} with chart tenant@'.format(tenant))
    assert 'no matches for kind "CiliumNetworkPolicy" in version "cilium.io/v2"' in condition(hr, 'Ready')['message']
    name = apps.kubernetes(namespace)
    hr = release(apps, namespace, 'kubernetes-' + name, 'False')
    assert 'no matches for kind "KamajiControlPlane"' in condition(hr, 'Ready')['message']
    assert apps.namespace('tenant-' + tenant) is None and lab.items(CAPI, 'clusters', namespace) == []
    app = wait_for('the app shows the failure', lambda: apps.get(APPS, 'kuberneteses', namespace, name),
                   lambda found: condition(found, 'Ready').get('status') == 'False')
    assert condition(app, 'Ready')['reason'] == 'InstallFailed'
    lab.clear_faults()
    release(apps, 'tenant-root', 'tenant-' + tenant)
    wait_for('the namespace comes', lambda: apps.namespace('tenant-' + tenant), lambda found: found)


def test_tenant_isolation_broken_removes_the_tenant_policies(lab, apps):
    first = apps.tenant()
    wait_for('the policies', lambda: policy_names(lab, 'tenant-' + first), lambda names: len(names) == 2)
    lab.set_fault('tenant-isolation-broken')
    wait_for('the policies are gone', lambda: policy_names(lab, 'tenant-' + first), lambda names: names == [])
    assert policy_names(lab, 'tenant-root') == []
    second = apps.tenant()
    release(apps, 'tenant-root', 'tenant-' + second)
    assert policy_names(lab, 'tenant-' + second) == []
    lab.clear_faults()
    for name in (first, second):
        wait_for('the policies are back', lambda: policy_names(lab, 'tenant-' + name), lambda names: len(names) == 2)
    assert len(policy_names(lab, 'tenant-root')) == 2


def test_tenants_reach_their_descendants_only_until_isolation_is_broken(lab, apps):
    parent, sibling = apps.tenant(), apps.tenant()
    for name in (parent, sibling):
        wait_for('the tenant namespace', lambda: apps.namespace('tenant-' + name), lambda found: found)
    child = apps.name()
    apps.apply(tenant_manifest(child, 'tenant-' + parent))
    nested = 'tenant-{0}-{1}'.format(parent, child)
    wait_for('the nested namespace', lambda: apps.namespace(nested), lambda found: found)
    mgmt = Cluster(lab.mgmt)
    server = TenantSpace(mgmt, nested)
    server.deployment('web', {'app': 'web'})
    server.wait_deployment('web', 1)
    fetch = 'wget -T 2 -qO- http://{0}'.format(server.service('web', {'app': 'web'}).spec.cluster_ip)
    assert TenantSpace(mgmt, 'tenant-' + parent).probe(fetch)[0], 'the parent tenant reaches its child'
    assert not TenantSpace(mgmt, 'tenant-' + sibling).probe(fetch)[0], 'another tenant is kept out'
    lab.set_fault('tenant-isolation-broken')
    wait_for('the policies are gone', lambda: policy_names(lab, nested), lambda names: names == [])
    assert TenantSpace(mgmt, 'tenant-' + sibling).probe(fetch)[0], 'with the fault, traffic between tenants flows'
