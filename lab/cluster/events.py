"""core/v1 Events as Kubernetes components record them: one Event per (object, reason, message, source), its
count and lastTimestamp bumped when it happens again (the event correlator's aggregation)."""

import secrets

from lab.kube.errors import ApiError

from . import conditions


def record(store, obj, kind, reason, message, component, host=None, field_path=None):
    """Record an Event of kind Normal or Warning about obj, from component (on host, for the kubelet). Best
    effort, as for the real components: an Event that cannot be written (a terminating namespace) is dropped."""
    try:
        _record(store, obj, kind, reason, message, component, host, field_path)
    except ApiError:
        pass


def _record(store, obj, kind, reason, message, component, host, field_path):
    events = store.kind('v1', 'Event')
    meta = obj['metadata']
    namespace = meta.get('namespace') or 'default'
    involved = {'apiVersion': obj['apiVersion'], 'kind': obj['kind'], 'name': meta['name'], 'uid': meta['uid'],
                'resourceVersion': meta.get('resourceVersion', '')}
    if meta.get('namespace'):
        involved['namespace'] = namespace
    if field_path:
        involved['fieldPath'] = field_path
    now = conditions.now()
    fields = 'involvedObject.uid={0},reason={1}'.format(meta['uid'], reason)
    for event in store.list(events, namespace, fields=fields)[0]:
        if event.get('message') == message and (event.get('source') or {}).get('component') == component:
            store.patch(events, event['metadata']['name'], {'count': event.get('count', 1) + 1,
                                                            'lastTimestamp': now}, 'merge', namespace)
            return
    source = {'component': component}
    if host:
        source['host'] = host
    store.create(events, {
        'metadata': {'name': '{0}.{1}'.format(meta['name'], secrets.token_hex(8)), 'namespace': namespace},
        'involvedObject': involved, 'reason': reason, 'message': message, 'type': kind, 'source': source,
        'firstTimestamp': now, 'lastTimestamp': now, 'count': 1, 'reportingComponent': component,
        'reportingInstance': host or ''})
