"""kube-controller-manager's workload controllers for one cluster: Deployment, ReplicaSet, DaemonSet, StatefulSet
and Job, writing pods (and claims) with ownerReferences and the status fields kubectl reads. Deleting an owner
deletes what it owns through the API server's garbage collection (lab/kube), as in Kubernetes.

The seed's cozy-cluster-api Deployments are left to seed.SystemComponents (they crash-loop with its faults).
"""

import json
import time
from datetime import datetime, timezone

from . import conditions, events
from .podspec import (TERMINAL_PHASES, controller_of, effective_taints, fits_node_selection, pod_ready, seeded,
                      untolerated)
from .runtime import find, owned_by, owner_reference
from .seed import suffix

HASH_LABEL = 'pod-template-hash'
REVISION = 'deployment.kubernetes.io/revision'
REVISION_HASH_LABEL = 'controller-revision-hash'
STATEFUL_POD_LABEL = 'statefulset.kubernetes.io/pod-name'
POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index'
JOB_BACKOFF_FIRST = 10.0      # realistic seconds before a failed Job pod is replaced, doubling to JOB_BACKOFF_MAX
JOB_BACKOFF_MAX = 360.0
CONTROLLER = 'controller-manager'
DAEMON_TOLERATIONS = [{'key': key, 'operator': 'Exists', 'effect': effect} for key, effect in (
    ('node.kubernetes.io/not-ready', 'NoExecute'), ('node.kubernetes.io/unreachable', 'NoExecute'),
    ('node.kubernetes.io/disk-pressure', 'NoSchedule'), ('node.kubernetes.io/memory-pressure', 'NoSchedule'),
    ('node.kubernetes.io/pid-pressure', 'NoSchedule'), ('node.kubernetes.io/unschedulable', 'NoSchedule'))]
NETWORK_UNAVAILABLE = {'key': 'node.kubernetes.io/network-unavailable', 'operator': 'Exists', 'effect': 'NoSchedule'}


def template_hash(template):
    """A stable hash of a pod template, in the alphabet Kubernetes' names use."""
    return suffix(json.dumps(template, sort_keys=True), 10)


def owned(store, rtype, owner):
    """Objects of rtype in the owner's namespace whose controller is owner."""
    uid = owner['metadata']['uid']
    return [item for item in store.list(rtype, owner['metadata']['namespace'])[0]
            if (controller_of(item) or {}).get('uid') == uid]


def alive(pod):
    return not pod['metadata'].get('deletionTimestamp') and (pod.get('status') or {}).get('phase') not in TERMINAL_PHASES


def new_pod(template, owner, name=None, labels=None):
    """A pod from a template, owned by owner: named, or generateName '<owner>-'."""
    meta = template.get('metadata') or {}
    metadata = {'namespace': owner['metadata']['namespace'], 'labels': dict(meta.get('labels') or {}, **(labels or {})),
                'ownerReferences': [owner_reference(owner)]}
    if meta.get('annotations'):
        metadata['annotations'] = dict(meta['annotations'])
    if name:
        metadata['name'] = name
    else:
        metadata['generateName'] = owner['metadata']['name'] + '-'
    return {'metadata': metadata, 'spec': json.loads(json.dumps(template.get('spec') or {}))}


def condition_item(kind, status, reason, message, old=None, probe=False):
    """A workload condition; lastTransitionTime kept while its status holds."""
    now = conditions.now()
    previous = next((item for item in old or () if item.get('type') == kind), None)
    item = {'type': kind, 'status': status, 'reason': reason, 'message': message,
            'lastTransitionTime': previous['lastTransitionTime']
            if previous and previous.get('status') == status and previous.get('lastTransitionTime') else now}
    item['lastProbeTime' if probe else 'lastUpdateTime'] = now if not previous or previous.get('reason') != reason \
        else previous.get('lastProbeTime' if probe else 'lastUpdateTime', now)
    return item


def write_status(store, rtype, obj, status):
    """Patch the status when something in it changed (None values drop a field)."""
    current = obj.get('status') or {}
    if any(current.get(key) != value for key, value in status.items()):
        store.patch(rtype, obj['metadata']['name'], {'status': status}, 'merge', obj['metadata']['namespace'],
                    subresource='status')


def rounded(value, total, up):
    """An int-or-percent of total, rounded up (maxSurge) or down (maxUnavailable)."""
    if isinstance(value, str) and value.endswith('%'):
        exact = int(value[:-1]) * total / 100.0
        return int(-(-exact // 1)) if up else int(exact // 1)
    return int(value)


class _Workload(object):
    """What the workload controllers share: the cluster, its kinds, the pod deletions."""

    api_version, kind = 'apps/v1', ''

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self.name = '{0}/{1}'.format(world.name, self.kind.lower())
        self.primary = (self.api_version, self.kind)
        self.rtype = self.store.kind(*self.primary)
        self.pods = self.store.kind('v1', 'Pod')
        self.related = [(self.store, ('v1', 'Pod'), owned_by(self.kind))]

    def _get(self, key):
        obj = find(self.store, self.rtype, key[1], key[0])
        if obj is None or obj['metadata'].get('deletionTimestamp') or seeded(obj):
            return None
        return obj

    def _create_pod(self, owner, body):
        pod = self.store.create(self.pods, body)
        events.record(self.store, owner, 'Normal', 'SuccessfulCreate', 'Created pod: ' + pod['metadata']['name'],
                      self.kind.lower() + '-controller')
        return pod

    def _delete_pod(self, owner, pod):
        if not pod['metadata'].get('deletionTimestamp'):
            self.store.delete(self.pods, pod['metadata']['name'], pod['metadata']['namespace'])
            events.record(self.store, owner, 'Normal', 'SuccessfulDelete', 'Deleted pod: ' + pod['metadata']['name'],
                          self.kind.lower() + '-controller')


class ReplicaSetController(_Workload):
    kind = 'ReplicaSet'

    async def reconcile(self, key):
        replica_set = self._get(key)
        if replica_set is None:
            return None
        pods = [pod for pod in owned(self.store, self.pods, replica_set) if alive(pod)]
        wanted = replica_set['spec'].get('replicas', 1)
        for _ in range(wanted - len(pods)):
            pods.append(self._create_pod(replica_set, new_pod(replica_set['spec']['template'], replica_set)))
        if len(pods) > wanted:
            for pod in sorted(pods, key=_deletion_rank)[:len(pods) - wanted]:
                self._delete_pod(replica_set, pod)
                pods.remove(pod)
        ready = sum(1 for pod in pods if pod_ready(pod))
        write_status(self.store, self.rtype, replica_set, {
            'replicas': len(pods), 'fullyLabeledReplicas': len(pods), 'readyReplicas': ready or None,
            'availableReplicas': ready or None, 'observedGeneration': replica_set['metadata'].get('generation')})
        return None


def _deletion_rank(pod):
    """Which pods a scale-down deletes first: unscheduled, pending, not ready, then the newest."""
    status = pod.get('status') or {}
    created = pod['metadata'].get('creationTimestamp', '')
    return (bool(pod['spec'].get('nodeName')), status.get('phase') != 'Pending', pod_ready(pod),
            ''.join(chr(0x10FFFF - ord(char)) for char in created))


class DeploymentController(_Workload):
    kind = 'Deployment'

    def __init__(self, world):
        super().__init__(world)
        self.replica_sets = self.store.kind('apps/v1', 'ReplicaSet')
        self.related = [(self.store, ('apps/v1', 'ReplicaSet'), owned_by('Deployment'))]

    async def reconcile(self, key):
        deployment = self._get(key)
        if deployment is None:
            return None
        spec = deployment['spec']
        desired = spec.get('replicas', 1)
        hash_ = template_hash(spec['template'])
        sets = owned(self.store, self.replica_sets, deployment)
        new = next((item for item in sets if (item['metadata'].get('labels') or {}).get(HASH_LABEL) == hash_), None)
        olds = [item for item in sets if item is not new]
        revision = max([int((item['metadata'].get('annotations') or {}).get(REVISION, '0')) for item in olds] or [0])
        if new is None:
            new = self._new_replica_set(deployment, hash_, revision + 1, 0)
        elif int((new['metadata'].get('annotations') or {}).get(REVISION, '0')) < revision:
            new = self._annotate(new, revision + 1)     # a rollback: the old template is the newest revision
        current = (new['metadata'].get('annotations') or {}).get(REVISION)
        if (deployment['metadata'].get('annotations') or {}).get(REVISION) != current:
            deployment = self.store.patch(self.rtype, key[1], {'metadata': {'annotations': {REVISION: current}}},
                                          'merge', key[0])
        if not spec.get('paused'):
            self._scale(deployment, new, olds, desired)
        self._prune(deployment, olds)
        self._status(deployment, new, owned(self.store, self.replica_sets, deployment), desired)
        return None

    def _new_replica_set(self, deployment, hash_, revision, replicas):
        spec = deployment['spec']
        template = json.loads(json.dumps(spec['template']))
        template.setdefault('metadata', {}).setdefault('labels', {})[HASH_LABEL] = hash_
        selector = json.loads(json.dumps(spec['selector']))
        selector.setdefault('matchLabels', {})[HASH_LABEL] = hash_
        name = '{0}-{1}'.format(deployment['metadata']['name'], hash_)
        created = self.store.create(self.replica_sets, {
            'metadata': {'name': name, 'namespace': deployment['metadata']['namespace'],
                         'labels': dict(template['metadata']['labels']),
                         'annotations': self._annotations(revision, spec.get('replicas', 1), deployment),
                         'ownerReferences': [owner_reference(deployment)]},
            'spec': {'replicas': replicas, 'minReadySeconds': spec.get('minReadySeconds', 0), 'selector': selector,
                     'template': template}})
        events.record(self.store, deployment, 'Normal', 'ScalingReplicaSet', 'Scaled up replica set {0} from 0 to {1}'
                      .format(name, replicas), 'deployment-controller')
        return created

    @staticmethod
    def _annotations(revision, desired, deployment):
        surge = rounded(((deployment['spec'].get('strategy') or {}).get('rollingUpdate') or {}).get('maxSurge', '25%'),
                        desired, up=True)
        return {REVISION: str(revision), 'deployment.kubernetes.io/desired-replicas': str(desired),
                'deployment.kubernetes.io/max-replicas': str(desired + surge)}

    def _annotate(self, replica_set, revision):
        return self.store.patch(self.replica_sets, replica_set['metadata']['name'], {'metadata': {'annotations': {
            REVISION: str(revision)}}}, 'merge', replica_set['metadata']['namespace'])

    def _scale(self, deployment, new, olds, desired):
        strategy = deployment['spec'].get('strategy') or {}
        old_total = sum(item['spec'].get('replicas', 0) for item in olds)
        if strategy.get('type') == 'Recreate':
            for item in olds:
                self._set_replicas(deployment, item, 0)
            if not any(alive(pod) for item in olds for pod in owned(self.store, self.pods, item)):
                self._set_replicas(deployment, new, desired)
            return
        rolling = strategy.get('rollingUpdate') or {}
        surge = rounded(rolling.get('maxSurge', '25%'), desired, up=True)
        unavailable = rounded(rolling.get('maxUnavailable', '25%'), desired, up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        if not old_total:
            self._set_replicas(deployment, new, desired)
            return
        room = desired + surge - old_total - new['spec'].get('replicas', 0)
        target = min(desired, new['spec'].get('replicas', 0) + max(room, 0))
        self._set_replicas(deployment, new, target)
        available = sum((item.get('status') or {}).get('availableReplicas') or 0 for item in olds + [new])
        removable = available - (desired - unavailable)
        for item in sorted(olds, key=lambda entry: entry['metadata'].get('creationTimestamp', '')):
            ready_old = (item.get('status') or {}).get('availableReplicas') or 0
            unhealthy = item['spec'].get('replicas', 0) - ready_old
            cut = min(item['spec'].get('replicas', 0), unhealthy + max(removable, 0))
            if cut > 0:
                removable -= max(cut - unhealthy, 0)
                self._set_replicas(deployment, item, item['spec'].get('replicas', 0) - cut)

    def _set_replicas(self, deployment, replica_set, replicas):
        before = replica_set['spec'].get('replicas', 0)
        if before == replicas:
            return
        self.store.patch(self.replica_sets, replica_set['metadata']['name'], {
            'spec': {'replicas': replicas},
            'metadata': {'annotations': {'deployment.kubernetes.io/desired-replicas': str(
                deployment['spec'].get('replicas', 1))}}}, 'merge', replica_set['metadata']['namespace'])
        replica_set['spec']['replicas'] = replicas
        events.record(self.store, deployment, 'Normal', 'ScalingReplicaSet', 'Scaled {0} replica set {1} from {2} to '
                      '{3}'.format('up' if replicas > before else 'down', replica_set['metadata']['name'], before,
                                   replicas), 'deployment-controller')

    def _prune(self, deployment, olds):
        """Old ReplicaSets beyond revisionHistoryLimit, scaled to zero, are deleted."""
        limit = deployment['spec'].get('revisionHistoryLimit', 10)
        idle = [item for item in olds if not item['spec'].get('replicas') and not (item.get('status') or {}).get(
            'replicas')]
        idle.sort(key=lambda item: int((item['metadata'].get('annotations') or {}).get(REVISION, '0')))
        for item in idle[:max(len(idle) - limit, 0)]:
            self.store.delete(self.replica_sets, item['metadata']['name'], item['metadata']['namespace'])

    def _status(self, deployment, new, sets, desired):
        new = next((item for item in sets if item['metadata']['uid'] == new['metadata']['uid']), new)
        total = sum((item.get('status') or {}).get('replicas') or 0 for item in sets)
        ready = sum((item.get('status') or {}).get('readyReplicas') or 0 for item in sets)
        available = sum((item.get('status') or {}).get('availableReplicas') or 0 for item in sets)
        updated = (new.get('status') or {}).get('replicas') or 0
        rolling = (deployment['spec'].get('strategy') or {}).get('rollingUpdate') or {}
        unavailable_allowed = rounded(rolling.get('maxUnavailable', '25%'), desired, up=False)
        if (deployment['spec'].get('strategy') or {}).get('type') == 'Recreate':
            unavailable_allowed = 0
        old = (deployment.get('status') or {}).get('conditions')
        name = new['metadata']['name']
        if available >= desired - unavailable_allowed:
            availability = condition_item('Available', 'True', 'MinimumReplicasAvailable',
                                          'Deployment has minimum availability.', old)
        else:
            availability = condition_item('Available', 'False', 'MinimumReplicasUnavailable',
                                          'Deployment does not have minimum availability.', old)
        if updated == desired and total == desired and available == desired:
            progress = condition_item('Progressing', 'True', 'NewReplicaSetAvailable',
                                      'ReplicaSet "{0}" has successfully progressed.'.format(name), old)
        else:
            progress = condition_item('Progressing', 'True', 'ReplicaSetUpdated',
                                      'ReplicaSet "{0}" is progressing.'.format(name), old)
        write_status(self.store, self.rtype, deployment, {
            'observedGeneration': deployment['metadata'].get('generation'), 'replicas': total or None,
            'updatedReplicas': updated or None, 'readyReplicas': ready or None, 'availableReplicas': available or None,
            'unavailableReplicas': max(desired - available, 0) or None, 'conditions': [availability, progress]})


class DaemonSetController(_Workload):
    kind = 'DaemonSet'

    def __init__(self, world):
        super().__init__(world)
        self.nodes = self.store.kind('v1', 'Node')
        self.related.append((self.store, ('v1', 'Node'), self._every_daemon_set))

    def _every_daemon_set(self, _node):
        return [(item['metadata']['namespace'], item['metadata']['name']) for item in self.store.list(self.rtype)[0]]

    def _eligible(self, daemon_set, node):
        template = {'spec': daemon_set['spec']['template'].get('spec') or {}}
        tolerations = (template['spec'].get('tolerations') or []) + DAEMON_TOLERATIONS
        return fits_node_selection(template, node) and untolerated(effective_taints(node), tolerations) is None

    async def reconcile(self, key):
        daemon_set = self._get(key)
        if daemon_set is None:
            return None
        revision = template_hash(daemon_set['spec']['template'])
        nodes = dict((node['metadata']['name'], node) for node in self.store.list(self.nodes)[0])
        eligible = [name for name, node in sorted(nodes.items()) if self._eligible(daemon_set, node)]
        by_node = {}
        for pod in owned(self.store, self.pods, daemon_set):
            if pod['metadata'].get('deletionTimestamp'):
                continue
            if (pod.get('status') or {}).get('phase') == 'Failed':
                self._delete_pod(daemon_set, pod)       # the DaemonSet controller replaces failed daemon pods
                continue
            by_node.setdefault(daemon_pod_node(pod), []).append(pod)
        for name, pods in list(by_node.items()):
            if name not in eligible:
                for pod in pods:
                    self._delete_pod(daemon_set, pod)
                del by_node[name]
        for name in eligible:
            if name not in by_node:
                by_node[name] = [self._create_pod(daemon_set, self._daemon_pod(daemon_set, name, revision))]
        self._roll(daemon_set, by_node, revision)
        pods = [pods[0] for pods in by_node.values()]
        ready = sum(1 for pod in pods if pod_ready(pod))
        updated = sum(1 for pod in pods if (pod['metadata'].get('labels') or {}).get(REVISION_HASH_LABEL) == revision)
        write_status(self.store, self.rtype, daemon_set, {
            'desiredNumberScheduled': len(eligible), 'currentNumberScheduled': len(pods), 'numberMisscheduled': 0,
            'numberReady': ready, 'numberAvailable': ready or None, 'updatedNumberScheduled': updated or None,
            'numberUnavailable': (len(eligible) - ready) or None,
            'observedGeneration': daemon_set['metadata'].get('generation')})
        return None

    def _daemon_pod(self, daemon_set, node, revision):
        body = new_pod(daemon_set['spec']['template'], daemon_set, labels={
            REVISION_HASH_LABEL: revision, 'pod-template-generation': str(daemon_set['metadata'].get('generation', 1))})
        spec = body['spec']
        spec.setdefault('affinity', {}).setdefault('nodeAffinity', {})['requiredDuringSchedulingIgnoredDuringExecution'] \
            = {'nodeSelectorTerms': [{'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': [node]}]}]}
        tolerations = spec.setdefault('tolerations', [])
        for toleration in DAEMON_TOLERATIONS + ([NETWORK_UNAVAILABLE] if spec.get('hostNetwork') else []):
            if toleration not in tolerations:
                tolerations.append(dict(toleration))
        return body

    def _roll(self, daemon_set, by_node, revision):
        """RollingUpdate with maxUnavailable 1: replace one outdated pod at a time while the others are ready."""
        strategy = daemon_set['spec'].get('updateStrategy') or {}
        if strategy.get('type') == 'OnDelete':
            return
        pods = [pods[0] for pods in by_node.values()]
        outdated = [pod for pod in pods if (pod['metadata'].get('labels') or {}).get(REVISION_HASH_LABEL) != revision]
        if outdated and all(pod_ready(pod) for pod in pods if pod not in outdated[:1]):
            self._delete_pod(daemon_set, outdated[0])


def daemon_pod_node(pod):
    """The node a daemon pod is for: its nodeName, or the node its matchFields affinity names."""
    if pod['spec'].get('nodeName'):
        return pod['spec']['nodeName']
    terms = (((pod['spec'].get('affinity') or {}).get('nodeAffinity') or {})
             .get('requiredDuringSchedulingIgnoredDuringExecution') or {}).get('nodeSelectorTerms') or []
    for term in terms:
        for field in term.get('matchFields') or ():
            if field.get('key') == 'metadata.name' and field.get('values'):
                return field['values'][0]
    return ''


class StatefulSetController(_Workload):
    kind = 'StatefulSet'

    def __init__(self, world):
        super().__init__(world)
        self.claims = self.store.kind('v1', 'PersistentVolumeClaim')

    async def reconcile(self, key):
        stateful_set = self._get(key)
        if stateful_set is None:
            return None
        spec = stateful_set['spec']
        name = stateful_set['metadata']['name']
        replicas = spec.get('replicas', 1)
        revision = '{0}-{1}'.format(name, template_hash(spec['template']))
        ordered = spec.get('podManagementPolicy', 'OrderedReady') == 'OrderedReady'
        pods = dict((ordinal(pod, name), pod) for pod in owned(self.store, self.pods, stateful_set)
                    if ordinal(pod, name) is not None)
        for index, pod in list(pods.items()):
            if (pod.get('status') or {}).get('phase') == 'Failed' and not pod['metadata'].get('deletionTimestamp'):
                self._delete_pod(stateful_set, pod)
        for index in range(replicas):
            if index not in pods:
                self._claims_for(stateful_set, index)
                pods[index] = self._create_pod(stateful_set, self._stateful_pod(stateful_set, index, revision))
                if ordered:
                    break
            elif ordered and not pod_ready(pods[index]):
                break
        else:
            self._scale_down_or_update(stateful_set, pods, replicas, revision, ordered)
        self._status(stateful_set, [pods[index] for index in sorted(pods)], revision)
        return None

    def _scale_down_or_update(self, stateful_set, pods, replicas, revision, ordered):
        extra = sorted((index for index in pods if index >= replicas), reverse=True)
        for index in extra[:1] if ordered else extra:
            self._delete_pod(stateful_set, pods[index])
        if extra or (stateful_set['spec'].get('updateStrategy') or {}).get('type') == 'OnDelete':
            return
        current = [pods[index] for index in sorted(pods) if index < replicas]
        if not all(pod_ready(pod) for pod in current):
            return
        outdated = [pod for pod in reversed(current)
                    if (pod['metadata'].get('labels') or {}).get(REVISION_HASH_LABEL) != revision]
        if outdated:
            self._delete_pod(stateful_set, outdated[0])

    def _claims_for(self, stateful_set, index):
        """The pod's claims from volumeClaimTemplates: <template>-<set>-<ordinal>, kept after scale-down."""
        name = stateful_set['metadata']['name']
        namespace = stateful_set['metadata']['namespace']
        retention = (stateful_set['spec'].get('persistentVolumeClaimRetentionPolicy') or {}).get('whenDeleted')
        for template in stateful_set['spec'].get('volumeClaimTemplates') or ():
            claim = '{0}-{1}-{2}'.format(template['metadata']['name'], name, index)
            if find(self.store, self.claims, claim, namespace) is not None:
                continue
            labels = dict((stateful_set['spec'].get('selector') or {}).get('matchLabels') or {},
                          **((template.get('metadata') or {}).get('labels') or {}))
            metadata = {'name': claim, 'namespace': namespace, 'labels': labels}
            if retention == 'Delete':
                metadata['ownerReferences'] = [owner_reference(stateful_set)]
            self.store.create(self.claims, {'metadata': metadata,
                                            'spec': json.loads(json.dumps(template.get('spec') or {}))})
            events.record(self.store, stateful_set, 'Normal', 'SuccessfulCreate', 'create Claim {0} Pod {1}-{2} in '
                          'StatefulSet {1} success'.format(claim, name, index), 'statefulset-controller')

    def _stateful_pod(self, stateful_set, index, revision):
        name = '{0}-{1}'.format(stateful_set['metadata']['name'], index)
        body = new_pod(stateful_set['spec']['template'], stateful_set, name=name, labels={
            REVISION_HASH_LABEL: revision, STATEFUL_POD_LABEL: name, POD_INDEX_LABEL: str(index)})
        spec = body['spec']
        spec['hostname'] = name
        if stateful_set['spec'].get('serviceName'):
            spec['subdomain'] = stateful_set['spec']['serviceName']
        volumes = [volume for volume in spec.get('volumes') or ()]
        for template in stateful_set['spec'].get('volumeClaimTemplates') or ():
            claim = template['metadata']['name']
            volumes = [volume for volume in volumes if volume['name'] != claim]
            volumes.append({'name': claim, 'persistentVolumeClaim': {
                'claimName': '{0}-{1}-{2}'.format(claim, stateful_set['metadata']['name'], index)}})
        if volumes:
            spec['volumes'] = volumes
        return body

    def _status(self, stateful_set, pods, revision):
        live = [pod for pod in pods if not pod['metadata'].get('deletionTimestamp')]
        ready = sum(1 for pod in live if pod_ready(pod))
        updated = sum(1 for pod in live if (pod['metadata'].get('labels') or {}).get(REVISION_HASH_LABEL) == revision)
        revisions = [(pod['metadata'].get('labels') or {}).get(REVISION_HASH_LABEL) for pod in live]
        current = revision if updated == len(live) else next((item for item in revisions if item != revision), revision)
        write_status(self.store, self.rtype, stateful_set, {
            'observedGeneration': stateful_set['metadata'].get('generation'), 'replicas': len(live),
            'readyReplicas': ready or None, 'availableReplicas': ready, 'currentReplicas': updated if current == revision
            else len(live) - updated, 'updatedReplicas': updated or None, 'currentRevision': current,
            'updateRevision': revision, 'collisionCount': 0})


def ordinal(pod, set_name):
    """The ordinal of a StatefulSet pod named <set>-<n>, or None."""
    head, _dash, tail = pod['metadata']['name'].rpartition('-')
    return int(tail) if head == set_name and tail.isdigit() else None


class JobController(_Workload):
    api_version, kind = 'batch/v1', 'Job'

    def __init__(self, world):
        super().__init__(world)
        self._failed_at = {}       # job uid -> monotonic time of the latest failure seen

    async def reconcile(self, key):
        job = self._get(key)
        if job is None:
            return None
        status = job.get('status') or {}
        finished = next((item for item in status.get('conditions') or ()
                         if item.get('type') in ('Complete', 'Failed') and item.get('status') == 'True'), None)
        if finished is not None:
            return self._expire(job, status)
        spec = job['spec']
        pods = owned(self.store, self.pods, job)
        active = [pod for pod in pods if alive(pod)]
        succeeded = sum(1 for pod in pods if (pod.get('status') or {}).get('phase') == 'Succeeded')
        failed = sum(1 for pod in pods if (pod.get('status') or {}).get('phase') == 'Failed') + sum(
            container.get('restartCount', 0) for pod in active
            for container in (pod.get('status') or {}).get('containerStatuses') or ())
        start = status.get('startTime') or conditions.now()
        completions = spec.get('completions', 1)
        again = None
        if failed > spec.get('backoffLimit', 6):
            return self._finish(job, active, succeeded, failed, start, 'Failed', 'BackoffLimitExceeded',
                                'Job has reached the specified backoff limit')
        deadline = spec.get('activeDeadlineSeconds')
        elapsed = time.time() - _epoch(start)
        if deadline is not None and elapsed >= self.world.timing.delay(deadline):
            return self._finish(job, active, succeeded, failed, start, 'Failed', 'DeadlineExceeded',
                                'Job was active longer than specified deadline')
        if succeeded >= completions:
            return self._finish(job, active, succeeded, failed, start, 'Complete', 'CompletionsReached',
                                'Reached expected number of succeeded pods')
        if not spec.get('suspend'):
            wanted = min(spec.get('parallelism', 1), completions - succeeded) - len(active)
            wait = self._backoff_left(job, failed)
            if wanted > 0 and wait > 0:
                again = wait
            else:
                for _ in range(max(wanted, 0)):
                    active.append(self._create_pod(job, new_pod(spec['template'], job)))
        if deadline is not None:
            left = self.world.timing.delay(deadline) - elapsed
            again = min(again, left) if again else left
        write_status(self.store, self.rtype, job, {
            'startTime': start, 'active': len(active) or None, 'succeeded': succeeded or None, 'failed': failed or None,
            'ready': sum(1 for pod in active if pod_ready(pod)), 'terminating': 0, 'uncountedTerminatedPods': {}})
        return again

    def _backoff_left(self, job, failed):
        """Seconds until a replacement pod may be made after failures (10 s doubling, × time scale)."""
        uid = job['metadata']['uid']
        if not failed:
            return 0
        seen = self._failed_at.setdefault((uid, failed), time.monotonic())
        delay = self.world.timing.delay(min(JOB_BACKOFF_FIRST * 2 ** (failed - 1), JOB_BACKOFF_MAX))
        return seen + delay - time.monotonic()

    def _finish(self, job, active, succeeded, failed, start, outcome, reason, message):
        for pod in active:
            self._delete_pod(job, pod)
        old = (job.get('status') or {}).get('conditions')
        target = 'SuccessCriteriaMet' if outcome == 'Complete' else 'FailureTarget'
        items = [condition_item(target, 'True', reason, message, old, probe=True),
                 condition_item(outcome, 'True', reason, message, old, probe=True)]
        status = {'startTime': start, 'active': None, 'succeeded': succeeded or None, 'failed': failed or None,
                  'ready': 0, 'terminating': 0, 'uncountedTerminatedPods': {}, 'conditions': items}
        if outcome == 'Complete':
            status['completionTime'] = conditions.now()
        write_status(self.store, self.rtype, job, status)
        events.record(self.store, job, 'Normal' if outcome == 'Complete' else 'Warning',
                      'Completed' if outcome == 'Complete' else reason,
                      'Job completed' if outcome == 'Complete' else message, 'job-controller')
        return self._expire(job, status)

    def _expire(self, job, status):
        """ttlSecondsAfterFinished: the finished Job (and its pods with it) is deleted once it has passed."""
        ttl = job['spec'].get('ttlSecondsAfterFinished')
        if ttl is None:
            return None
        finished = next((item.get('lastTransitionTime') for item in status.get('conditions') or ()
                         if item.get('type') in ('Complete', 'Failed')), None)
        left = _epoch(finished or conditions.now()) + self.world.timing.delay(ttl) - time.time()
        if left > 0:
            return left
        self.store.delete(self.rtype, job['metadata']['name'], job['metadata']['namespace'], propagation='Background')
        return None


def _epoch(timestamp):
    return datetime.strptime(timestamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc).timestamp()


CONTROLLERS = (DeploymentController, ReplicaSetController, DaemonSetController, StatefulSetController, JobController)
