"""Store: one cluster's objects in memory, with the API server's semantics and no HTTP.

Controllers running in the lab process call it directly (methods are synchronous; `watch` returns an
async iterator). Every write bumps one global resourceVersion counter and is kept in a bounded history
that watches replay from. Objects handed out are copies: changing them changes nothing in the store.
Failures raise errors.ApiError, exactly what the HTTP layer sends.
"""

import asyncio
import random
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

from . import admission, errors, jsonpath, patches, selectors, validation
from .kinds import CRD_KEY, NAMESPACE_KEY, POD_KEY, Catalog

# Metadata only the server sets: copied from the stored object on update, dropped on create.
SERVER_METADATA = ('uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation')
PROTECTED_NAMESPACES = ('default', 'kube-system', 'kube-public')
SEED_NAMESPACES = ('default', 'kube-system', 'kube-public', 'kube-node-lease')
FOREGROUND = 'foregroundDeletion'
INITIAL_EVENTS_END = 'k8s.io/initial-events-end'
NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'   # what generateName suffixes are made of
NAME_SUFFIX = 5
NAME_ATTEMPTS = 8
PATCH_TYPES = ('merge', 'json', 'strategic')
LOG_ANNOTATION = 'logs.lab.proxqa.io/'     # + container name: the text a container's log starts with
CLEANUP_DELAY = 1.0     # seconds from marking a namespace or CRD deleted to deleting its content


def clone(value):
    """A deep copy of a JSON value (faster than copy.deepcopy for plain dicts and lists)."""
    if isinstance(value, dict):
        return dict((key, clone(item)) for key, item in value.items())
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def _without_nulls(value):
    """value without null map entries: a JSON null in a request body means "not set", as in Kubernetes."""
    if isinstance(value, dict):
        return dict((key, _without_nulls(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _meta(obj):
    return obj['metadata']


def _okey(obj):
    meta = obj['metadata']
    return (meta.get('namespace', ''), meta['name'])


@dataclass(frozen=True)
class WatchEvent:
    type: str          # ADDED, MODIFIED, DELETED or BOOKMARK
    object: dict


@dataclass(frozen=True)
class _Change:
    resource_version: int
    type: str
    key: tuple         # (group, plural)
    old: dict          # None for ADDED
    new: dict          # for DELETED: the object as it was removed


@dataclass(frozen=True)
class Selection:
    """The objects a list or watch is about: a namespace (None: all) and label and field selectors."""
    namespace: str
    labels: selectors.LabelSelector
    fields: selectors.FieldSelector

    def matches(self, obj):
        meta = obj['metadata']
        return ((self.namespace is None or meta.get('namespace') == self.namespace)
                and self.labels.matches(meta.get('labels')) and self.fields.matches(obj))


class Watch(object):
    """Events of one kind within a Selection; `async for event in watch`, then close()."""

    def __init__(self, store, rtype, selection):
        self.rtype = rtype
        self.selection = selection
        self._store = store
        self._queue = asyncio.Queue()
        self.closed = False

    def _offer(self, change):
        """Queue what this watcher sees of change: an object entering or leaving its selection is added or deleted."""
        was = change.old is not None and self.selection.matches(change.old)
        now = self.selection.matches(change.new)
        if change.type == 'DELETED':
            kind = 'DELETED' if now or was else None
        elif was and now:
            kind = 'MODIFIED'
        else:
            kind = 'ADDED' if now else 'DELETED' if was else None
        if kind:
            self._put(kind, change.new)

    def _put(self, kind, obj):
        self._queue.put_nowait(WatchEvent(kind, obj))

    def __aiter__(self):
        return self

    async def __anext__(self):
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return WatchEvent(event.type, clone(event.object))

    async def next(self, timeout):
        """The next event, or None when none came within timeout seconds; StopAsyncIteration once closed."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            return None

    def close(self):
        if not self.closed:
            self.closed = True
            self._store._unsubscribe(self)
            self._queue.put_nowait(None)


class Store(object):
    """The objects of one cluster.

    watch_window: how many changes a watch can resume from. cleanup_delay: seconds between marking a
    namespace or CRD deleted and deleting what it holds, as Kubernetes' namespace and CRD controllers do
    a moment later (so `kubectl delete -f` can still delete the objects listed after a namespace). With
    0, or with no running event loop, that happens at once.
    """

    def __init__(self, watch_window=10000, clock=None, cleanup_delay=CLEANUP_DELAY):
        self.catalog = Catalog()
        self._objects = {}        # (group, plural) -> {(namespace or '', name): object}
        self._by_uid = {}         # uid -> ((group, plural), (namespace, name))
        self._dependents = {}     # owner uid -> set of dependent uids
        self._version = 0
        self._history = deque()
        self._window = watch_window
        self._compacted = 0       # the newest resourceVersion no longer in the history
        self._watches = {}        # (group, plural) -> set of Watch
        self._logs = {}           # (namespace, pod) -> {container: text}
        self._cluster_ips = admission.ClusterIps()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._cleanup_delay = cleanup_delay
        # Validating admission of the lab's controllers (webhooks, CRD rules): callables (rtype, obj) that raise
        # errors.ApiError to refuse a create or update.
        self.validators = []
        self._namespaces = self.kind('v1', 'Namespace')
        self._pods = self.kind('v1', 'Pod')
        self._crds = self.kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition')
        self._seed()

    def _seed(self):
        for name in SEED_NAMESPACES:
            self.create(self._namespaces, {'metadata': {'name': name}})
        self.create(self.kind('v1', 'Service'), {
            'metadata': {'name': 'kubernetes', 'namespace': 'default',
                         'labels': {'component': 'apiserver', 'provider': 'kubernetes'}},
            'spec': {'ports': [{'name': 'https', 'port': 443, 'targetPort': 6443}]}})

    # ------------------------------------------------------------------ reading

    @property
    def resource_version(self):
        return str(self._version)

    def kind(self, api_version, kind):
        """The served ResourceType of apiVersion and kind; KeyError naming them if none is served."""
        rtype = self.catalog.by_kind(api_version, kind)
        if rtype is None:
            raise KeyError('no kind {0} is served in {1}'.format(kind, api_version))
        return rtype

    def get(self, rtype, name, namespace=None):
        return clone(self._require(rtype, namespace, name))

    def list(self, rtype, namespace=None, labels='', fields=''):
        """(objects sorted by namespace and name, the resourceVersion they were read at)."""
        selection = self._selection(rtype, namespace, labels, fields)
        bucket = self._objects.get(rtype.key, {})
        items = [clone(bucket[okey]) for okey in sorted(bucket) if selection.matches(bucket[okey])]
        return items, self.resource_version

    def scale(self, rtype, name, namespace=None):
        """The autoscaling/v1 Scale of an object whose kind has the /scale subresource."""
        if not rtype.scale:
            raise errors.not_found(rtype, name + '/scale')
        return self._scale_of(rtype, self._require(rtype, namespace, name))

    def read_log(self, namespace, pod, container=None):
        """The log of a container: the pod's annotation logs.lab.proxqa.io/<container>, if any, then what
        append_log added."""
        obj = self._require(self._pods, namespace, pod)
        name = self._container(obj, container)
        preset = (_meta(obj).get('annotations') or {}).get(LOG_ANNOTATION + name, '')
        return preset + self._logs.get((namespace, pod), {}).get(name, '')

    # ------------------------------------------------------------------ writing

    def create(self, rtype, obj, namespace=None, dry_run=False):
        self._check_served(rtype)
        obj = self._incoming(rtype, obj, namespace)
        meta = _meta(obj)
        if 'resourceVersion' in meta:
            raise errors.bad_request('resourceVersion should not be set on objects to be created')
        for key in SERVER_METADATA:
            meta.pop(key, None)
        if not meta.get('name') and meta.get('generateName'):
            meta['name'] = self._generated_name(rtype, meta)
        self._validate(rtype, obj)
        if rtype.namespaced:
            self._require_open_namespace(meta['namespace'])
        if _okey(obj) in self._objects.get(rtype.key, {}):
            raise errors.already_exists(rtype, meta['name'])
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=self._now(), generation=1)
        admission.on_create(rtype, obj, self._cluster_ips)
        if dry_run:
            return clone(obj)
        self._commit(rtype, obj, None, 'ADDED')
        if rtype.key == CRD_KEY:
            self.catalog.serve_crd(obj)
        return clone(obj)

    def update(self, rtype, obj, namespace=None, subresource=None, dry_run=False, name=None):
        """PUT: replace the object (subresource None) or only its status ('status').

        A resourceVersion in obj must be the stored one (409 Conflict otherwise); without one the update
        is unconditional. name, when given, is the name the request was made for.
        """
        obj = self._incoming(rtype, obj, namespace)
        meta = _meta(obj)
        if name and meta.get('name') != name:
            raise errors.bad_request('the name of the object ({0}) does not match the name on the URL ({1})'.format(
                meta.get('name'), name))
        if not meta.get('name'):
            raise errors.invalid(rtype, '', [('metadata.name', 'FieldValueRequired', 'Required value: name is required')])
        current = self._require(rtype, meta.get('namespace'), meta['name'])
        self._check_preconditions(rtype, current, meta.get('uid'), meta.get('resourceVersion'))
        return clone(self._write(rtype, current, self._next_version(rtype, current, obj, subresource), dry_run))

    def patch(self, rtype, name, patch, patch_type='merge', namespace=None, subresource=None, dry_run=False):
        """PATCH with patch_type 'merge' (RFC 7386), 'json' (RFC 6902) or 'strategic'; subresource None,
        'status' or 'scale'."""
        if patch_type not in PATCH_TYPES:
            raise ValueError('patch_type must be one of {0}, not {1!r}'.format(PATCH_TYPES, patch_type))
        if patch_type == 'strategic' and rtype.custom:
            raise errors.ApiError(415, 'the body of the request was in an unknown format - accepted media types '
                                       'include: application/json-patch+json, application/merge-patch+json, '
                                       'application/apply-patch+yaml')
        if subresource == 'scale':
            patched = self._patched(self.scale(rtype, name, namespace), patch, patch_type)
            return self.update_scale(rtype, name, patched, namespace, dry_run)
        current = self._require(rtype, namespace, name)
        patched = self._patched(current, patch, patch_type)
        return self.update(rtype, patched, namespace, subresource, dry_run, name)

    def apply(self, rtype, name, config, namespace=None, dry_run=False):
        """Server-side apply, simplified: create from config, or merge config into the object (strategic
        merge for built-in kinds, JSON merge for custom ones). Field ownership is not tracked: a field the
        config no longer sets is kept. Returns (object, created)."""
        meta = config.get('metadata') if isinstance(config, dict) else None
        if not isinstance(meta, dict) or meta.get('name') != name:
            raise errors.bad_request('the name of the object ({0}) does not match the name on the URL ({1})'.format(
                (meta or {}).get('name'), name))
        if self._find(rtype, namespace or meta.get('namespace'), name) is None:
            return self.create(rtype, config, namespace, dry_run), True
        patch_type = 'merge' if rtype.custom else 'strategic'
        return self.patch(rtype, name, config, patch_type, namespace, dry_run=dry_run), False

    def update_scale(self, rtype, name, scale, namespace=None, dry_run=False):
        """Set spec.replicas through the /scale subresource; returns the new Scale."""
        if not rtype.scale:
            raise errors.not_found(rtype, name + '/scale')
        current = self._require(rtype, namespace, name)
        meta = scale.get('metadata') or {}
        self._check_preconditions(rtype, current, None, meta.get('resourceVersion'))
        replicas = (scale.get('spec') or {}).get('replicas')
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(rtype, name, [('spec.replicas', 'FieldValueInvalid',
                                                'Invalid value: {0!r}: must be a non-negative integer'.format(replicas))])
        new = clone(current)
        jsonpath.set_field(new, rtype.scale.spec_replicas, replicas)
        return self._scale_of(rtype, self._write(rtype, current, new, dry_run))

    def delete(self, rtype, name, namespace=None, propagation=None, preconditions=None, dry_run=False):
        """Delete, or mark as being deleted while finalizers remain. Returns (object, gone).

        propagation: 'Background' (default: dependents are deleted after the owner is gone), 'Foreground'
        (the owner goes after its dependents) or 'Orphan' (dependents lose the owner reference).
        """
        current = self._require(rtype, namespace, name)
        preconditions = preconditions or {}
        self._check_preconditions(rtype, current, preconditions.get('uid'), preconditions.get('resourceVersion'))
        if rtype.key == NAMESPACE_KEY and name in PROTECTED_NAMESPACES:
            raise errors.forbidden(rtype, name, 'this namespace may not be deleted')
        if propagation not in (None, 'Background', 'Foreground', 'Orphan'):
            raise errors.bad_request('propagationPolicy {0!r} is not one of Background, Foreground, Orphan'.format(
                propagation))
        if dry_run:
            return clone(current), not self._finalizing(rtype, current)
        if _meta(current).get('deletionTimestamp'):
            return clone(current), False
        uid = _meta(current)['uid']
        if propagation == 'Orphan':
            self._orphan_dependents(uid)
        new = clone(current)
        meta = _meta(new)
        if propagation == 'Foreground' and self._dependents.get(uid):
            meta['finalizers'] = (meta.get('finalizers') or []) + [FOREGROUND]
        if not self._finalizing(rtype, new):
            return clone(self._remove(rtype, current, current)), True
        meta.update(deletionTimestamp=self._now(), deletionGracePeriodSeconds=0,
                    generation=meta.get('generation', 0) + 1)
        if rtype.key == NAMESPACE_KEY:
            new['status'] = dict(new.get('status') or {}, phase='Terminating')
        self._commit(rtype, new, current, 'MODIFIED')
        self._cascade(rtype, new)
        latest = self._find(rtype, namespace, name)
        return clone(latest or new), latest is None

    def delete_collection(self, rtype, namespace=None, labels='', fields='', propagation=None, dry_run=False):
        """Delete every object list() would return; returns them as deleted (or marked)."""
        items, _version = self.list(rtype, namespace, labels, fields)
        return [self.delete(rtype, _meta(obj)['name'], _meta(obj).get('namespace'), propagation, dry_run=dry_run)[0]
                for obj in items if self._find(rtype, _meta(obj).get('namespace'), _meta(obj)['name'])]

    def append_log(self, namespace, pod, text, container=None):
        """Add text to the log of a container (default: the pod's first) as GET .../pods/<pod>/log shows it.

        The lab's kubelet calls this for what a container prints; the log goes with the pod.
        """
        obj = self._require(self._pods, namespace, pod)
        name = container or obj['spec']['containers'][0]['name']
        logs = self._logs.setdefault((namespace, pod), {})
        logs[name] = logs.get(name, '') + text

    # ------------------------------------------------------------------ watching

    def watch(self, rtype, namespace=None, labels='', fields='', resource_version=None, send_initial_events=False):
        """Watch events from after resource_version, or (None, '' or '0') ADDED events for the current
        objects first. send_initial_events adds those too, then a BOOKMARK annotated
        k8s.io/initial-events-end. 410 Expired when resource_version is older than the history kept."""
        chosen = Watch(self, rtype, self._selection(rtype, namespace, labels, fields))
        initial = send_initial_events or resource_version in (None, '', '0')
        since = None if initial else self._parse_version(resource_version)
        if since is not None and since < self._compacted:
            raise errors.gone('too old resource version: {0} ({1})'.format(since, self._compacted))
        self._watches.setdefault(rtype.key, set()).add(chosen)
        if initial:
            bucket = self._objects.get(rtype.key, {})
            for okey in sorted(bucket):
                if chosen.selection.matches(bucket[okey]):
                    chosen._put('ADDED', bucket[okey])
        else:
            for change in self._history:
                if change.resource_version > since and change.key == rtype.key:
                    chosen._offer(change)
        if send_initial_events:
            chosen._put('BOOKMARK', self.bookmark(rtype, {INITIAL_EVENTS_END: 'true'}))
        return chosen

    def bookmark(self, rtype, annotations=None):
        """A BOOKMARK event's object: the current resourceVersion and nothing else."""
        meta = {'resourceVersion': self.resource_version}
        if annotations:
            meta['annotations'] = annotations
        return {'kind': rtype.kind, 'apiVersion': rtype.api_version, 'metadata': meta}

    def close(self):
        """End every open watch (at shutdown)."""
        for watches in list(self._watches.values()):
            for chosen in list(watches):
                chosen.close()

    def _unsubscribe(self, chosen):
        self._watches.get(chosen.rtype.key, set()).discard(chosen)

    # ------------------------------------------------------------------ internals

    def _now(self):
        return self._clock().strftime('%Y-%m-%dT%H:%M:%SZ')

    def _find(self, rtype, namespace, name):
        return self._objects.get(rtype.key, {}).get(((namespace or '') if rtype.namespaced else '', name))

    def _require(self, rtype, namespace, name):
        if rtype.namespaced and not namespace:
            raise errors.bad_request('a namespace is required for {0}'.format(rtype.plural))
        found = self._find(rtype, namespace, name)
        if found is None:
            raise errors.not_found(rtype, name)
        return found

    @staticmethod
    def _selection(rtype, namespace, labels, fields):
        try:
            return Selection(namespace if rtype.namespaced else None, selectors.parse_labels(labels),
                             selectors.parse_fields(fields, rtype.selectable_fields))
        except ValueError as err:
            raise errors.bad_request(str(err)) from None

    @staticmethod
    def _parse_version(text):
        if not str(text).isdigit():
            raise errors.bad_request('invalid resource version {0!r}: not a non-negative integer'.format(text))
        return int(text)

    def _check_served(self, rtype):
        if rtype.custom:
            crd = self._find(self._crds, None, '{0}.{1}'.format(rtype.plural, rtype.group))
            if crd is None or _meta(crd).get('deletionTimestamp'):
                raise errors.ApiError(405, 'create not allowed while custom resource definition {0}.{1} is '
                                           'terminating'.format(rtype.plural, rtype.group))

    def _incoming(self, rtype, obj, namespace):
        """A copy of a request body checked against the kind and namespace of the request."""
        if not isinstance(obj, dict) or not isinstance(obj.get('metadata', {}), dict):
            raise errors.bad_request('the body must be a {0} object'.format(rtype.kind))
        obj = _without_nulls(obj)
        group = (obj.get('apiVersion') or rtype.api_version).rpartition('/')[0]
        if group != rtype.group:
            raise errors.bad_request('the API version in the data ({0}) does not match the expected API version '
                                     '({1})'.format(obj.get('apiVersion'), rtype.api_version))
        if obj.get('kind', rtype.kind) != rtype.kind:
            raise errors.bad_request('{0} in version "{1}" cannot be handled as a {2}'.format(
                obj.get('kind'), rtype.version, rtype.kind))
        obj = dict(apiVersion=rtype.api_version, kind=rtype.kind,
                   **dict((key, value) for key, value in obj.items() if key not in ('apiVersion', 'kind')))
        meta = obj.setdefault('metadata', {})
        if not rtype.namespaced:
            meta.pop('namespace', None)
            return obj
        if namespace and meta.get('namespace') not in (None, '', namespace):
            raise errors.bad_request('the namespace of the provided object ({0}) does not match the namespace sent '
                                     'on the request ({1})'.format(meta['namespace'], namespace))
        meta['namespace'] = namespace or meta.get('namespace')
        if not meta['namespace']:
            raise errors.bad_request('a namespace is required for {0}'.format(rtype.plural))
        return obj

    def _generated_name(self, rtype, meta):
        prefix = meta['generateName'][:63 - NAME_SUFFIX]
        for _attempt in range(NAME_ATTEMPTS):
            name = prefix + ''.join(random.choice(NAME_ALPHABET) for _ in range(NAME_SUFFIX))
            if self._find(rtype, meta.get('namespace'), name) is None:
                return name
        raise errors.already_exists(rtype, name)

    def _validate(self, rtype, obj):
        causes = validation.causes(rtype, obj)
        if causes:
            raise errors.invalid(rtype, _meta(obj).get('name') or '', causes)
        for check in self.validators:
            check(rtype, obj)

    def _require_open_namespace(self, namespace):
        found = self._find(self._namespaces, None, namespace)
        if found is None:
            raise errors.not_found(self._namespaces, namespace)
        if _meta(found).get('deletionTimestamp'):
            raise errors.forbidden(self._namespaces, namespace, 'unable to create new content in namespace {0} because '
                                   'it is being terminated'.format(namespace))

    def _check_preconditions(self, rtype, current, uid, version):
        meta = _meta(current)
        if uid and uid != meta['uid']:
            raise errors.conflict(rtype, meta['name'], 'Precondition failed: UID in precondition: {0}, UID in object '
                                                       'meta: {1}'.format(uid, meta['uid']))
        if version and version != meta['resourceVersion']:
            raise errors.stale(rtype, meta['name'])

    def _next_version(self, rtype, current, obj, subresource):
        """The object an update stores: only status for 'status', everything but status otherwise."""
        if subresource == 'status' and not rtype.status:
            raise errors.not_found(rtype, _meta(current)['name'] + '/status')
        if subresource == 'status':
            new = clone(current)
            if 'status' in obj:
                new['status'] = obj['status']
            else:
                new.pop('status', None)
        else:
            new = obj
            if rtype.status:
                new.pop('status', None)
                if 'status' in current:
                    new['status'] = clone(current['status'])
        meta, stored = _meta(new), _meta(current)
        for key in SERVER_METADATA + ('name', 'namespace'):
            if key in stored:
                meta[key] = stored[key]
            else:
                meta.pop(key, None)
        meta['resourceVersion'] = stored['resourceVersion']
        admission.on_update(rtype, new)
        return new

    def _patched(self, current, patch, patch_type):
        apply = {'merge': patches.merge_patch, 'json': patches.json_patch,
                 'strategic': patches.strategic_merge_patch}[patch_type]
        try:
            patched = apply(current, patch)
        except patches.PatchError as err:
            raise errors.ApiError(422, str(err)) from None
        except ValueError as err:
            raise errors.bad_request(str(err)) from None
        if not isinstance(patched, dict):
            raise errors.bad_request('the patch does not leave an object: {0!r}'.format(patch))
        return patched

    def _write(self, rtype, current, new, dry_run):
        """Store new in place of current: validation, generation, finalizer rules; a no-op writes nothing."""
        self._validate(rtype, new)
        meta, stored = _meta(new), _meta(current)
        if stored.get('deletionTimestamp'):
            added = [name for name in meta.get('finalizers') or () if name not in (stored.get('finalizers') or ())]
            if added:
                raise errors.invalid(rtype, stored['name'], [(
                    'metadata.finalizers', 'FieldValueForbidden',
                    'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers '
                    '{0}'.format(added))])
        if new == current:
            return current
        if self._spec_changed(rtype, current, new):
            meta['generation'] = stored.get('generation', 0) + 1
        if dry_run:
            return new
        if meta.get('deletionTimestamp') and not self._finalizing(rtype, new):
            return self._remove(rtype, new, current)
        self._commit(rtype, new, current, 'MODIFIED')
        if rtype.key == CRD_KEY:
            self.catalog.serve_crd(new)
        return new

    @staticmethod
    def _spec_changed(rtype, current, new):
        ignored = ('metadata', 'status') if rtype.status else ('metadata',)
        return any(current.get(key) != new.get(key) for key in set(current) | set(new) if key not in ignored)

    @staticmethod
    def _finalizing(rtype, obj):
        """True while something must still happen before obj can go."""
        return bool(_meta(obj).get('finalizers')) or (
            rtype.key == NAMESPACE_KEY and bool((obj.get('spec') or {}).get('finalizers')))

    def _commit(self, rtype, obj, old, kind):
        self._version += 1
        _meta(obj)['resourceVersion'] = str(self._version)
        bucket = self._objects.setdefault(rtype.key, {})
        uid = _meta(obj)['uid']
        for ref in _meta(bucket.get(_okey(obj), obj)).get('ownerReferences') or ():
            self._dependents.get(ref.get('uid'), set()).discard(uid)
        if kind == 'DELETED':
            del bucket[_okey(obj)]
            del self._by_uid[uid]
        else:
            bucket[_okey(obj)] = obj
            self._by_uid[uid] = (rtype.key, _okey(obj))
            for ref in _meta(obj).get('ownerReferences') or ():
                self._dependents.setdefault(ref.get('uid'), set()).add(uid)
        change = _Change(self._version, kind, rtype.key, old, obj)
        self._history.append(change)
        while len(self._history) > self._window:
            self._compacted = self._history.popleft().resource_version
        for chosen in list(self._watches.get(rtype.key, ())):
            chosen._offer(change)

    def _remove(self, rtype, final, stored):
        """Remove the stored object (its last state: final) for good, then what that releases: dependents,
        a terminating namespace or CRD. A CRD takes along any instances left."""
        gone = clone(final)
        self._commit(rtype, gone, stored, 'DELETED')
        meta = _meta(gone)
        if rtype.key == CRD_KEY:
            served = self._crd_types(gone)[:1]
            self.catalog.forget_crd(meta['name'])
            for inner in served:
                for leftover in list(self._objects.get(inner.key, {}).values()):
                    self._remove(inner, leftover, leftover)
        if rtype.key == POD_KEY:
            self._logs.pop(_okey(gone), None)
        self._collect_dependents(meta['uid'])
        for ref in meta.get('ownerReferences') or ():
            self._release_foreground_owner(ref.get('uid'))
        if rtype.namespaced:
            self._settle_namespace(meta['namespace'])
        if rtype.custom:
            self._settle_crd('{0}.{1}'.format(rtype.plural, rtype.group))
        return gone

    def _rtype_of(self, key):
        served = self.catalog.versions_of(key)
        return served[0] if served else None

    def _located(self, uid):
        """(ResourceType, object) of a stored uid, or (None, None)."""
        where = self._by_uid.get(uid)
        if where is None:
            return None, None
        return self._rtype_of(where[0]), self._objects[where[0]][where[1]]

    def _collect_dependents(self, owner_uid):
        """Background garbage collection: delete the dependents no live owner is left for."""
        for uid in list(self._dependents.pop(owner_uid, ())):
            rtype, obj = self._located(uid)
            if obj is None or rtype is None:
                continue
            owners = [ref.get('uid') for ref in _meta(obj).get('ownerReferences') or ()]
            if not any(owner in self._by_uid for owner in owners):
                self.delete(rtype, _meta(obj)['name'], _meta(obj).get('namespace'))

    def _orphan_dependents(self, owner_uid):
        for uid in list(self._dependents.get(owner_uid, ())):
            rtype, obj = self._located(uid)
            if obj is not None:
                new = clone(obj)
                refs = [ref for ref in _meta(new)['ownerReferences'] if ref.get('uid') != owner_uid]
                if refs:
                    _meta(new)['ownerReferences'] = refs
                else:
                    del _meta(new)['ownerReferences']
                self._write(rtype, obj, new, dry_run=False)

    def _cascade(self, rtype, obj):
        """After obj was marked for deletion: delete what it contains (soon) or owns (foreground)."""
        meta = _meta(obj)
        if rtype.key in (NAMESPACE_KEY, CRD_KEY):
            self._later(lambda: self._empty(rtype, meta['name'], meta['uid']))
        elif FOREGROUND in meta.get('finalizers') or ():
            for uid in list(self._dependents.get(meta['uid'], ())):
                inner, dependent = self._located(uid)
                if dependent is not None:
                    self.delete(inner, _meta(dependent)['name'], _meta(dependent).get('namespace'), 'Foreground')
            self._release_foreground_owner(meta['uid'])

    def _later(self, callback):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            callback()
        else:
            loop.call_later(max(self._cleanup_delay, 0), callback)

    def _empty(self, rtype, name, uid):
        """Delete what a terminating namespace or CRD holds, then let it go once nothing is left."""
        holder = self._find(rtype, None, name)
        if holder is None or _meta(holder)['uid'] != uid:
            return
        if rtype.key == NAMESPACE_KEY:
            held = [(self._rtype_of(key), okey) for key, bucket in self._objects.items() for okey in bucket
                    if okey[0] == name]
        else:
            held = [(inner, okey) for inner in self._crd_types(holder)[:1] for okey in self._objects.get(inner.key, {})]
        for inner, (namespace, item) in held:
            if self._find(inner, namespace, item) is not None:
                self.delete(inner, item, namespace)
        if rtype.key == NAMESPACE_KEY:
            self._settle_namespace(name)
        else:
            self._settle_crd(name)

    def _crd_types(self, crd):
        return self.catalog.versions_of((crd['spec']['group'], crd['spec']['names']['plural']))

    def _drop_finalizer(self, rtype, obj, finalizer=None):
        """Write obj without finalizer (or, for None, without its namespace spec finalizers)."""
        new = clone(obj)
        if finalizer is None:
            new['spec']['finalizers'] = []
        else:
            _meta(new)['finalizers'] = [name for name in _meta(new).get('finalizers') or () if name != finalizer]
        self._write(rtype, obj, new, dry_run=False)

    def _release_foreground_owner(self, owner_uid):
        rtype, owner = self._located(owner_uid)
        if owner is not None and FOREGROUND in (_meta(owner).get('finalizers') or ()) \
                and _meta(owner).get('deletionTimestamp') and not self._dependents.get(owner_uid):
            self._drop_finalizer(rtype, owner, FOREGROUND)

    def _settle_namespace(self, name):
        namespace = self._find(self._namespaces, None, name)
        if namespace is None or not _meta(namespace).get('deletionTimestamp'):
            return
        if any(okey[0] == name for bucket in self._objects.values() for okey in bucket):
            return
        if (namespace.get('spec') or {}).get('finalizers'):
            self._drop_finalizer(self._namespaces, namespace)

    def _settle_crd(self, name):
        crd = self._find(self._crds, None, name)
        if crd is None or not _meta(crd).get('deletionTimestamp'):
            return
        if self._objects.get((crd['spec']['group'], crd['spec']['names']['plural'])):
            return
        self._drop_finalizer(self._crds, crd, admission.CRD_CLEANUP)

    def _scale_of(self, rtype, obj):
        meta = _meta(obj)
        scale = {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
                 'metadata': dict((key, meta[key]) for key in ('name', 'namespace', 'uid', 'resourceVersion',
                                                               'creationTimestamp') if key in meta),
                 'spec': {'replicas': jsonpath.get(obj, rtype.scale.spec_replicas, 0)},
                 'status': {'replicas': jsonpath.get(obj, rtype.scale.status_replicas, 0)}}
        selector = jsonpath.get(obj, rtype.scale.selector) if rtype.scale.selector else None
        if isinstance(selector, dict):
            selector = selectors.format_selector(selector)
        if selector:
            scale['status']['selector'] = selector
        return scale

    @staticmethod
    def _container(pod, container):
        names = [item['name'] for item in pod['spec'].get('containers') or ()]
        meta = _meta(pod)
        if container is None:
            if len(names) == 1:
                return names[0]
            raise errors.bad_request('a container name must be specified for pod {0}, choose one of: [{1}]'.format(
                meta['name'], ' '.join(names)))
        if container not in names:
            raise errors.bad_request('container {0} is not valid for pod {1}'.format(container, meta['name']))
        return container
