"""Reads the Kubernetes protobuf bodies kubectl's typed clients send (`kubectl create namespace|deployment|...`).

client-go sends built-in objects as `k8s\\x00` + runtime.Unknown{typeMeta, raw}, raw being the object's
protobuf encoding. Only the messages below are known: those the `kubectl create` generators fill. Any other
field with a value is refused (ProtobufError, answered 415) rather than silently dropped; zero values are
left out, as JSON's omitempty would.
"""

import base64
from datetime import datetime, timezone

MAGIC = b'k8s\x00'
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

# Message schemas: `number name[:type][*][?]`; type defaults to string, * repeated, ? keep zero values
# (a pointer field in Go). Types: string, int, bool, map (string -> string), bytesmap (string -> base64),
# quantities (string -> Quantity), time, intstr, skip (ignored), inline:<Message> (fields merged into the
# parent, as Go's inline JSON), or a message name.
SCHEMAS = {
    'ObjectMeta': '1 name; 2 generateName; 3 namespace; 4 selfLink; 5 uid; 6 resourceVersion; 7 generation:int; '
                  '8 creationTimestamp:time; 9 deletionTimestamp:time; 10 deletionGracePeriodSeconds:int?; '
                  '11 labels:map; 12 annotations:map; 13 ownerReferences:OwnerReference*; 14 finalizers*',
    'OwnerReference': '1 kind; 3 name; 4 uid; 5 apiVersion; 6 controller:bool?; 7 blockOwnerDeletion:bool?',
    'LabelSelector': '1 matchLabels:map; 2 matchExpressions:LabelSelectorRequirement*',
    'LabelSelectorRequirement': '1 key; 2 operator; 3 values*',
    'DeleteOptions': '1 gracePeriodSeconds:int?; 2 preconditions:Preconditions; 3 orphanDependents:bool?; '
                     '4 propagationPolicy?; 5 dryRun*',
    'Preconditions': '1 uid?; 2 resourceVersion?',
    'Namespace': '1 metadata:ObjectMeta; 2 spec:NamespaceSpec; 3 status:skip',
    'NamespaceSpec': '1 finalizers*',
    'ConfigMap': '1 metadata:ObjectMeta; 2 data:map; 3 binaryData:bytesmap; 4 immutable:bool?',
    'Secret': '1 metadata:ObjectMeta; 2 data:bytesmap; 3 type; 4 stringData:map; 5 immutable:bool?',
    'ServiceAccount': '1 metadata:ObjectMeta; 2 secrets:ObjectReference*; 3 imagePullSecrets:LocalObjectReference*; '
                      '4 automountServiceAccountToken:bool?',
    'ObjectReference': '1 kind; 2 namespace; 3 name; 4 uid; 5 apiVersion; 6 resourceVersion; 7 fieldPath',
    'LocalObjectReference': '1 name',
    'ResourceQuota': '1 metadata:ObjectMeta; 2 spec:ResourceQuotaSpec; 3 status:skip',
    'ResourceQuotaSpec': '1 hard:quantities; 2 scopes*',
    'Service': '1 metadata:ObjectMeta; 2 spec:ServiceSpec; 3 status:skip',
    'ServiceSpec': '1 ports:ServicePort*; 2 selector:map; 3 clusterIP; 4 type; 5 externalIPs*; 7 sessionAffinity; '
                   '8 loadBalancerIP; 9 loadBalancerSourceRanges*; 10 externalName; 11 externalTrafficPolicy; '
                   '12 healthCheckNodePort:int; 13 publishNotReadyAddresses:bool; 18 clusterIPs*',
    'ServicePort': '1 name; 2 protocol; 3 port:int; 4 targetPort:intstr; 5 nodePort:int; 6 appProtocol?',
    'PodTemplateSpec': '1 metadata:ObjectMeta; 2 spec:PodSpec',
    'PodSpec': '2 containers:Container*; 3 restartPolicy; 4 terminationGracePeriodSeconds:int?; '
               '5 activeDeadlineSeconds:int?; 6 dnsPolicy; 7 nodeSelector:map; 8 serviceAccountName; 9 serviceAccount; '
               '10 nodeName; 11 hostNetwork:bool; 12 hostPID:bool; 13 hostIPC:bool; '
               '15 imagePullSecrets:LocalObjectReference*; 16 hostname; 17 subdomain; 19 schedulerName; '
               '20 initContainers:Container*; 21 automountServiceAccountToken:bool?; 22 tolerations:Toleration*; '
               '24 priorityClassName; 25 priority:int?; 29 runtimeClassName?; 30 enableServiceLinks:bool?',
    'Toleration': '1 key; 2 operator; 3 value; 4 effect; 5 tolerationSeconds:int?',
    'Container': '1 name; 2 image; 3 command*; 4 args*; 5 workingDir; 6 ports:ContainerPort*; 7 env:EnvVar*; '
                 '8 resources:ResourceRequirements; 9 volumeMounts:VolumeMount*; 13 terminationMessagePath; '
                 '14 imagePullPolicy; 16 stdin:bool; 17 stdinOnce:bool; 18 tty:bool; 20 terminationMessagePolicy',
    'ContainerPort': '1 name; 2 hostPort:int; 3 containerPort:int; 4 protocol; 5 hostIP',
    'EnvVar': '1 name; 2 value',
    'ResourceRequirements': '1 limits:quantities; 2 requests:quantities',
    'VolumeMount': '1 name; 2 readOnly:bool; 3 mountPath; 4 subPath',
    'Deployment': '1 metadata:ObjectMeta; 2 spec:DeploymentSpec; 3 status:skip',
    'DeploymentSpec': '1 replicas:int?; 2 selector:LabelSelector; 3 template:PodTemplateSpec; '
                      '4 strategy:DeploymentStrategy; 5 minReadySeconds:int; 6 revisionHistoryLimit:int?; '
                      '7 paused:bool; 9 progressDeadlineSeconds:int?',
    'DeploymentStrategy': '1 type; 2 rollingUpdate:RollingUpdateDeployment',
    'RollingUpdateDeployment': '1 maxUnavailable:intstr?; 2 maxSurge:intstr?',
    'Job': '1 metadata:ObjectMeta; 2 spec:JobSpec; 3 status:skip',
    'JobSpec': '1 parallelism:int?; 2 completions:int?; 3 activeDeadlineSeconds:int?; 4 selector:LabelSelector; '
               '5 manualSelector:bool?; 6 template:PodTemplateSpec; 7 backoffLimit:int?; '
               '8 ttlSecondsAfterFinished:int?; 9 completionMode?; 10 suspend:bool?',
    'CronJob': '1 metadata:ObjectMeta; 2 spec:CronJobSpec; 3 status:skip',
    'CronJobSpec': '1 schedule; 2 startingDeadlineSeconds:int?; 3 concurrencyPolicy; 4 suspend:bool?; '
                   '5 jobTemplate:JobTemplateSpec; 6 successfulJobsHistoryLimit:int?; 7 failedJobsHistoryLimit:int?; '
                   '8 timeZone?',
    'JobTemplateSpec': '1 metadata:ObjectMeta; 2 spec:JobSpec',
    'Role': '1 metadata:ObjectMeta; 2 rules:PolicyRule*',
    'ClusterRole': '1 metadata:ObjectMeta; 2 rules:PolicyRule*; 3 aggregationRule:AggregationRule',
    'AggregationRule': '1 clusterRoleSelectors:LabelSelector*',
    'PolicyRule': '1 verbs*; 2 apiGroups*; 3 resources*; 4 resourceNames*; 5 nonResourceURLs*',
    'RoleBinding': '1 metadata:ObjectMeta; 2 subjects:Subject*; 3 roleRef:RoleRef',
    'ClusterRoleBinding': '1 metadata:ObjectMeta; 2 subjects:Subject*; 3 roleRef:RoleRef',
    'Subject': '1 kind; 2 apiGroup; 3 name; 4 namespace',
    'RoleRef': '1 apiGroup; 2 kind; 3 name',
    'PriorityClass': '1 metadata:ObjectMeta; 2 value:int; 3 globalDefault:bool; 4 description; 5 preemptionPolicy?',
    'PodDisruptionBudget': '1 metadata:ObjectMeta; 2 spec:PodDisruptionBudgetSpec; 3 status:skip',
    'PodDisruptionBudgetSpec': '1 minAvailable:intstr?; 2 selector:LabelSelector; 3 maxUnavailable:intstr?; '
                               '4 unhealthyPodEvictionPolicy?',
    'Ingress': '1 metadata:ObjectMeta; 2 spec:IngressSpec; 3 status:skip',
    'IngressSpec': '1 defaultBackend:IngressBackend; 2 tls:IngressTLS*; 3 rules:IngressRule*; 4 ingressClassName?',
    'IngressTLS': '1 hosts*; 2 secretName',
    'IngressRule': '1 host; 2 value:inline:IngressRuleValue',
    'IngressRuleValue': '1 http:HTTPIngressRuleValue',
    'HTTPIngressRuleValue': '1 paths:HTTPIngressPath*',
    'HTTPIngressPath': '1 path; 2 backend:IngressBackend; 3 pathType?',
    'IngressBackend': '3 resource:TypedLocalObjectReference; 4 service:IngressServiceBackend',
    'TypedLocalObjectReference': '1 apiGroup?; 2 kind; 3 name',
    'IngressServiceBackend': '1 name; 2 port:ServiceBackendPort',
    'ServiceBackendPort': '1 name; 2 number:int',
}
# Kinds whose top-level message has the kind's name; DeleteOptions comes with any apiVersion.
TOP_LEVEL = frozenset(name for name, spec in SCHEMAS.items() if spec.startswith('1 metadata:ObjectMeta')) \
    | {'DeleteOptions'}


class ProtobufError(ValueError):
    """The body is not protobuf this server can read."""


def _parse_schema(text):
    fields = {}
    for entry in text.split(';'):
        number, declaration = entry.split()
        keep = declaration.endswith('?')
        declaration = declaration.rstrip('?')
        repeated = declaration.endswith('*')
        name, _colon, kind = declaration.rstrip('*').partition(':')
        fields[int(number)] = (name, kind or 'string', repeated, keep)
    return fields


FIELDS = dict((name, _parse_schema(spec)) for name, spec in SCHEMAS.items())


def _varint(data, position):
    value = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError('truncated varint')
        byte = data[position]
        position += 1
        value |= (byte & 0x7f) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def fields_of(data):
    """[(field number, wire type, value)] of one message: ints for varints, bytes otherwise."""
    found, position = [], 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, position = _varint(data, position)
        elif wire == LENGTH:
            size, position = _varint(data, position)
            value, position = data[position:position + size], position + size
            if len(value) != size:
                raise ProtobufError('truncated field {0}'.format(number))
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            value, position = data[position:position + width], position + width
        else:
            raise ProtobufError('unsupported wire type {0} for field {1}'.format(wire, number))
        found.append((number, wire, value))
    return found


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value):
    try:
        return value.decode('utf-8')
    except (AttributeError, UnicodeDecodeError):
        raise ProtobufError('expected a string, got {0!r}'.format(value)) from None


def _entries(value):
    """key and value (as bytes) of a map entry message."""
    entry = dict((number, item) for number, _wire, item in fields_of(value))
    return _text(entry.get(1, b'')), entry.get(2, b'')


def _time(value):
    parts = dict((number, item) for number, _wire, item in fields_of(value))
    if not parts.get(1):
        return None
    return datetime.fromtimestamp(_signed(parts[1]), timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _intstr(value):
    parts = dict((number, item) for number, _wire, item in fields_of(value))
    if parts.get(1) == 1:
        return _text(parts.get(3, b''))
    return _signed(parts.get(2, 0))


def _scalar(kind, value, message, name):
    if kind == 'string':
        return _text(value)
    if kind == 'int':
        return _signed(value)
    if kind == 'bool':
        return bool(value)
    if kind == 'time':
        return _time(value)
    if kind == 'intstr':
        return _intstr(value)
    if kind in ('map', 'bytesmap', 'quantities'):
        key, item = _entries(value)
        if kind == 'bytesmap':
            return {key: base64.b64encode(item).decode()}
        if kind == 'quantities':
            item = dict((number, part) for number, _wire, part in fields_of(item)).get(1, b'')
        return {key: _text(item)}
    if kind.startswith('inline:'):
        return decode_message(kind[len('inline:'):], value)
    if kind in FIELDS:
        return decode_message(kind, value)
    raise ProtobufError('field {0} of {1} has an unknown type {2}'.format(name, message, kind))


def _is_zero(value):
    return value in (0, b'', None)


def decode_message(message, data):
    """The JSON form of one protobuf message of the named schema."""
    result = {}
    schema = FIELDS[message]
    for number, _wire, value in fields_of(data):
        if number not in schema:
            if _is_zero(value):
                continue
            raise ProtobufError('field {0} of {1} is not understood by the lab; send the object as JSON '
                                '(kubectl create -f or apply)'.format(number, message))
        name, kind, repeated, keep = schema[number]
        if kind == 'skip':
            continue
        decoded = _scalar(kind, value, message, name)
        if kind.startswith('inline:'):
            result.update(decoded)
        elif kind in ('map', 'bytesmap', 'quantities'):
            result.setdefault(name, {}).update(decoded)
        elif repeated:
            result.setdefault(name, []).append(decoded)
        elif keep or decoded not in ('', 0, False, None, {}):
            result[name] = decoded
    return result


def decode(body):
    """The JSON form of a client-go protobuf request body; ProtobufError if it cannot be read."""
    if not body.startswith(MAGIC):
        raise ProtobufError('a Kubernetes protobuf body starts with {0!r}'.format(MAGIC))
    envelope = dict((number, value) for number, _wire, value in fields_of(body[len(MAGIC):]))
    type_meta = dict((number, value) for number, _wire, value in fields_of(envelope.get(1, b'')))
    api_version, kind = _text(type_meta.get(1, b'')), _text(type_meta.get(2, b''))
    if kind not in TOP_LEVEL:
        raise ProtobufError('protobuf bodies of kind {0!r} are not understood by the lab; send JSON'.format(kind))
    decoded = decode_message(kind, envelope.get(2, b''))
    return dict(apiVersion=api_version, kind=kind, **decoded)
