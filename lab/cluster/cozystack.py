"""CozyStack's apps layer in the management cluster: the apps.cozystack.io Tenant and Kubernetes apps, the Flux
HelmReleases they become, the helm-controller installing CozyStack's charts (cozystack_charts.py), Kamaji's
side of a tenant cluster (its admin kubeconfig Secret and control plane status), and what CozyStack holds at
start (version ConfigMaps, the platform's own HelmReleases, the root tenant).

In CozyStack the apps are served by cozystack-api, an aggregated API in front of HelmReleases named
`<prefix><name>`; here they are CRDs, and the app controller keeps that HelmRelease (owned by the app) in step
with the app's spec and copies the release's conditions back. Rendered objects carry Flux's labels
(`helm.toolkit.fluxcd.io/name`, `.../namespace`), which is how an upgrade prunes them and an uninstall finds them.
"""

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import conditions
from .capi import ensure_labels, labelled
from .cozystack_charts import (CHARTS, HELM_API, KAMAJI_API, ROOT_NAMESPACE, SYSTEM_LABEL, VALUES_SECRET,
                               ChartError, Platform, Release, chart_spec, missing_kind, tenant_namespace,
                               values_secret)
from .kinds import CLUSTER, MACHINE_DEPLOYMENT, MACHINE_HEALTH_CHECK, PROXMOX_CLUSTER, SECRET
from .runtime import (add_finalizer, delete_if_present, deleting, find, owner_reference, patch_status,
                      remove_finalizer)
from .seed import b64

log = logging.getLogger('lab.cluster.cozystack')

APPS_GROUP = 'apps.cozystack.io'
APPS_API = APPS_GROUP + '/v1alpha1'
HELM_RELEASE = (HELM_API, 'HelmRelease')
KAMAJI_CONTROL_PLANE = (KAMAJI_API, 'KamajiControlPlane')
NAMESPACE = ('v1', 'Namespace')
CONFIG_MAP = ('v1', 'ConfigMap')
NETWORK_POLICY = ('networking.k8s.io/v1', 'NetworkPolicy')
RELEASED_KINDS = (NAMESPACE, SECRET, NETWORK_POLICY, HELM_RELEASE, CLUSTER, KAMAJI_CONTROL_PLANE, PROXMOX_CLUSTER,
                  ('infrastructure.cluster.x-k8s.io/v1alpha1', 'ProxmoxMachineTemplate'),
                  ('bootstrap.cluster.x-k8s.io/v1beta1', 'KubeadmConfigTemplate'), MACHINE_DEPLOYMENT,
                  MACHINE_HEALTH_CHECK)
UNINSTALL_FIRST = ('Cluster',)     # Cluster API removes machines, then infrastructure, before the rest may go
FLUX_FINALIZER = 'finalizers.fluxcd.io'
RELEASE_NAME_LABEL = 'helm.toolkit.fluxcd.io/name'
RELEASE_NAMESPACE_LABEL = 'helm.toolkit.fluxcd.io/namespace'
APP_KIND_LABEL = 'apps.cozystack.io/application.kind'
APP_GROUP_LABEL = 'apps.cozystack.io/application.group'
APP_NAME_LABEL = 'apps.cozystack.io/application.name'
USER_LABEL_PREFIX = 'apps.cozystack.io-'
APPS_REPOSITORY = ('cozystack-apps', 'cozy-public')
SYSTEM_REPOSITORY = ('cozystack-system', 'cozy-system')
CHART_VERSIONS = {'tenant': '1.9.2', 'kubernetes': '0.24.2'}   # others: 0.0.0, CozyStack's system charts' placeholder
HISTORY = 5                        # release snapshots kept in status.history
ISOLATION_FAULT = 'tenant-isolation-broken'
FAILED_FAULT = 'helmrelease-failed'
COZYSTACK_VERSION = '13'           # cozy-system/cozystack-version `version`: the platform's migration level
ROOT_HOST = 'example.org'
CLUSTER_CONFIG = {'bundle-name': 'paas-full', 'root-host': ROOT_HOST,
                  'api-server-endpoint': 'https://api.example.org:443', 'cluster-domain': 'cozy.local',
                  'ipv4-pod-cidr': '10.244.0.0/16', 'ipv4-pod-gateway': '10.244.0.1', 'ipv4-svc-cidr': '10.96.0.0/16',
                  'ipv4-join-cidr': '100.64.0.0/16'}
ROOT_VALUES = {'host': ROOT_HOST, 'etcd': True, 'monitoring': True, 'ingress': True, 'isolated': True}
ROOT_SCOPE = {'host': ROOT_HOST, 'etcd': ROOT_NAMESPACE, 'ingress': ROOT_NAMESPACE, 'monitoring': ROOT_NAMESPACE,
              'seaweedfs': ''}
NETWORKING = ({'name': 'cilium', 'namespace': 'cozy-cilium'}, {'name': 'kubeovn', 'namespace': 'cozy-kubeovn'})
SYSTEM_RELEASES = (    # (namespace, name, chart): the platform's own components
    ('cozy-cilium', 'cilium', 'cozy-cilium'), ('cozy-kubeovn', 'kubeovn', 'cozy-kubeovn'),
    ('cozy-fluxcd', 'fluxcd', 'cozy-fluxcd'), ('cozy-cert-manager', 'cert-manager', 'cozy-cert-manager'),
    ('cozy-cluster-api', 'capi-operator', 'cozy-capi-operator'),
    ('cozy-cluster-api', 'capi-providers', 'cozy-capi-providers'), ('cozy-kamaji', 'kamaji', 'cozy-kamaji'),
    ('cozy-victoria-metrics-operator', 'victoria-metrics-operator', 'cozy-victoria-metrics-operator'),
    ('cozy-grafana-operator', 'grafana-operator', 'cozy-grafana-operator'),
    ('cozy-system', 'cozystack-api', 'cozy-cozystack-api'),
)
ADMIN_KUBECONFIG_KEYS = ('admin.conf', 'admin.svc', 'super-admin.conf', 'super-admin.svc')


@dataclass(frozen=True)
class AppKind:
    """An apps.cozystack.io kind and the chart its HelmRelease `<prefix><name>` installs."""
    kind: str
    prefix: str
    chart: str

    @property
    def ref(self):
        return APPS_API, self.kind


TENANT = AppKind('Tenant', 'tenant-', 'tenant')
KUBERNETES = AppKind('Kubernetes', 'kubernetes-', 'kubernetes')


def set_condition(items, kind, status, reason, message, generation=None):
    """A new list of metav1 conditions (Flux's and the apps'): kind set, its lastTransitionTime kept while the
    status stays; Ready first."""
    old = conditions.get(items, kind)
    since = old['lastTransitionTime'] if old and old.get('status') == status else conditions.now()
    item = {'type': kind, 'status': status, 'reason': reason, 'message': message, 'lastTransitionTime': since}
    if generation is not None:
        item['observedGeneration'] = generation
    others = [entry for entry in items or () if entry.get('type') != kind]
    return sorted(others + [item], key=lambda entry: (entry['type'] != 'Ready', entry['type']))


def ensure_namespace(store, name, labels):
    """The namespace, created or given these labels."""
    kind = store.kind(*NAMESPACE)
    current = find(store, kind, name)
    if current is None:
        return store.create(kind, {'metadata': {'name': name, 'labels': labels}})
    return ensure_labels(store, kind, current, labels)


# -------------------------------------------------------------------------------------------- releases

def released_by(obj):
    """A watch mapper: an object a release installed -> that HelmRelease's key."""
    labels = obj['metadata'].get('labels') or {}
    if labels.get(RELEASE_NAME_LABEL) and labels.get(RELEASE_NAMESPACE_LABEL):
        return [(labels[RELEASE_NAMESPACE_LABEL], labels[RELEASE_NAME_LABEL])]
    return []


def released(store, hr):
    """(ResourceType, object) of everything the release installed, in any namespace."""
    meta = hr['metadata']
    selector = '{0}={1},{2}={3}'.format(RELEASE_NAME_LABEL, meta['name'], RELEASE_NAMESPACE_LABEL, meta['namespace'])
    found = []
    for ref in RELEASED_KINDS:
        kind = store.kind(*ref)
        found += [(kind, obj) for obj in store.list(kind, labels=selector)[0]]
    return found


def chart_of(hr):
    return hr['spec']['chart']['spec']['chart']


def up_to_date(hr):
    """Installed (or upgraded) at its current generation."""
    status = hr.get('status') or {}
    return status.get('observedGeneration') == hr['metadata'].get('generation') and conditions.is_true(
        status.get('conditions'), 'Ready')


def namespace_values(store, namespace):
    """(_cluster, _namespace) from the namespace's cozystack-values Secret ({} and {} without one)."""
    secret = find(store, store.kind(*SECRET), VALUES_SECRET, namespace)
    if secret is None:
        return {}, {}
    values = json.loads(base64.b64decode(secret['data']['values.yaml']).decode())
    return values.get('_cluster') or {}, values.get('_namespace') or {}


def render(store, hr, platform):
    """The objects the release's chart makes (none for a chart the lab does not render); ChartError."""
    renderer = CHARTS.get(chart_of(hr))
    if renderer is None:
        return []
    meta = hr['metadata']
    cluster, scope = namespace_values(store, meta['namespace'])
    owner = store.get(store.kind(*NAMESPACE), meta['namespace'])
    return renderer(Release(meta['name'], meta['namespace'], hr['spec'].get('values') or {}, scope, cluster,
                            owner['metadata']['uid']), platform)


def put(store, hr, objects):
    """Create or update the rendered objects, with Helm's and Flux's marks; delete what the release no longer
    renders."""
    meta = hr['metadata']
    labels = {RELEASE_NAME_LABEL: meta['name'], RELEASE_NAMESPACE_LABEL: meta['namespace'],
              'app.kubernetes.io/managed-by': 'Helm'}
    annotations = {'meta.helm.sh/release-name': meta['name'], 'meta.helm.sh/release-namespace': meta['namespace']}
    kept = set()
    for manifest in objects:
        kept.add(apply(store, manifest, labels, annotations)['metadata']['uid'])
    for kind, obj in released(store, hr):
        if obj['metadata']['uid'] not in kept:
            delete_if_present(store, kind, obj['metadata']['name'], obj['metadata'].get('namespace'))


def apply(store, manifest, labels, annotations):
    kind = store.kind(manifest['apiVersion'], manifest['kind'])
    meta = manifest['metadata']
    meta['labels'] = dict(meta.get('labels') or {}, **labels)
    meta['annotations'] = dict(meta.get('annotations') or {}, **annotations)
    if find(store, kind, meta['name'], meta.get('namespace')) is None:
        return store.create(kind, manifest)
    body = dict((key, value) for key, value in manifest.items() if key not in ('apiVersion', 'kind'))
    return store.patch(kind, meta['name'], body, 'merge', meta.get('namespace'))


def install(store, hr, platform, failure=None):
    """Install (or upgrade) the release as Flux's helm-controller does: render, apply, prune, and report in the
    status; a chart that fails (or `failure`, a Helm error, at install) leaves Ready False with Helm's message."""
    kind = store.kind(*HELM_RELEASE)
    history = (hr.get('status') or {}).get('history') or []
    action = 'upgrade' if history else 'install'
    try:
        if failure and not history:
            raise ChartError(failure)
        put(store, hr, render(store, hr, platform))
    except ChartError as err:
        return patch_status(store, kind, hr, release_status(hr, action, history, str(err)))
    return patch_status(store, kind, hr, release_status(hr, action, history))


def release_status(hr, action, history, error=None):
    """HelmRelease status after an install or upgrade (failed with Helm's error when given)."""
    meta, chart = hr['metadata'], chart_of(hr)
    version = CHART_VERSIONS.get(chart, '0.0.0')
    generation = meta.get('generation')
    values = json.dumps(hr['spec'].get('values') or {}, sort_keys=True)
    digest = 'sha256:' + hashlib.sha256(values.encode()).hexdigest()
    source = hr['spec']['chart']['spec'].get('sourceRef') or {}
    status = {'observedGeneration': generation, 'lastAttemptedGeneration': generation,
              'lastAttemptedRevision': version, 'lastAttemptedConfigDigest': digest,
              'lastAttemptedReleaseAction': action, 'storageNamespace': meta['namespace'],
              'helmChart': '{0}/{1}-{2}'.format(source.get('namespace') or meta['namespace'], meta['namespace'],
                                                meta['name'])}
    items = (hr.get('status') or {}).get('conditions') or []
    if error is not None:
        message = 'Helm {0} failed for release {1}/{2} with chart {3}@{4}: {5}'.format(
            action, meta['namespace'], meta['name'], chart, version, error)
        reason = action.capitalize() + 'Failed'
        for kind in ('Ready', 'Released'):
            items = set_condition(items, kind, 'False', reason, message, generation)
        return dict(status, conditions=items)
    number = history[0]['version'] + 1 if history else 1
    message = 'Helm {0} succeeded for release {1}/{2}.v{3} with chart {4}@{5}'.format(
        action, meta['namespace'], meta['name'], number, chart, version)
    for kind in ('Ready', 'Released'):
        items = set_condition(items, kind, 'True', action.capitalize() + 'Succeeded', message, generation)
    snapshot = {'name': meta['name'], 'namespace': meta['namespace'], 'version': number, 'status': 'deployed',
                'chartName': chart, 'chartVersion': version, 'configDigest': digest,
                'digest': 'sha256:' + hashlib.sha256('{0}.v{1}'.format(digest, number).encode()).hexdigest(),
                'firstDeployed': history[-1]['firstDeployed'] if history else conditions.now(),
                'lastDeployed': conditions.now()}
    older = [dict(item, status='superseded') for item in history[:HISTORY - 1]]
    return dict(status, history=[snapshot] + older, conditions=items)


class HelmController(object):
    """Flux's helm-controller for every HelmRelease: installs and upgrades (cozystack_charts renders the app
    charts; other charts install nothing the lab models), and uninstalls behind the finalizer, Cluster API's
    Clusters first, waiting until what the release installed is gone."""

    name = 'helmrelease'
    primary = HELM_RELEASE

    def __init__(self, mgmt, faults, endpoint):
        self.mgmt = mgmt
        self.faults = faults
        self.endpoint = endpoint        # (host, port) of the tenant API server
        self.related = [(mgmt, ref, released_by) for ref in RELEASED_KINDS]

    def platform(self):
        return Platform(self.endpoint, not self.faults.active(ISOLATION_FAULT))

    async def reconcile(self, key):
        kind = self.mgmt.kind(*HELM_RELEASE)
        hr = find(self.mgmt, kind, key[1], key[0])
        if hr is None:
            return None
        if deleting(hr):
            self._uninstall(kind, hr)
            return None
        hr = add_finalizer(self.mgmt, kind, hr, FLUX_FINALIZER)
        if not up_to_date(hr):
            install(self.mgmt, hr, self.platform(), self._injected_failure(hr))
        return None

    def _injected_failure(self, hr):
        """Helm's error for an app release while helmrelease-failed is active: a kind its chart renders is not
        served (Cilium's policies for a tenant, Kamaji's control plane for a Kubernetes app)."""
        labels = hr['metadata'].get('labels') or {}
        if not self.faults.active(FAILED_FAULT) or APP_KIND_LABEL not in labels:
            return None
        meta = hr['metadata']
        if chart_of(hr) == TENANT.chart:
            namespace = tenant_namespace(meta['namespace'], meta['name'][len(TENANT.prefix):])
            return missing_kind('allow-internal-communication', namespace, 'cilium.io/v2', 'CiliumNetworkPolicy')
        return missing_kind(meta['name'], meta['namespace'], KAMAJI_API, 'KamajiControlPlane')

    def _uninstall(self, kind, hr):
        objects = released(self.mgmt, hr)
        first = [(inner, obj) for inner, obj in objects if obj['kind'] in UNINSTALL_FIRST]
        for inner, obj in first or objects:
            delete_if_present(self.mgmt, inner, obj['metadata']['name'], obj['metadata'].get('namespace'))
        if not objects:
            log.info('helmrelease %s/%s: uninstalled', hr['metadata']['namespace'], hr['metadata']['name'])
            remove_finalizer(self.mgmt, kind, hr, FLUX_FINALIZER)

    def apply_fault(self, name, active):
        """tenant-isolation-broken: the tenant releases' policies go; once cleared, the releases put them back."""
        if name != ISOLATION_FAULT:
            return
        if active:
            policies = self.mgmt.kind(*NETWORK_POLICY)
            for policy in self.mgmt.list(policies)[0]:
                if (policy['metadata'].get('labels') or {}).get(RELEASE_NAME_LABEL, '').startswith(TENANT.prefix):
                    delete_if_present(self.mgmt, policies, policy['metadata']['name'],
                                      policy['metadata']['namespace'])
            return
        for hr in self.mgmt.list(self.mgmt.kind(*HELM_RELEASE))[0]:
            if chart_of(hr) == TENANT.chart and up_to_date(hr) and not deleting(hr):
                put(self.mgmt, hr, render(self.mgmt, hr, self.platform()))


# ------------------------------------------------------------------------------------------------- apps

def release_manifest(app_kind, app):
    """The HelmRelease cozystack-api makes of an app (owned by the app here, as the app is an object)."""
    meta = app['metadata']
    labels = dict((USER_LABEL_PREFIX + key, value) for key, value in (meta.get('labels') or {}).items())
    labels.update({'cozystack.io/ui': 'true', APP_KIND_LABEL: app_kind.kind, APP_GROUP_LABEL: APPS_GROUP,
                   APP_NAME_LABEL: meta['name']})
    return {'apiVersion': HELM_API, 'kind': 'HelmRelease',
            'metadata': {'name': app_kind.prefix + meta['name'], 'namespace': meta['namespace'], 'labels': labels,
                         'ownerReferences': [owner_reference(app)]},
            'spec': {'chart': chart_spec(app_kind.chart, APPS_REPOSITORY), 'interval': '5m0s',
                     'install': {'remediation': {'retries': -1}}, 'upgrade': {'remediation': {'retries': -1}},
                     'valuesFrom': [{'kind': 'Secret', 'name': VALUES_SECRET}], 'values': app.get('spec') or {}}}


def sync_release(store, app_kind, app):
    """The app's HelmRelease, created or updated to the app's spec and labels; None while an old one with that
    name is still being uninstalled."""
    kind = store.kind(*HELM_RELEASE)
    desired = release_manifest(app_kind, app)
    current = find(store, kind, desired['metadata']['name'], desired['metadata']['namespace'])
    if current is None:
        return store.create(kind, desired)
    if deleting(current):
        return None
    labels = dict(current['metadata'].get('labels') or {}, **desired['metadata']['labels'])
    if current['spec'] == desired['spec'] and labels == current['metadata'].get('labels'):
        return current
    return store.update(kind, dict(current, spec=desired['spec'], metadata=dict(current['metadata'], labels=labels)))


class AppReconciler(object):
    """cozystack-api's part for one app kind: the app's HelmRelease follows its spec; the app's status shows the
    release's Ready and Released conditions and chart version (Tenant: the namespace it gets; Kubernetes:
    WorkloadsReady once every node group has its replicas ready)."""

    def __init__(self, mgmt, app_kind):
        self.mgmt = mgmt
        self.app_kind = app_kind
        self.name = app_kind.kind.lower()
        self.primary = app_kind.ref
        self.related = [(mgmt, HELM_RELEASE, self._apps_of)]
        if app_kind is KUBERNETES:
            self.related.append((mgmt, MACHINE_DEPLOYMENT, self._apps_of))

    def _apps_of(self, obj):
        """A watch mapper: the app's HelmRelease, or an object its release installed -> the app's key."""
        labels = obj['metadata'].get('labels') or {}
        if labels.get(APP_KIND_LABEL) == self.app_kind.kind:
            return [(obj['metadata']['namespace'], labels.get(APP_NAME_LABEL, ''))]
        release = labels.get(RELEASE_NAME_LABEL, '')
        if release.startswith(self.app_kind.prefix) and labels.get(RELEASE_NAMESPACE_LABEL):
            return [(labels[RELEASE_NAMESPACE_LABEL], release[len(self.app_kind.prefix):])]
        return []

    async def reconcile(self, key):
        apps = self.mgmt.kind(*self.app_kind.ref)
        app = find(self.mgmt, apps, key[1], key[0])
        if app is None or deleting(app):
            return None         # the HelmRelease goes with its owner
        hr = sync_release(self.mgmt, self.app_kind, app)
        self._status(apps, app, hr)
        return None

    def _status(self, apps, app, hr):
        hr_status = (hr or {}).get('status') or {}
        items = [dict((key, value) for key, value in item.items() if key != 'observedGeneration')
                 for item in hr_status.get('conditions') or () if item['type'] in ('Ready', 'Released')]
        status = {'version': hr_status.get('lastAttemptedRevision'), 'conditions': items}
        meta = app['metadata']
        if self.app_kind is TENANT:
            status['namespace'] = tenant_namespace(meta['namespace'], meta['name'])
        elif hr is not None and up_to_date(hr):
            workloads = self._workloads((app.get('status') or {}).get('conditions'), hr)
            status['conditions'] = items + [conditions.get(workloads, 'WorkloadsReady')]
        patch_status(self.mgmt, apps, app, status)

    def _workloads(self, previous, hr):
        """WorkloadsReady: every MachineDeployment of the release has all its replicas ready."""
        meta = hr['metadata']
        deployments = labelled(self.mgmt, MACHINE_DEPLOYMENT, meta['namespace'], {
            RELEASE_NAME_LABEL: meta['name'], RELEASE_NAMESPACE_LABEL: meta['namespace']})
        waiting = ['{0}: {1} of {2} replicas ready'.format(md['metadata']['name'],
                                                           (md.get('status') or {}).get('readyReplicas') or 0,
                                                           md['spec'].get('replicas', 1))
                   for md in deployments if ((md.get('status') or {}).get('readyReplicas') or 0)
                   != md['spec'].get('replicas', 1)]
        if waiting:
            return set_condition(previous, 'WorkloadsReady', 'False', 'WorkloadMonitorCheck', '; '.join(waiting))
        return set_condition(previous, 'WorkloadsReady', 'True', 'WorkloadMonitorCheck',
                             'All workloads are operational')


# ----------------------------------------------------------------------------------------------- Kamaji

class KamajiReconciler(object):
    """Kamaji's part for a KamajiControlPlane: the tenant control plane is up (the lab's tenant API server), its
    admin kubeconfig is in Secret `<name>-admin-kubeconfig` (admin.conf, admin.svc, super-admin.conf,
    super-admin.svc), and the status says ready."""

    name = 'kamajicontrolplane'
    primary = KAMAJI_CONTROL_PLANE

    def __init__(self, mgmt, kubeconfig):
        self.mgmt = mgmt
        self._kubeconfig = kubeconfig     # () -> the tenant cluster's kubeconfig text
        self.related = []

    async def reconcile(self, key):
        kind = self.mgmt.kind(*KAMAJI_CONTROL_PLANE)
        kcp = find(self.mgmt, kind, key[1], key[0])
        if kcp is None or deleting(kcp):
            return None
        self._admin_kubeconfig(kcp)
        replicas = kcp['spec'].get('replicas', 2)
        patch_status(self.mgmt, kind, kcp, {
            'ready': True, 'initialized': True, 'externalManagedControlPlane': True,
            'version': kcp['spec'].get('version'), 'replicas': replicas, 'readyReplicas': replicas,
            'updatedReplicas': replicas, 'unavailableReplicas': 0})
        return None

    def _admin_kubeconfig(self, kcp):
        secrets = self.mgmt.kind(*SECRET)
        meta = kcp['metadata']
        name = meta['name'] + '-admin-kubeconfig'
        if find(self.mgmt, secrets, name, meta['namespace']) is None:
            text = b64(self._kubeconfig())
            self.mgmt.create(secrets, {
                'metadata': {'name': name, 'namespace': meta['namespace'],
                             'labels': {'kamaji.clastix.io/name': meta['name']},
                             'ownerReferences': [owner_reference(kcp)]},
                'type': 'Opaque', 'data': dict((key, text) for key in ADMIN_KUBECONFIG_KEYS)})


class CozyStack(object):
    """The apps layer's controllers, and its part of the faults."""

    def __init__(self, mgmt, faults, tenant_server):
        address = urlsplit(tenant_server.url)
        self.helm = HelmController(mgmt, faults, (address.hostname, address.port))
        self._reconcilers = [AppReconciler(mgmt, TENANT), AppReconciler(mgmt, KUBERNETES), self.helm,
                             KamajiReconciler(mgmt, tenant_server.kubeconfig_text)]

    def reconcilers(self):
        return list(self._reconcilers)

    def apply_fault(self, name, active):
        self.helm.apply_fault(name, active)


# ------------------------------------------------------------------------------------------------- seed

def seed_cozystack(store):
    """What a CozyStack management cluster holds at start: cozy-system's ConfigMaps, the platform's
    HelmReleases (Ready), tenant-root with its cozystack-values and the root Tenant, installed."""
    ensure_namespace(store, 'cozy-public', {SYSTEM_LABEL: 'true'})
    for namespace in sorted(set(namespace for namespace, _name, _chart in SYSTEM_RELEASES)):
        ensure_namespace(store, namespace, {SYSTEM_LABEL: 'true'})
    config_maps = store.kind(*CONFIG_MAP)
    store.create(config_maps, {'metadata': {'name': 'cozystack-version', 'namespace': 'cozy-system',
                                            'labels': {'platform.cozystack.io/no-delete': 'true'}},
                               'data': {'version': COZYSTACK_VERSION}})
    store.create(config_maps, {'metadata': {'name': 'cozystack', 'namespace': 'cozy-system'},
                               'data': dict(CLUSTER_CONFIG)})
    for namespace, name, chart in SYSTEM_RELEASES:
        store.create(store.kind(*HELM_RELEASE), system_release(namespace, name, chart))
    labels = dict(('namespace.cozystack.io/' + key, value) for key, value in ROOT_SCOPE.items())
    ensure_namespace(store, ROOT_NAMESPACE, dict(labels, **{'tenant.cozystack.io/' + ROOT_NAMESPACE: ''}))
    store.create(store.kind(*SECRET), values_secret(ROOT_NAMESPACE, CLUSTER_CONFIG, ROOT_SCOPE))
    root = store.create(store.kind(*TENANT.ref), {'metadata': {'name': 'root', 'namespace': ROOT_NAMESPACE},
                                                  'spec': dict(ROOT_VALUES)})
    install(store, sync_release(store, TENANT, root), Platform())
    for hr in store.list(store.kind(*HELM_RELEASE))[0]:
        if not up_to_date(hr):
            install(store, hr, Platform())


def system_release(namespace, name, chart):
    """A HelmRelease of the platform's own components, as CozyStack's platform chart makes it: everything but
    the network waits for Cilium and Kube-OVN."""
    names = [item['name'] for item in NETWORKING]
    depends = list(NETWORKING[:names.index(name)] if name in names else NETWORKING)
    return {'metadata': {'name': name, 'namespace': namespace,
                         'labels': {'cozystack.io/repository': 'system', 'cozystack.io/system-app': 'true'}},
            'spec': {'chart': chart_spec(chart, SYSTEM_REPOSITORY), 'interval': '5m0s', 'releaseName': name,
                     'install': {'remediation': {'retries': -1}}, 'upgrade': {'remediation': {'retries': -1}},
                     'dependsOn': [dict(item) for item in depends]}}
