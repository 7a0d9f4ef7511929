"""What the API server and its built-in controllers fill in on a write: defaults and initial status."""

import ipaddress

NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name'
CRD_CLEANUP = 'customresourcecleanup.apiextensions.k8s.io'
# Kinds whose status the creator sets itself (the kubelet registers a Node with its status).
STATUS_KEPT_ON_CREATE = frozenset(['Node'])
INITIAL_PHASE = {'Pod': 'Pending', 'PersistentVolumeClaim': 'Pending', 'PersistentVolume': 'Pending'}
SERVICE_RANGE = ipaddress.ip_network('10.96.0.0/16')
JOB_LABELS = ('batch.kubernetes.io/controller-uid', 'batch.kubernetes.io/job-name', 'controller-uid', 'job-name')


class ClusterIps(object):
    """Hands out Service cluster IPs from SERVICE_RANGE in order, skipping those asked for explicitly; .1 is the
    `kubernetes` Service's."""

    def __init__(self):
        self._hosts = SERVICE_RANGE.hosts()
        self._reserved = set()

    def reserve(self, ip):
        self._reserved.add(ip)

    def next(self):
        return next(ip for ip in map(str, self._hosts) if ip not in self._reserved)


def on_create(rtype, obj, cluster_ips):
    """Defaults and initial status for a new object (metadata.uid is already set)."""
    if rtype.status and rtype.kind not in STATUS_KEPT_ON_CREATE:
        obj.pop('status', None)
    if rtype.kind in INITIAL_PHASE and not rtype.custom:
        obj['status'] = {'phase': INITIAL_PHASE[rtype.kind]}
    if rtype.custom:
        return
    spec = obj.setdefault('spec', {}) if rtype.kind in SPEC_DEFAULTS else None
    if spec is not None:
        SPEC_DEFAULTS[rtype.kind](obj, spec, cluster_ips)
    on_update(rtype, obj)


def on_update(rtype, obj):
    """What the server keeps true on every write of a built-in kind."""
    if rtype.custom:
        return
    if rtype.kind == 'Namespace':
        obj['metadata'].setdefault('labels', {})[NAMESPACE_NAME_LABEL] = obj['metadata']['name']
    elif rtype.kind == 'CustomResourceDefinition':
        obj['status'] = crd_status(obj)


def _namespace(obj, spec, _ips):
    spec.setdefault('finalizers', ['kubernetes'])
    obj['status'] = {'phase': 'Active'}


def _replicas(_obj, spec, _ips):
    spec.setdefault('replicas', 1)


def _deployment(obj, spec, ips):
    _replicas(obj, spec, ips)
    spec.setdefault('strategy', {'type': 'RollingUpdate',
                                 'rollingUpdate': {'maxUnavailable': '25%', 'maxSurge': '25%'}})
    spec.setdefault('revisionHistoryLimit', 10)
    spec.setdefault('progressDeadlineSeconds', 600)


def _pod(_obj, spec, _ips):
    """The pod defaults a scheduler and kubelet rely on."""
    for key, value in (('restartPolicy', 'Always'), ('dnsPolicy', 'ClusterFirst'),
                       ('schedulerName', 'default-scheduler'), ('terminationGracePeriodSeconds', 30)):
        spec.setdefault(key, value)
    for container in spec.get('containers') or ():
        image = container.get('image', '')
        latest = ':' not in image.rpartition('/')[2] or image.endswith(':latest')
        container.setdefault('imagePullPolicy', 'Always' if latest else 'IfNotPresent')


def _service(_obj, spec, cluster_ips):
    spec.setdefault('type', 'ClusterIP')
    if spec['type'] != 'ExternalName' and 'clusterIP' not in spec:
        spec['clusterIP'] = cluster_ips.next()
    elif spec.get('clusterIP') not in (None, '', 'None'):
        cluster_ips.reserve(spec['clusterIP'])
    if spec.get('clusterIP'):
        spec.setdefault('clusterIPs', [spec['clusterIP']])
    for port in spec.get('ports') or ():
        port.setdefault('protocol', 'TCP')
        port.setdefault('targetPort', port.get('port'))


def _job(obj, spec, _ips):
    """Job defaults and the controller-uid selector the Job controller matches its pods by."""
    meta = obj['metadata']
    spec.setdefault('parallelism', 1)
    spec.setdefault('completions', 1)
    spec.setdefault('backoffLimit', 6)
    template = spec.setdefault('template', {})
    labels = template.setdefault('metadata', {}).setdefault('labels', {})
    for key, value in zip(JOB_LABELS, (meta['uid'], meta['name'], meta['uid'], meta['name'])):
        labels.setdefault(key, value)
    spec.setdefault('selector', {'matchLabels': {JOB_LABELS[0]: meta['uid']}})


def _crd(obj, _spec, _ips):
    finalizers = obj['metadata'].setdefault('finalizers', [])
    if CRD_CLEANUP not in finalizers:
        finalizers.append(CRD_CLEANUP)


SPEC_DEFAULTS = {
    'Namespace': _namespace, 'Pod': _pod, 'Deployment': _deployment, 'ReplicaSet': _replicas, 'StatefulSet': _replicas,
    'Service': _service, 'Job': _job, 'CustomResourceDefinition': _crd,
}


def crd_status(crd):
    """The status the apiextensions controller gives a valid CRD: names accepted, established."""
    spec = crd['spec']
    created = crd['metadata'].get('creationTimestamp')
    conditions = [{'type': kind, 'status': 'True', 'reason': reason, 'message': message,
                   'lastTransitionTime': created}
                  for kind, reason, message in (('NamesAccepted', 'NoConflicts', 'no conflicts found'),
                                                ('Established', 'InitialNamesAccepted',
                                                 'the initial names have been accepted'))]
    return {'acceptedNames': dict(spec['names']), 'conditions': conditions,
            'storedVersions': [version['name'] for version in spec['versions'] if version.get('storage')]}
