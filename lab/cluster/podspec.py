"""What the scheduler, the kubelet and the workload controllers read from pods and nodes: resource quantities
and requests, taints and tolerations, node selectors and affinity, readiness."""

import re

from lab.kube import selectors

NOT_READY_TAINT = 'node.kubernetes.io/not-ready'
UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable'
UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable'
TERMINAL_PHASES = ('Succeeded', 'Failed')
_QUANTITY = re.compile(r'^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$')
_SUFFIXES = {'': 1, 'n': 1e-9, 'u': 1e-6, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15,
             'E': 1e18, 'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60}


def quantity(text):
    """A resource.Quantity ('100m', '2', '64Mi', '1e3') as a number; ValueError when it is none."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError('quantities must match the regular expression '
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0!r}".format(text))
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def amount(resource, text):
    """A quantity in the unit the scheduler counts in: millicores for cpu, whole units for the rest."""
    value = quantity(text)
    return round(value * 1000) if resource == 'cpu' else round(value)


SCORING_DEFAULTS = {'cpu': 100, 'memory': 200 * 2 ** 20}     # what scoring counts for a container without requests


def _container_requests(container, scoring=False):
    resources = container.get('resources') or {}
    # A limit without a request is the request too (the API server's defaulting).
    merged = dict(resources.get('limits') or {}, **(resources.get('requests') or {}))
    found = dict((name, amount(name, value)) for name, value in merged.items())
    if scoring:
        for name, value in SCORING_DEFAULTS.items():
            found.setdefault(name, value)
    return found


def pod_requests(pod, scoring=False):
    """{resource: amount} a pod asks for: its containers' requests added up, at least any init container's
    (scoring: with the scorer's defaults for containers that request nothing)."""
    spec = pod['spec']
    total = {}
    for container in spec.get('containers') or ():
        for name, value in _container_requests(container, scoring).items():
            total[name] = total.get(name, 0) + value
    for container in spec.get('initContainers') or ():
        for name, value in _container_requests(container).items():
            total[name] = max(total.get(name, 0), value)
    for name, value in (spec.get('overhead') or {}).items():
        total[name] = total.get(name, 0) + amount(name, value)
    return total


def allocatable(node):
    return dict((name, amount(name, value)) for name, value in ((node.get('status') or {}).get('allocatable')
                                                               or {}).items())


def active(pod):
    """A pod that holds its node's resources: bound and not terminated."""
    return (pod.get('status') or {}).get('phase') not in TERMINAL_PHASES


def condition(obj, kind):
    return next((item for item in (obj.get('status') or {}).get('conditions') or () if item.get('type') == kind), {})


def node_ready(node):
    """'True', 'False' or 'Unknown': the node's Ready condition."""
    return condition(node, 'Ready').get('status', 'Unknown')


def pod_ready(pod):
    return condition(pod, 'Ready').get('status') == 'True' and not pod['metadata'].get('deletionTimestamp')


def effective_taints(node):
    """The node's taints, with the not-ready and unreachable taints the node lifecycle controller adds for the
    Ready condition (TaintNodesByCondition)."""
    taints = list((node.get('spec') or {}).get('taints') or ())
    keys = set(taint['key'] for taint in taints)
    ready = node_ready(node)
    if ready == 'False' and NOT_READY_TAINT not in keys:
        taints.append({'key': NOT_READY_TAINT, 'effect': 'NoSchedule'})
    if ready == 'Unknown' and UNREACHABLE_TAINT not in keys:
        taints.append({'key': UNREACHABLE_TAINT, 'effect': 'NoSchedule'})
    return taints


def tolerates(toleration, taint):
    if toleration.get('effect') and toleration['effect'] != taint.get('effect'):
        return False
    if toleration.get('operator') == 'Exists':
        return not toleration.get('key') or toleration['key'] == taint['key']
    return toleration.get('key') == taint['key'] and (toleration.get('value') or '') == (taint.get('value') or '')


def untolerated(taints, tolerations, effects=('NoSchedule', 'NoExecute')):
    """The first taint of those effects that no toleration tolerates, or None."""
    return next((taint for taint in taints if taint.get('effect') in effects
                 and not any(tolerates(toleration, taint) for toleration in tolerations or ())), None)


def format_taint(taint):
    """How kube-scheduler names a taint in its messages: {key: value}."""
    return '{{{0}: {1}}}'.format(taint['key'], taint.get('value') or '')


def _expression_matches(expression, values_of):
    key, op, wanted = expression['key'], expression['operator'], expression.get('values') or []
    present, value = values_of(key)
    if op == 'In':
        return present and value in wanted
    if op == 'NotIn':
        return not present or value not in wanted
    if op == 'Exists':
        return present
    if op == 'DoesNotExist':
        return not present
    if op in ('Gt', 'Lt') and present and re.fullmatch(r'-?\d+', value or '') and wanted:
        return int(value) > int(wanted[0]) if op == 'Gt' else int(value) < int(wanted[0])
    return False


def term_matches(term, node):
    """A NodeSelectorTerm: its matchExpressions (labels) and matchFields (metadata.name) all hold; an empty
    term matches nothing."""
    labels = node['metadata'].get('labels') or {}
    expressions = term.get('matchExpressions') or []
    fields = term.get('matchFields') or []
    if not expressions and not fields:
        return False
    return (all(_expression_matches(item, lambda key: (key in labels, labels.get(key))) for item in expressions)
            and all(_expression_matches(item, lambda key: (key == 'metadata.name', node['metadata']['name']))
                    for item in fields))


def selector_terms_match(terms, node):
    return any(term_matches(term, node) for term in terms or ())


def fits_node_selection(pod, node):
    """spec.nodeSelector and the required node affinity both hold for node."""
    spec = pod['spec']
    labels = node['metadata'].get('labels') or {}
    if any(labels.get(key) != value for key, value in (spec.get('nodeSelector') or {}).items()):
        return False
    required = (((spec.get('affinity') or {}).get('nodeAffinity') or {})
                .get('requiredDuringSchedulingIgnoredDuringExecution'))
    return required is None or selector_terms_match(required.get('nodeSelectorTerms'), node)


def selects(selector, labels):
    """A LabelSelector object (matchLabels/matchExpressions) against labels; None selects nothing, {} all."""
    parsed = selectors.from_object(selector)
    return parsed is not None and parsed.matches(labels or {})


def claim_names(pod):
    """(volume name, claim name) of the pod's persistentVolumeClaim volumes."""
    return [(volume['name'], volume['persistentVolumeClaim']['claimName'])
            for volume in pod['spec'].get('volumes') or () if volume.get('persistentVolumeClaim')]


def pods_claiming(store, claim, fields=''):
    """The pods of the claim's namespace (within a field selection) that mount it."""
    name, namespace = claim['metadata']['name'], claim['metadata']['namespace']
    return [pod for pod in store.list(store.kind('v1', 'Pod'), namespace, fields=fields)[0]
            if any(claimed == name for _volume, claimed in claim_names(pod))]


def controller_of(obj):
    return next((ref for ref in obj['metadata'].get('ownerReferences') or () if ref.get('controller')), None)


def seeded(obj):
    """An object of the seed's SystemComponents (a cozy-cluster-api Deployment, its ReplicaSet or pod), which the
    seed keeps itself (with the capmox-down and capi-operator-down faults)."""
    from .kinds import SYSTEM_NAMESPACE
    from .seed import COMPONENTS
    meta = obj['metadata']
    if meta.get('namespace') != SYSTEM_NAMESPACE:
        return False
    names = set(component.name for component in COMPONENTS)
    if obj.get('kind') == 'Deployment':
        return meta['name'] in names
    owner = (controller_of(obj) or {}).get('name', '')
    if obj.get('kind') == 'ReplicaSet':
        return owner in names
    return owner.rsplit('-', 1)[0] in names
