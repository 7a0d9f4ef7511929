"""kube-scheduler (default-scheduler) of one cluster: binds each pod without spec.nodeName to a feasible node.

Filters, in the default profile's order, each node stopping at the first that fails: NodeUnschedulable,
TaintToleration (NoSchedule/NoExecute, with the not-ready/unreachable taints of the node lifecycle controller),
NodeAffinity (nodeSelector, required node affinity), NodeResourcesFit (pods, cpu, memory, ... against allocatable
minus the requests of the node's non-terminated pods), VolumeBinding (PersistentVolume node affinity). Claims are
checked first (PreFilter): a missing claim, an unbound claim of an Immediate class, and WaitForFirstConsumer
claims, for which a node is chosen and written into the claim's `volume.kubernetes.io/selected-node` annotation;
the pod is bound to that node once the claim is Bound. Scoring: fewest pods of the same owner, least requested,
then name.
"""

from . import events
from .conditions import now
from .podspec import (UNSCHEDULABLE_TAINT, active, allocatable, claim_names, controller_of, effective_taints,
                      fits_node_selection, format_taint, pod_requests, pods_claiming, selector_terms_match,
                      untolerated)
from .runtime import find

SCHEDULER = 'default-scheduler'
SELECTED_NODE = 'volume.kubernetes.io/selected-node'
DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class'
WAIT_FOR_FIRST_CONSUMER = 'WaitForFirstConsumer'
UNRESOLVABLE = 'Preemption is not helpful for scheduling'
NO_VICTIMS = 'No preemption victims found for incoming pod'


class Unschedulable(Exception):
    """A PreFilter failure: the message is about the pod, not about nodes."""


class Scheduler(object):
    primary = ('v1', 'Pod')

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self.name = world.name + '/scheduler'
        self._pods = self.store.kind('v1', 'Pod')
        self._nodes = self.store.kind('v1', 'Node')
        self._claims = self.store.kind('v1', 'PersistentVolumeClaim')
        self._volumes = self.store.kind('v1', 'PersistentVolume')
        self._classes = self.store.kind('storage.k8s.io/v1', 'StorageClass')
        self.related = [(self.store, ('v1', 'Node'), self._waiting),
                        (self.store, ('v1', 'Pod'), self._freed_by),
                        (self.store, ('v1', 'PersistentVolumeClaim'), self._claiming)]

    # ------------------------------------------------------------------ what to look at again

    def _waiting(self, _obj=None):
        """Every pod still waiting for a node."""
        return [(pod['metadata']['namespace'], pod['metadata']['name'])
                for pod in self.store.list(self._pods, fields='spec.nodeName=')[0] if self._wants_node(pod)]

    def _freed_by(self, pod):
        """A pod that stopped holding resources on its node lets waiting pods try again."""
        if pod['spec'].get('nodeName') and (pod['metadata'].get('deletionTimestamp') or not active(pod)):
            return self._waiting()
        return []

    def _claiming(self, claim):
        return [(claim['metadata']['namespace'], pod['metadata']['name'])
                for pod in pods_claiming(self.store, claim, fields='spec.nodeName=')]

    @staticmethod
    def _wants_node(pod):
        return (not pod['spec'].get('nodeName') and not pod['metadata'].get('deletionTimestamp')
                and pod['spec'].get('schedulerName', SCHEDULER) == SCHEDULER and active(pod))

    # ------------------------------------------------------------------ scheduling one pod

    async def reconcile(self, key):
        pod = find(self.store, self._pods, key[1], key[0])
        if pod is None or not self._wants_node(pod):
            return None
        nodes = self.store.list(self._nodes)[0]
        try:
            claims = self._claims_of(pod)
        except Unschedulable as err:
            self._unschedulable(pod, '0/{0} nodes are available: {1}. preemption: 0/{0} nodes are available: '
                                     '{0} {2}.'.format(len(nodes), err, UNRESOLVABLE) if nodes else str(err))
            return None
        selected = set(claim['metadata'].get('annotations', {}).get(SELECTED_NODE) for claim in claims
                       if claim['metadata'].get('annotations', {}).get(SELECTED_NODE))
        unbound = [claim for claim in claims if not self._bound(claim)]
        if unbound and selected:
            return None         # the volume is being provisioned for the node chosen; bind once it is Bound
        candidates = [node for node in nodes if not selected or node['metadata']['name'] in selected]
        feasible, reasons = self._filter(pod, candidates, claims)
        if not feasible:
            self._unschedulable(pod, self._fit_error(len(nodes), reasons))
            return None
        node = min(feasible, key=lambda item: self._score(pod, item))
        if unbound:
            for claim in unbound:
                self.store.patch(self._claims, claim['metadata']['name'], {'metadata': {'annotations': {
                    SELECTED_NODE: node['metadata']['name']}}}, 'merge', key[0])
            return None
        self._bind(pod, node)
        return None

    def _claims_of(self, pod):
        """The pod's claims; Unschedulable when one is missing, going, or unbound with immediate binding."""
        claims = []
        for _volume, name in claim_names(pod):
            claim = find(self.store, self._claims, name, pod['metadata']['namespace'])
            if claim is None:
                raise Unschedulable('persistentvolumeclaim "{0}" not found'.format(name))
            if claim['metadata'].get('deletionTimestamp'):
                raise Unschedulable('persistentvolumeclaim "{0}" is being deleted'.format(name))
            if not self._bound(claim) and self._binding_mode(claim) != WAIT_FOR_FIRST_CONSUMER:
                raise Unschedulable('pod has unbound immediate PersistentVolumeClaims')
            claims.append(claim)
        return claims

    @staticmethod
    def _bound(claim):
        return (claim.get('status') or {}).get('phase') == 'Bound' and bool(claim['spec'].get('volumeName'))

    def _binding_mode(self, claim):
        name = claim['spec'].get('storageClassName')
        if name is None:
            found = [item for item in self.store.list(self._classes)[0]
                     if (item['metadata'].get('annotations') or {}).get(DEFAULT_CLASS) == 'true']
            storage_class = found[0] if found else None
        else:
            storage_class = find(self.store, self._classes, name) if name else None
        return (storage_class or {}).get('volumeBindingMode', 'Immediate')

    def _filter(self, pod, nodes, claims):
        """(feasible nodes, {reason: count of nodes})."""
        feasible, reasons = [], {}
        for node in nodes:
            found = self._node_reasons(pod, node, claims)
            for reason in found:
                reasons[reason] = reasons.get(reason, 0) + 1
            if not found:
                feasible.append(node)
        return feasible, reasons

    def _node_reasons(self, pod, node, claims):
        tolerations = pod['spec'].get('tolerations') or []
        if (node.get('spec') or {}).get('unschedulable') and untolerated(
                [{'key': UNSCHEDULABLE_TAINT, 'effect': 'NoSchedule'}], tolerations):
            return ['node(s) were unschedulable']
        taint = untolerated(effective_taints(node), tolerations)
        if taint is not None:
            return ['node(s) had untolerated taint ' + format_taint(taint)]
        if not fits_node_selection(pod, node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        if not self.world.faults.active('scheduler-ignores-resources'):
            missing = insufficient(pod, node, self._pods_on(node))
            if missing:
                return missing
        if any(not self._volume_fits(claim, node) for claim in claims if self._bound(claim)):
            return ['node(s) had volume node affinity conflict']
        return []

    def _pods_on(self, node):
        return [pod for pod in self.store.list(self._pods, fields='spec.nodeName=' + node['metadata']['name'])[0]
                if active(pod)]

    def _volume_fits(self, claim, node):
        volume = find(self.store, self._volumes, claim['spec']['volumeName'])
        terms = ((((volume or {}).get('spec') or {}).get('nodeAffinity') or {}).get('required') or {}).get(
            'nodeSelectorTerms')
        return volume is not None and (not terms or selector_terms_match(terms, node))

    def _score(self, pod, node):
        """Fewest pods of the same owner first (default topology spreading), then least requested (cpu and memory
        fractions, counting a container without requests as 100m and 200Mi as the scorer does), then by name."""
        pods = self._pods_on(node)
        owner = (controller_of(pod) or {}).get('uid')
        siblings = sum(1 for item in pods if owner and (controller_of(item) or {}).get('uid') == owner)
        capacity = allocatable(node)
        used = sum_requests(pods + [pod], scoring=True)
        fraction = sum(used.get(name, 0) / capacity[name] for name in ('cpu', 'memory') if capacity.get(name))
        return siblings, fraction, node['metadata']['name']

    @staticmethod
    def _fit_error(count, reasons):
        if count == 0:
            return 'no nodes available to schedule pods'
        found = sorted('{0} {1}'.format(number, reason) for reason, number in reasons.items())
        resource_nodes = sum(number for reason, number in reasons.items()
                             if reason.startswith(('Insufficient', 'Too many pods')))
        preemption = sorted('{0} {1}'.format(number, text) for number, text in (
            (resource_nodes, NO_VICTIMS), (count - resource_nodes, UNRESOLVABLE)) if number)
        return '0/{0} nodes are available: {1}. preemption: 0/{0} nodes are available: {2}.'.format(
            count, ', '.join(found), ', '.join(preemption))

    def _unschedulable(self, pod, message):
        current = next((item for item in (pod.get('status') or {}).get('conditions') or ()
                        if item.get('type') == 'PodScheduled'), {})
        if (current.get('status'), current.get('message')) != ('False', message):
            others = [item for item in (pod.get('status') or {}).get('conditions') or ()
                      if item.get('type') != 'PodScheduled']
            self.store.patch(self._pods, pod['metadata']['name'], {'status': {'conditions': others + [{
                'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': message,
                'lastProbeTime': None, 'lastTransitionTime': now()}]}}, 'merge', pod['metadata']['namespace'],
                subresource='status')
        events.record(self.store, pod, 'Warning', 'FailedScheduling', message, SCHEDULER)

    def _bind(self, pod, node):
        name, namespace = pod['metadata']['name'], pod['metadata']['namespace']
        node_name = node['metadata']['name']
        bound = self.store.patch(self._pods, name, {'spec': {'nodeName': node_name}}, 'merge', namespace)
        others = [item for item in (bound.get('status') or {}).get('conditions') or ()
                  if item.get('type') != 'PodScheduled']
        self.store.patch(self._pods, name, {'status': {'conditions': others + [{
            'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': now()}]}},
            'merge', namespace, subresource='status')
        events.record(self.store, bound, 'Normal', 'Scheduled', 'Successfully assigned {0}/{1} to {2}'.format(
            namespace, name, node_name), SCHEDULER)


def sum_requests(pods, scoring=False):
    total = {}
    for pod in pods:
        for name, value in pod_requests(pod, scoring).items():
            total[name] = total.get(name, 0) + value
    return total


def insufficient(pod, node, others):
    """The NodeResourcesFit reasons node cannot take pod beside others (its non-terminated pods)."""
    capacity = allocatable(node)
    used = sum_requests(others)
    reasons = []
    if len(others) + 1 > capacity.get('pods', 110):
        reasons.append('Too many pods')
    for name, wanted in sorted(pod_requests(pod).items()):
        if wanted and used.get(name, 0) + wanted > capacity.get(name, 0):
            reasons.append('Insufficient ' + name)
    return reasons
