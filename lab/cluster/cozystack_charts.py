"""The objects CozyStack's app charts make, as the lab's helm-controller installs them: `tenant` and `kubernetes`
(packages/apps/*), rendered in Python from a release's values and its namespace's `_namespace` values.

Real: the tenant namespace naming and labels, the values Secret, the service releases, the names of the Cluster
API objects and of the node group objects, the chart's failure for a tenant name with a dash. Lab choices (see
README): the isolation policies are NetworkPolicies (CozyStack uses Cilium policies), the Proxmox worker settings
under `spec.proxmox`, the node group sizing without KubeVirt instance types beyond the `u1` series.
"""

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass

ROOT_NAMESPACE = 'tenant-root'
HELM_API = 'helm.toolkit.fluxcd.io/v2'
CAPI_API = 'cluster.x-k8s.io/v1beta1'
INFRA_API = 'infrastructure.cluster.x-k8s.io/v1alpha1'
BOOTSTRAP_API = 'bootstrap.cluster.x-k8s.io/v1beta1'
KAMAJI_API = 'controlplane.cluster.x-k8s.io/v1alpha1'
VALUES_SECRET = 'cozystack-values'
SYSTEM_LABEL = 'cozystack.io/system'
NAME_LABEL = 'kubernetes.io/metadata.name'
TENANT_LABEL = 'tenant.cozystack.io/'
CLUSTER_NAME_LABEL = 'cluster.x-k8s.io/cluster-name'
DEPLOYMENT_NAME_LABEL = 'cluster.x-k8s.io/deployment-name'
TENANT_SERVICES = ('etcd', 'ingress', 'monitoring', 'seaweedfs')
EXTRA_REPOSITORY = ('cozystack-extra', 'cozy-public')
TENANT_DEFAULTS = {'host': '', 'etcd': False, 'monitoring': False, 'ingress': False, 'seaweedfs': False,
                   'isolated': True}
KUBERNETES_VERSIONS = {'v1.30': 'v1.30.14', 'v1.31': 'v1.31.14', 'v1.32': 'v1.32.12', 'v1.33': 'v1.33.8'}
DEFAULT_KUBERNETES_VERSION = 'v1.32'
DEFAULT_NODE_GROUPS = {'md0': {'minReplicas': 0, 'maxReplicas': 10, 'instanceType': 'u1.medium',
                               'ephemeralStorage': '20Gi', 'roles': ['ingress-nginx'], 'resources': {}}}
INSTANCE_TYPES = {'u1.nano': (1, '512Mi'), 'u1.micro': (1, '1Gi'), 'u1.small': (1, '2Gi'), 'u1.medium': (1, '4Gi'),
                  'u1.2xmedium': (2, '4Gi'), 'u1.large': (2, '8Gi'), 'u1.xlarge': (4, '16Gi'),
                  'u1.2xlarge': (8, '32Gi')}
PROXMOX_REQUIRED = ('sourceNode', 'templateID', 'bridge', 'allowedNodes', 'dnsServers', 'ipv4Config')
PROXMOX_OPTIONAL = ('storage', 'format', 'vmIDRange', 'pool')
BINARY_UNITS = {'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'k': 10 ** 3, 'M': 10 ** 6, 'G': 10 ** 9,
                'T': 10 ** 12, '': 1}


class ChartError(Exception):
    """The chart cannot be installed; the message is Helm's, as it follows "... with chart x@y: "."""


@dataclass(frozen=True)
class Release:
    """A HelmRelease as a chart sees it."""
    name: str
    namespace: str
    values: dict
    scope: dict              # the release namespace's `_namespace` values (from its cozystack-values Secret)
    cluster: dict            # `_cluster`
    namespace_uid: str       # for the ownerReference of a tenant's namespace


@dataclass(frozen=True)
class Platform:
    """What the charts take from the platform rather than from values."""
    endpoint: tuple = None   # (host, port) of the tenant clusters' API server, Kamaji's control plane address
    isolation: bool = True   # False while the fault tenant-isolation-broken is active


def tenant_namespace(release_namespace, name):
    """The namespace of Tenant `name` created in release_namespace (cozystack-api's computeTenantNamespace)."""
    if release_namespace == ROOT_NAMESPACE:
        return 'tenant-' + name
    return '{0}-{1}'.format(release_namespace, name)


def ancestry(namespace):
    """tenant-root, then every dash-prefix of the tenant namespace name, ending with the namespace itself."""
    parts = namespace.split('-')
    chain = [ROOT_NAMESPACE] + ['-'.join(parts[:end]) for end in range(2, len(parts) + 1)]
    return list(dict.fromkeys(chain))


def values_secret(namespace, cluster, scope):
    """Secret cozystack-values: the `_cluster` and `_namespace` values every release of the namespace reads."""
    text = json.dumps({'_cluster': cluster, '_namespace': scope}, indent=2, sort_keys=True)   # JSON is YAML
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
            'metadata': {'name': VALUES_SECRET, 'namespace': namespace,
                         'labels': {'reconcile.fluxcd.io/watch': 'Enabled'}},
            'data': {'values.yaml': base64.b64encode(text.encode()).decode()}}


def chart_spec(chart, repository):
    return {'spec': {'chart': chart, 'version': '>= 0.0.0-0', 'reconcileStrategy': 'Revision',
                     'sourceRef': {'kind': 'HelmRepository', 'name': repository[0], 'namespace': repository[1]}}}


def missing_kind(name, namespace, api_version, kind):
    """Helm's error when the manifest has a kind the cluster does not serve."""
    return ('unable to build kubernetes objects from release manifest: resource mapping not found for name: "{0}" '
            'namespace: "{1}" from "": no matches for kind "{2}" in version "{3}"\nensure CRDs are installed '
            'first').format(name, namespace, kind, api_version)


# ------------------------------------------------------------------------------------------------- tenant

def render_tenant(release, platform):
    """The tenant chart: its namespace (unless tenant-root), values Secret, isolation policies and service
    releases (etcd, ingress, monitoring, seaweedfs)."""
    parts = release.name.split('-')
    if parts[0] != 'tenant' or len(parts) != 2:
        raise ChartError('execution error at (tenant/templates/namespace.yaml:7:14): The release name should start '
                         'with "tenant-" and should not contain any other dashes: ' + release.name)
    if not release.namespace.startswith('tenant-'):
        raise ChartError('execution error at (tenant/templates/namespace.yaml:7:14): The release namespace should '
                         'start with "tenant-": ' + release.namespace)
    name = tenant_namespace(release.namespace, parts[1])
    values = dict(TENANT_DEFAULTS, **release.values)
    scope = tenant_scope(name, parts[1], values, release.scope)
    objects = []
    if name != ROOT_NAMESPACE:
        objects += [tenant_namespace_object(name, scope, release), values_secret(name, release.cluster, scope)]
    if values['isolated'] and platform.isolation:
        objects += isolation_policies(name)
    objects += [service_release(name, service) for service in TENANT_SERVICES if values.get(service)]
    return objects


def tenant_scope(name, short_name, values, parent):
    """The tenant's `_namespace`: its host, and the tenant whose etcd, ingress, ... it uses (its own if enabled)."""
    host = values.get('host') or ('{0}.{1}'.format(short_name, parent['host']) if parent.get('host') else '')
    scope = {'host': host}
    for service in TENANT_SERVICES:
        scope[service] = name if values.get(service) else parent.get(service, '')
    return scope


def tenant_namespace_object(name, scope, release):
    labels = dict((TENANT_LABEL + ancestor, '') for ancestor in ancestry(name))
    labels.update(('namespace.cozystack.io/' + key, value) for key, value in scope.items())
    return {'apiVersion': 'v1', 'kind': 'Namespace',
            'metadata': {'name': name, 'labels': labels, 'ownerReferences': [{
                'apiVersion': 'v1', 'kind': 'Namespace', 'name': release.namespace, 'uid': release.namespace_uid,
                'controller': True, 'blockOwnerDeletion': True}]}}


def isolation_policies(name):
    """Ingress into the tenant's pods from its own namespace, its ancestors' namespaces, kube-system, the
    cozystack.io/system namespaces and any namespace that is no tenant's (CozyStack: allow-internal-communication
    and <tenant>-ingress in Cilium, where the other tenants are kept out by their own egress policies)."""
    peers = [{'namespaceSelector': {'matchLabels': {SYSTEM_LABEL: 'true'}}},
             {'namespaceSelector': {'matchLabels': {NAME_LABEL: 'kube-system'}}},
             {'namespaceSelector': {'matchExpressions': [{'key': TENANT_LABEL + ROOT_NAMESPACE,
                                                          'operator': 'DoesNotExist'}]}}]
    peers += [{'namespaceSelector': {'matchLabels': {NAME_LABEL: ancestor}}} for ancestor in ancestry(name)[:-1]]
    return [network_policy(name, 'allow-internal-communication', [{'podSelector': {}}]),
            network_policy(name, name + '-ingress', peers)]


def network_policy(namespace, name, peers):
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
            'metadata': {'name': name, 'namespace': namespace},
            'spec': {'podSelector': {}, 'policyTypes': ['Ingress'], 'ingress': [{'from': peers}]}}


def service_release(namespace, service):
    return {'apiVersion': HELM_API, 'kind': 'HelmRelease', 'metadata': {'name': service, 'namespace': namespace},
            'spec': {'chart': chart_spec(service, EXTRA_REPOSITORY), 'interval': '1m0s', 'values': {}}}


# --------------------------------------------------------------------------------------------- kubernetes

def render_kubernetes(release, platform):
    """The kubernetes chart on the proxmox substrate: Cluster, KamajiControlPlane and ProxmoxCluster named as the
    release, and per node group a ProxmoxMachineTemplate, KubeadmConfigTemplate, MachineDeployment and
    MachineHealthCheck."""
    values = release.values
    if values.get('substrate', 'kubevirt') != 'proxmox':
        raise ChartError(missing_kind(release.name, release.namespace, INFRA_API, 'KubevirtCluster'))
    version = KUBERNETES_VERSIONS.get(values.get('version') or DEFAULT_KUBERNETES_VERSION)
    if version is None:
        raise ChartError('execution error at (kubernetes/templates/_versions.tpl:2:3): Kubernetes version {0} is not '
                         'supported, choose one of {1}'.format(values.get('version'), ', '.join(KUBERNETES_VERSIONS)))
    proxmox = values.get('proxmox') or {}
    for field in PROXMOX_REQUIRED:
        if proxmox.get(field) in (None, '', [], {}):
            raise ChartError('execution error at (kubernetes/templates/cluster.yaml:1:4): proxmox.{0} is required on '
                             'the proxmox substrate'.format(field))
    objects = [capi_cluster(release), control_plane(release, version), proxmox_cluster(release, proxmox, platform)]
    for group, spec in sorted((values.get('nodeGroups') or DEFAULT_NODE_GROUPS).items()):
        objects += node_group(release, version, proxmox, group, spec, values.get('nodeHealthCheck') or {})
    return objects


def reference(api_version, kind, name, namespace):
    return {'apiVersion': api_version, 'kind': kind, 'name': name, 'namespace': namespace}


def meta(name, namespace, **extra):
    return dict({'name': name, 'namespace': namespace}, **extra)


def capi_cluster(release):
    return {'apiVersion': CAPI_API, 'kind': 'Cluster', 'metadata': meta(release.name, release.namespace),
            'spec': {'clusterNetwork': {'pods': {'cidrBlocks': ['10.243.0.0/16']},
                                        'services': {'cidrBlocks': ['10.95.0.0/16']}},
                     'controlPlaneRef': reference(KAMAJI_API, 'KamajiControlPlane', release.name, release.namespace),
                     'infrastructureRef': reference(INFRA_API, 'ProxmoxCluster', release.name, release.namespace)}}


def control_plane(release, version):
    values, scope = release.values, release.scope
    host = values.get('host') or '{0}.{1}'.format(release.name, scope.get('host', ''))
    return {'apiVersion': KAMAJI_API, 'kind': 'KamajiControlPlane',
            'metadata': meta(release.name, release.namespace, labels={'cluster.x-k8s.io/role': 'control-plane'},
                             annotations={'kamaji.clastix.io/kubeconfig-secret-key': 'super-admin.svc'}),
            'spec': {'dataStoreName': scope.get('etcd', ''), 'version': version,
                     'replicas': (values.get('controlPlane') or {}).get('replicas', 2),
                     'addons': {'coreDNS': {}, 'konnectivity': {'server': {'port': 8132}}},
                     'kubelet': {'cgroupfs': 'systemd', 'preferredAddressTypes': ['InternalIP', 'ExternalIP']},
                     'network': {'serviceType': 'ClusterIP', 'ingress': {
                         'hostname': host + ':443', 'className': scope.get('ingress', ''),
                         'extraAnnotations': {'nginx.ingress.kubernetes.io/ssl-passthrough': 'true'}}}}}


def proxmox_cluster(release, proxmox, platform):
    host, port = platform.endpoint
    return {'apiVersion': INFRA_API, 'kind': 'ProxmoxCluster', 'metadata': meta(release.name, release.namespace),
            'spec': {'controlPlaneEndpoint': {'host': host, 'port': port}, 'externalManagedControlPlane': True,
                     'ipv4Config': proxmox['ipv4Config'], 'dnsServers': list(proxmox['dnsServers']),
                     'allowedNodes': list(proxmox['allowedNodes'])}}


def node_group(release, version, proxmox, group, spec, health):
    name = '{0}-{1}'.format(release.name, group)
    template = machine_template(proxmox, group, spec)
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:6]
    template_name = '{0}-{1}'.format(name, digest)
    selector = {CLUSTER_NAME_LABEL: release.name, DEPLOYMENT_NAME_LABEL: name}
    roles = dict(('node-role.kubernetes.io/' + role, '') for role in spec.get('roles') or ())
    return [
        {'apiVersion': INFRA_API, 'kind': 'ProxmoxMachineTemplate', 'metadata': meta(template_name, release.namespace),
         'spec': {'template': {'spec': template}}},
        {'apiVersion': BOOTSTRAP_API, 'kind': 'KubeadmConfigTemplate', 'metadata': meta(name, release.namespace),
         'spec': {'template': {'spec': {'joinConfiguration': {'nodeRegistration': {'kubeletExtraArgs': {
             'provider-id': "proxmox://'{{ ds.meta_data.instance_id }}'",
             'node-labels': ','.join(key + '=' for key in sorted(roles))}}}}}}},
        {'apiVersion': CAPI_API, 'kind': 'MachineDeployment', 'metadata': meta(name, release.namespace, annotations={
            'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size': str(spec.get('minReplicas', 0)),
            'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': str(spec.get('maxReplicas', 10))}),
         'spec': {'clusterName': release.name, 'replicas': spec.get('minReplicas', 0),
                  'selector': {'matchLabels': dict(selector)},
                  'template': {'metadata': {'labels': dict(selector, **roles)}, 'spec': {
                      'clusterName': release.name, 'version': version,
                      'bootstrap': {'configRef': reference(BOOTSTRAP_API, 'KubeadmConfigTemplate', name,
                                                           release.namespace)},
                      'infrastructureRef': reference(INFRA_API, 'ProxmoxMachineTemplate', template_name,
                                                     release.namespace)}}}},
        {'apiVersion': CAPI_API, 'kind': 'MachineHealthCheck', 'metadata': meta(name, release.namespace),
         'spec': {'clusterName': release.name, 'maxUnhealthy': health.get('maxUnhealthy', '50%'),
                  'nodeStartupTimeout': health.get('nodeStartupTimeout', '10m'),
                  'selector': {'matchLabels': dict(selector)},
                  'unhealthyConditions': [{'type': 'Ready', 'status': 'Unknown', 'timeout': '30s'},
                                          {'type': 'Ready', 'status': 'False', 'timeout': '300s'}]}},
    ]


def machine_template(proxmox, group, spec):
    """The ProxmoxMachine spec of a node group: the VM template to clone and the group's size."""
    cores, memory = group_size(group, spec)
    disk = spec.get('diskSize') or spec.get('ephemeralStorage') or '20Gi'
    template = {'sourceNode': proxmox['sourceNode'], 'templateID': proxmox['templateID'], 'full': True,
                'numSockets': 1, 'numCores': cores, 'memoryMiB': memory,
                'disks': {'bootVolume': {'disk': 'scsi0', 'sizeGb': math.ceil(quantity(disk, group) / 2 ** 30)}},
                'network': {'default': {'bridge': proxmox['bridge'], 'model': 'virtio'}}}
    template.update((field, proxmox[field]) for field in PROXMOX_OPTIONAL if proxmox.get(field))
    return template


def group_size(group, spec):
    """(cores, memory MiB): resources.cpu and resources.memory, else the instance type's."""
    resources = spec.get('resources') or {}
    if resources.get('cpu') and resources.get('memory'):
        cpu, memory = resources['cpu'], resources['memory']
    else:
        kind = spec.get('instanceType') or 'u1.medium'
        if kind not in INSTANCE_TYPES:
            raise ChartError('execution error at (kubernetes/templates/cluster.yaml:136:8): nodeGroup {0}: specified '
                             'instanceType "{1}" not found in cluster'.format(group, kind))
        cpu, memory = INSTANCE_TYPES[kind]
    text = str(cpu)
    cores = math.ceil(int(text[:-1]) / 1000) if text.endswith('m') else math.ceil(float(text))
    return max(cores, 1), math.ceil(quantity(memory, group) / 2 ** 20)


def quantity(text, group):
    """Bytes of a Kubernetes quantity such as 4Gi, 512Mi or 20G."""
    found = re.fullmatch(r'(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)', str(text).strip())
    if found is None:
        raise ChartError('execution error at (kubernetes/templates/cluster.yaml:136:8): nodeGroup {0}: {1!r} is not '
                         'a quantity'.format(group, text))
    return float(found.group(1)) * BINARY_UNITS[found.group(2)]


CHARTS = {'tenant': render_tenant, 'kubernetes': render_kubernetes}
