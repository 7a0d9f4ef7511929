"""What the server serves: ResourceType (one kind in one group/version) and the Catalog of them.

Built-in kinds come from BUILTINS; a CustomResourceDefinition adds one ResourceType per served version
while it exists. Objects are stored per (group, plural), so every served version of a CRD shows the same
objects (no conversion between versions, as with the CRD conversion strategy `None`).
"""

import re
from dataclasses import dataclass, field

VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch')
SUBRESOURCE_VERBS = ('get', 'patch', 'update')
# Fields every kind can be selected by (the API server's metadata field selectors).
META_FIELDS = ('metadata.name', 'metadata.namespace')


@dataclass(frozen=True)
class Scale:
    """Where the /scale subresource reads and writes (CRD JSONPath style: `.spec.replicas`)."""
    spec_replicas: str = '.spec.replicas'
    status_replicas: str = '.status.replicas'
    selector: str = ''     # a string or a LabelSelector object at that path; '' for none


@dataclass(frozen=True)
class ResourceType:
    group: str                       # '' for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple = ()
    categories: tuple = ()
    status: bool = False             # has the /status subresource
    scale: Scale = None              # has the /scale subresource
    fields: tuple = ()               # field selectors beyond META_FIELDS
    name_rule: str = 'subdomain'     # 'subdomain', 'label' (DNS-1123 label) or 'path' (RBAC names)
    singular: str = ''
    printer_columns: tuple = ()      # a CRD version's additionalPrinterColumns (dicts)
    custom: bool = False             # defined by a CRD

    @property
    def key(self):
        """The storage identity: all versions of a group's resource share one."""
        return (self.group, self.plural)

    @property
    def api_version(self):
        return '{0}/{1}'.format(self.group, self.version) if self.group else self.version

    @property
    def singular_name(self):
        return self.singular or self.kind.lower()

    @property
    def list_kind(self):
        return self.kind + 'List'

    @property
    def selectable_fields(self):
        return META_FIELDS + self.fields

    def subresources(self):
        """(name, kind the subresource takes and returns as (group, version, kind))."""
        found = []
        if self.status:
            found.append(('status', (self.group, self.version, self.kind)))
        if self.scale:
            found.append(('scale', ('autoscaling', 'v1', 'Scale')))
        if (self.group, self.kind) == ('', 'Pod'):
            found.append(('log', ('', 'v1', 'Pod')))
        return found


def _builtin(api_version, kind, plural, namespaced, short=(), **options):
    group, _slash, version = api_version.rpartition('/')
    return ResourceType(group, version, kind, plural, namespaced, short, **options)


ALL = ('all',)
WORKLOAD_SCALE = Scale(selector='.spec.selector')
POD_FIELDS = ('spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
              'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName')
EVENT_FIELDS = ('involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
                'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
                'reason', 'reportingComponent', 'source', 'type')

BUILTINS = (
    _builtin('v1', 'Namespace', 'namespaces', False, ('ns',), status=True, fields=('status.phase',),
             name_rule='label'),
    _builtin('v1', 'Pod', 'pods', True, ('po',), categories=ALL, status=True, fields=POD_FIELDS),
    _builtin('v1', 'Service', 'services', True, ('svc',), categories=ALL, status=True, name_rule='label'),
    _builtin('v1', 'Endpoints', 'endpoints', True, ('ep',), singular='endpoints'),
    _builtin('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', True),
    _builtin('v1', 'ConfigMap', 'configmaps', True, ('cm',)),
    _builtin('v1', 'Secret', 'secrets', True, fields=('type',)),
    _builtin('v1', 'Event', 'events', True, ('ev',), fields=EVENT_FIELDS),
    _builtin('v1', 'Node', 'nodes', False, ('no',), status=True, fields=('spec.unschedulable',)),
    _builtin('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', True, ('pvc',), status=True),
    _builtin('v1', 'PersistentVolume', 'persistentvolumes', False, ('pv',), status=True),
    _builtin('v1', 'ServiceAccount', 'serviceaccounts', True, ('sa',)),
    _builtin('v1', 'ResourceQuota', 'resourcequotas', True, ('quota',), status=True),
    _builtin('v1', 'LimitRange', 'limitranges', True, ('limits',)),
    _builtin('apps/v1', 'Deployment', 'deployments', True, ('deploy',), categories=ALL, status=True,
             scale=WORKLOAD_SCALE),
    _builtin('apps/v1', 'DaemonSet', 'daemonsets', True, ('ds',), categories=ALL, status=True),
    _builtin('apps/v1', 'StatefulSet', 'statefulsets', True, ('sts',), categories=ALL, status=True,
             scale=WORKLOAD_SCALE),
    _builtin('apps/v1', 'ReplicaSet', 'replicasets', True, ('rs',), categories=ALL, status=True,
             scale=WORKLOAD_SCALE),
    _builtin('batch/v1', 'Job', 'jobs', True, categories=ALL, status=True, fields=('status.successful',)),
    _builtin('batch/v1', 'CronJob', 'cronjobs', True, ('cj',), categories=ALL, status=True),
    _builtin('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', True, ('netpol',)),
    _builtin('networking.k8s.io/v1', 'Ingress', 'ingresses', True, ('ing',), status=True),
    _builtin('networking.k8s.io/v1', 'IngressClass', 'ingressclasses', False),
    _builtin('storage.k8s.io/v1', 'StorageClass', 'storageclasses', False, ('sc',)),
    _builtin('storage.k8s.io/v1', 'CSIDriver', 'csidrivers', False),
    _builtin('storage.k8s.io/v1', 'CSINode', 'csinodes', False),
    _builtin('storage.k8s.io/v1', 'VolumeAttachment', 'volumeattachments', False, status=True),
    _builtin('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', False,
             ('crd', 'crds'), categories=('api-extensions',), status=True),
    _builtin('coordination.k8s.io/v1', 'Lease', 'leases', True),
    _builtin('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', True, ('pdb',), status=True),
    _builtin('scheduling.k8s.io/v1', 'PriorityClass', 'priorityclasses', False, ('pc',)),
    _builtin('rbac.authorization.k8s.io/v1', 'Role', 'roles', True, name_rule='path'),
    _builtin('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', True, name_rule='path'),
    _builtin('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', False, name_rule='path'),
    _builtin('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', False, name_rule='path'),
)

CRD_KEY = ('apiextensions.k8s.io', 'customresourcedefinitions')
NAMESPACE_KEY = ('', 'namespaces')
POD_KEY = ('', 'pods')
_VERSION = re.compile(r'^v(\d+)(?:(alpha|beta)(\d+))?$')


def version_priority(version):
    """Sort key putting versions in Kubernetes' order: v2, v1, v1beta2, v1beta1, v1alpha1, then others."""
    match = _VERSION.match(version)
    if not match:
        return (3, version)
    major, stage, minor = match.groups()
    return ({None: 0, 'beta': 1, 'alpha': 2}[stage], -int(major), -int(minor or 0))


def crd_types(crd):
    """The ResourceTypes a CustomResourceDefinition object serves, one per served version."""
    spec = crd['spec']
    names = spec['names']
    found = []
    for version in spec['versions']:
        if not version.get('served', True):
            continue
        subresources = version.get('subresources') or {}
        scale = subresources.get('scale')
        found.append(ResourceType(
            spec['group'], version['name'], names['kind'], names['plural'], spec['scope'] == 'Namespaced',
            tuple(names.get('shortNames') or ()), tuple(names.get('categories') or ()),
            status='status' in subresources,
            scale=scale and Scale(scale['specReplicasPath'], scale['statusReplicasPath'],
                                  scale.get('labelSelectorPath') or ''),
            fields=tuple(item['jsonPath'].lstrip('.') for item in version.get('selectableFields') or ()),
            singular=names.get('singular') or '',
            printer_columns=tuple(version.get('additionalPrinterColumns') or ()), custom=True))
    return found


@dataclass
class Catalog:
    """The served ResourceTypes, indexed for routing and discovery."""
    _types: dict = field(default_factory=dict)       # (group, version, plural) -> ResourceType
    _crds: dict = field(default_factory=dict)        # CRD name -> its ResourceTypes

    def __post_init__(self):
        for rtype in BUILTINS:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def lookup(self, group, version, plural):
        """The ResourceType served at /apis/<group>/<version>/<plural>, or None."""
        return self._types.get((group, version, plural))

    def by_kind(self, api_version, kind):
        """The ResourceType of apiVersion and kind (`apps/v1`, `Deployment`), or None."""
        group, _slash, version = api_version.rpartition('/')
        for rtype in self._types.values():
            if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                return rtype
        return None

    def versions_of(self, key):
        """Every served ResourceType storing under key (group, plural)."""
        return [rtype for rtype in self._types.values() if rtype.key == key]

    def groups(self):
        """{group: [versions, preferred first]} of the served groups, the core group '' included."""
        found = {}
        for group, version, _plural in self._types:
            found.setdefault(group, set()).add(version)
        return dict((group, sorted(versions, key=version_priority)) for group, versions in sorted(found.items()))

    def types(self, group, version):
        return [rtype for (g, v, _p), rtype in sorted(self._types.items()) if (g, v) == (group, version)]

    def serve_crd(self, crd):
        """Serve (or re-serve after an update) what the CRD object defines."""
        self.forget_crd(crd['metadata']['name'])
        types = crd_types(crd)
        self._crds[crd['metadata']['name']] = types
        for rtype in types:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def forget_crd(self, name):
        for rtype in self._crds.pop(name, ()):
            self._types.pop((rtype.group, rtype.version, rtype.plural), None)
