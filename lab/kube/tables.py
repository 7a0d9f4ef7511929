"""meta.k8s.io/v1 Table: the rows `kubectl get` prints, with the columns Kubernetes shows per kind.

Columns with priority 0 are printed by default, priority 1 only with `-o wide`. A custom kind shows its
CRD's additionalPrinterColumns (or Age when it declares none).
"""

from collections import namedtuple
from datetime import datetime, timezone

from . import jsonpath, selectors

Column = namedtuple('Column', 'name type priority')
NAME = Column('Name', 'string', 0)
AGE = Column('Age', 'string', 0)
NONE = '<none>'
ACCESS_MODES = {'ReadWriteOnce': 'RWO', 'ReadOnlyMany': 'ROX', 'ReadWriteMany': 'RWX', 'ReadWriteOncePod': 'RWOP'}


def human_duration(seconds):
    """A duration as kubectl prints ages: 45s, 5m3s, 3h20m, 2d5h, 400d, 3y20d."""
    if seconds < -1:
        return '<invalid>'
    seconds = max(0, int(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return '{0}s'.format(seconds)
    if minutes < 10:
        return '{0}m{1}s'.format(minutes, seconds % 60) if seconds % 60 else '{0}m'.format(minutes)
    if minutes < 180:
        return '{0}m'.format(minutes)
    if hours < 8:
        return '{0}h{1}m'.format(hours, minutes % 60) if minutes % 60 else '{0}h'.format(hours)
    if hours < 48:
        return '{0}h'.format(hours)
    if hours < 24 * 8:
        return '{0}d{1}h'.format(days, hours % 24) if hours % 24 else '{0}d'.format(days)
    if days < 365 * 2:
        return '{0}d'.format(days)
    if days < 365 * 8:
        return '{0}y{1}d'.format(days // 365, days % 365) if days % 365 else '{0}y'.format(days // 365)
    return '{0}y'.format(days // 365)


def age(timestamp, now):
    if not timestamp:
        return NONE
    then = datetime.strptime(timestamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc)
    return human_duration((now - then).total_seconds())


def _get(obj, path, default=None):
    return jsonpath.get(obj, path, default)


def _age(obj, now):
    return age(_get(obj, '.metadata.creationTimestamp'), now)


def _columns(*names, wide=()):
    """String columns: names shown by default, wide ones only with -o wide."""
    return [Column(name, 'string', 0) for name in names] + [Column(name, 'string', 1) for name in wide]


def _names_images(obj):
    containers = _get(obj, '.spec.template.spec.containers', [])
    return [','.join(c.get('name', '') for c in containers), ','.join(c.get('image', '') for c in containers)]


def _selector(obj):
    selector = _get(obj, '.spec.selector')
    if isinstance(selector, dict) and ('matchLabels' in selector or 'matchExpressions' in selector):
        return selectors.format_selector(selector) or NONE
    return _pairs(selector)


def _pairs(mapping):
    return ','.join('{0}={1}'.format(key, value) for key, value in sorted((mapping or {}).items())) or NONE


def _pod_status(pod):
    if _get(pod, '.metadata.deletionTimestamp'):
        return 'Terminating'
    reason = _get(pod, '.status.reason') or _get(pod, '.status.phase') or 'Unknown'
    for status in _get(pod, '.status.containerStatuses', []):
        state = status.get('state') or {}
        reason = (state.get('waiting') or {}).get('reason') or (state.get('terminated') or {}).get('reason') or reason
    return reason


def _pod(pod, now):
    statuses = _get(pod, '.status.containerStatuses', [])
    ready = sum(1 for status in statuses if status.get('ready'))
    gates = [gate.get('conditionType') for gate in _get(pod, '.spec.readinessGates', [])]
    passed = sum(1 for gate in gates
                 if _get(pod, '.status.conditions[?(@.type=="{0}")].status'.format(gate)) == 'True')
    return ['{0}/{1}'.format(ready, len(_get(pod, '.spec.containers', []))), _pod_status(pod),
            sum(status.get('restartCount', 0) for status in statuses), _age(pod, now),
            _get(pod, '.status.podIP') or NONE, _get(pod, '.spec.nodeName') or NONE,
            _get(pod, '.status.nominatedNodeName') or NONE, '{0}/{1}'.format(passed, len(gates)) if gates else NONE]


def _node(node, now):
    ready = _get(node, '.status.conditions[?(@.type=="Ready")].status')
    status = {'True': 'Ready', 'False': 'NotReady'}.get(ready, 'Unknown')
    if _get(node, '.spec.unschedulable'):
        status += ',SchedulingDisabled'
    roles = sorted(key.split('/', 1)[1] for key in _get(node, '.metadata.labels', {})
                   if key.startswith('node-role.kubernetes.io/'))
    info = _get(node, '.status.nodeInfo', {})
    return [status, ','.join(roles) or NONE, _age(node, now), info.get('kubeletVersion', ''),
            _get(node, '.status.addresses[?(@.type=="InternalIP")].address') or NONE,
            _get(node, '.status.addresses[?(@.type=="ExternalIP")].address') or NONE,
            info.get('osImage', ''), info.get('kernelVersion', ''), info.get('containerRuntimeVersion', '')]


def _namespace(namespace, now):
    return [_get(namespace, '.status.phase', ''), _age(namespace, now)]


def _deployment(deployment, now):
    return (['{0}/{1}'.format(_get(deployment, '.status.readyReplicas', 0), _get(deployment, '.spec.replicas', 0)),
             _get(deployment, '.status.updatedReplicas', 0), _get(deployment, '.status.availableReplicas', 0),
             _age(deployment, now)] + _names_images(deployment) + [_selector(deployment)])


def _replica_set(replica_set, now):
    return ([_get(replica_set, '.spec.replicas', 0), _get(replica_set, '.status.replicas', 0),
             _get(replica_set, '.status.readyReplicas', 0), _age(replica_set, now)]
            + _names_images(replica_set) + [_selector(replica_set)])


def _stateful_set(stateful_set, now):
    ready = '{0}/{1}'.format(_get(stateful_set, '.status.readyReplicas', 0), _get(stateful_set, '.spec.replicas', 0))
    return [ready, _age(stateful_set, now)] + _names_images(stateful_set)


DAEMON_SET_COUNTS = ('desiredNumberScheduled', 'currentNumberScheduled', 'numberReady', 'updatedNumberScheduled',
                     'numberAvailable')


def _daemon_set(daemon_set, now):
    return ([_get(daemon_set, '.status.' + field, 0) for field in DAEMON_SET_COUNTS]
            + [_pairs(_get(daemon_set, '.spec.template.spec.nodeSelector')), _age(daemon_set, now)]
            + _names_images(daemon_set) + [_selector(daemon_set)])


def _service_ports(service):
    ports = []
    for port in _get(service, '.spec.ports', []):
        node = ':{0}'.format(port['nodePort']) if port.get('nodePort') else ''
        ports.append('{0}{1}/{2}'.format(port.get('port'), node, port.get('protocol', 'TCP')))
    return ','.join(ports) or NONE


def _service(service, now):
    ingress = [item.get('ip') or item.get('hostname') for item in _get(service, '.status.loadBalancer.ingress', [])]
    external = ','.join(ingress + _get(service, '.spec.externalIPs', [])) or (
        '<pending>' if _get(service, '.spec.type') == 'LoadBalancer' else NONE)
    return [_get(service, '.spec.type', ''), _get(service, '.spec.clusterIP') or NONE, external,
            _service_ports(service), _age(service, now), _selector(service)]


def _job_status(job):
    for kind in ('Complete', 'Failed', 'Suspended', 'FailureTarget', 'SuccessCriteriaMet'):
        if _get(job, '.status.conditions[?(@.type=="{0}")].status'.format(kind)) == 'True':
            return kind
    return 'Running'


def _job(job, now):
    start, end = _get(job, '.status.startTime'), _get(job, '.status.completionTime')
    finished = datetime.strptime(end, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc) if end else now
    return ([_job_status(job), '{0}/{1}'.format(_get(job, '.status.succeeded', 0), _get(job, '.spec.completions', 1)),
             age(start, finished) if start else '', _age(job, now)] + _names_images(job) + [_selector(job)])


def _config_map(config_map, now):
    return [len(config_map.get('data') or {}) + len(config_map.get('binaryData') or {}), _age(config_map, now)]


def _secret(secret, now):
    return [secret.get('type', 'Opaque'), len(secret.get('data') or {}), _age(secret, now)]


def _modes(obj):
    return ','.join(ACCESS_MODES.get(mode, mode) for mode in _get(obj, '.spec.accessModes', []))


def _claim(claim, now):
    return [_get(claim, '.status.phase', ''), _get(claim, '.spec.volumeName', ''),
            _get(claim, '.status.capacity.storage', ''), _modes(claim) if _get(claim, '.status.capacity') else '',
            _get(claim, '.spec.storageClassName') or NONE, _get(claim, '.spec.volumeAttributesClassName') or NONE,
            _age(claim, now), _get(claim, '.spec.volumeMode', '')]


def _volume(volume, now):
    ref = _get(volume, '.spec.claimRef')
    return [_get(volume, '.spec.capacity.storage', ''), _modes(volume),
            _get(volume, '.spec.persistentVolumeReclaimPolicy', ''), _get(volume, '.status.phase', ''),
            '{0}/{1}'.format(ref.get('namespace'), ref.get('name')) if ref else '',
            _get(volume, '.spec.storageClassName', ''), _get(volume, '.spec.volumeAttributesClassName') or NONE,
            _get(volume, '.status.reason', ''), _age(volume, now)]


def _storage_class(storage_class, now):
    return [storage_class.get('provisioner', ''), storage_class.get('reclaimPolicy', 'Delete'),
            storage_class.get('volumeBindingMode', 'Immediate'),
            str(bool(storage_class.get('allowVolumeExpansion'))).lower(), _age(storage_class, now)]


def _event(event, now):
    involved = _get(event, '.involvedObject', {})
    last = _get(event, '.lastTimestamp') or _get(event, '.eventTime') or _get(event, '.metadata.creationTimestamp')
    return [age(last and last[:19] + 'Z', now), _get(event, '.type', ''), _get(event, '.reason', ''),
            '{0}/{1}'.format(involved.get('kind', '').lower(), involved.get('name', '')), _get(event, '.message', ''),
            _get(event, '.metadata.name')]


def _created(obj, now):
    return [_age(obj, now)]


WORKLOAD_WIDE = ('Containers', 'Images', 'Selector')
# kind -> (columns after Name, cells after the name)
KINDS = {
    'Pod': (_columns('Ready', 'Status', 'Restarts', 'Age', wide=('IP', 'Node', 'Nominated Node', 'Readiness Gates')),
            _pod),
    'Node': (_columns('Status', 'Roles', 'Age', 'Version', wide=('Internal-IP', 'External-IP', 'OS-Image',
                                                                 'Kernel-Version', 'Container-Runtime')), _node),
    'Namespace': (_columns('Status', 'Age'), _namespace),
    'Deployment': (_columns('Ready', 'Up-to-date', 'Available', 'Age', wide=WORKLOAD_WIDE), _deployment),
    'ReplicaSet': (_columns('Desired', 'Current', 'Ready', 'Age', wide=WORKLOAD_WIDE), _replica_set),
    'StatefulSet': (_columns('Ready', 'Age', wide=('Containers', 'Images')), _stateful_set),
    'DaemonSet': (_columns('Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age',
                           wide=WORKLOAD_WIDE), _daemon_set),
    'Service': (_columns('Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', wide=('Selector',)), _service),
    'Job': (_columns('Status', 'Completions', 'Duration', 'Age', wide=WORKLOAD_WIDE), _job),
    'ConfigMap': (_columns('Data', 'Age'), _config_map),
    'Secret': (_columns('Type', 'Data', 'Age'), _secret),
    'PersistentVolumeClaim': (_columns('Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass',
                                       'VolumeAttributesClass', 'Age', wide=('VolumeMode',)), _claim),
    'PersistentVolume': (_columns('Capacity', 'Access Modes', 'Reclaim Policy', 'Status', 'Claim', 'StorageClass',
                                  'VolumeAttributesClass', 'Reason', 'Age'), _volume),
    'StorageClass': (_columns('Provisioner', 'ReclaimPolicy', 'VolumeBindingMode', 'AllowVolumeExpansion', 'Age'),
                     _storage_class),
    'CustomResourceDefinition': ([Column('Created At', 'date', 0)],
                                 lambda obj, now: [_get(obj, '.metadata.creationTimestamp')]),
}
# Events lead with when they were last seen; their name is only shown with -o wide.
EVENT_COLUMNS = (_columns('Last Seen', 'Type', 'Reason', 'Object', 'Message', wide=('Name',)), _event)


def _layout(rtype):
    """(all columns, function(obj, now) -> all cells) for a kind."""
    if rtype.custom and rtype.printer_columns:
        columns, cells = _printer_columns(rtype.printer_columns)
    elif not rtype.custom and rtype.kind == 'Event':
        return EVENT_COLUMNS
    elif not rtype.custom and rtype.kind in KINDS:
        columns, cells = KINDS[rtype.kind]
    else:
        columns, cells = [AGE], _created
    return [NAME] + columns, lambda obj, now: [obj['metadata']['name']] + cells(obj, now)


def _printer_columns(specs):
    """Columns and cells of a CRD version's additionalPrinterColumns."""
    def cells(obj, now):
        return [_custom_cell(obj, spec, now) for spec in specs]
    return [Column(spec['name'], spec.get('type', 'string'), spec.get('priority', 0)) for spec in specs], cells


def _custom_cell(obj, spec, now):
    try:
        value = jsonpath.get(obj, spec['jsonPath'])
    except ValueError:      # a JSONPath beyond the subset understood here: an empty cell, not a failed get
        return None
    if value is None:
        return None
    if spec.get('type') == 'date':
        return age(value, now)
    return value if isinstance(value, (int, float, bool, str)) else str(value)


def _row_object(obj, include):
    if include == 'Object':
        return obj
    return {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1', 'metadata': obj['metadata']}


def table(rtype, objects, resource_version, include='Metadata', now=None, headers=True):
    """The Table of objects; include: which object each row carries ('None', 'Metadata' or 'Object')."""
    now = now or datetime.now(timezone.utc)
    columns, cells = _layout(rtype)
    rows = []
    for obj in objects:
        row = {'cells': cells(obj, now)}
        if include != 'None':
            row['object'] = _row_object(obj, include)
        rows.append(row)
    definitions = [{'name': column.name, 'type': column.type, 'format': 'name' if column.name == 'Name' else '',
                    'description': '', 'priority': column.priority} for column in columns]
    return {'kind': 'Table', 'apiVersion': 'meta.k8s.io/v1', 'metadata': {'resourceVersion': resource_version},
            'columnDefinitions': definitions if headers else [], 'rows': rows}
