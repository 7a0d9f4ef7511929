"""What every controller of the lab runs on: a level-triggered reconcile loop fed by Store watches.

A Controller reconciles objects of one kind, named by keys (namespace, name). Watches of its own kind and of
related kinds put keys into its queue; reconcile(key) reads the current state from the store, acts, and
returns the seconds after which to look again (None: only when something changes). One key is reconciled
at a time, different keys concurrently, as controller-runtime does with several workers. An exception is
logged and the key retried with exponential backoff.
"""

import asyncio
import logging
from dataclasses import dataclass

from lab.kube.errors import ApiError

BACKOFF_FIRST = 0.05     # seconds
BACKOFF_MAX = 30.0
log = logging.getLogger('lab.cluster')


@dataclass(frozen=True)
class Timing:
    """Durations of the modelled world: realistic seconds times `scale` (0: at once). Polls keep a floor so a
    controller waiting at scale 0 does not spin."""
    scale: float

    def delay(self, realistic):
        return realistic * self.scale

    def poll(self, realistic, floor=0.05):
        return max(realistic * self.scale, floor)


def key_of(obj):
    meta = obj['metadata']
    return meta.get('namespace', ''), meta['name']


def find(store, rtype, name, namespace=None):
    """The object, or None when it does not exist."""
    try:
        return store.get(rtype, name, namespace)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


def served(store, api_version, kind):
    """The ResourceType, or None while its CRD is not installed."""
    try:
        return store.kind(api_version, kind)
    except KeyError:
        return None


def owner_of(obj, kind):
    """The first ownerReference of that kind, or None."""
    return next((ref for ref in obj['metadata'].get('ownerReferences') or () if ref.get('kind') == kind), None)


def owner_reference(obj, controller=True):
    meta = obj['metadata']
    reference = {'apiVersion': obj['apiVersion'], 'kind': obj['kind'], 'name': meta['name'], 'uid': meta['uid']}
    if controller:
        reference.update(controller=True, blockOwnerDeletion=True)
    return reference


def deleting(obj):
    return bool(obj['metadata'].get('deletionTimestamp'))


def add_finalizer(store, rtype, obj, finalizer):
    """obj with the finalizer (written when it was missing)."""
    finalizers = obj['metadata'].get('finalizers') or []
    if finalizer in finalizers:
        return obj
    return store.patch(rtype, obj['metadata']['name'], {'metadata': {'finalizers': finalizers + [finalizer]}},
                       'merge', obj['metadata'].get('namespace'))


def remove_finalizer(store, rtype, obj, finalizer):
    """Drop the finalizer from the stored object (which then goes, if it was the last and it is being deleted)."""
    current = find(store, rtype, obj['metadata']['name'], obj['metadata'].get('namespace'))
    if current is None or finalizer not in (current['metadata'].get('finalizers') or ()):
        return
    left = [name for name in current['metadata']['finalizers'] if name != finalizer]
    store.patch(rtype, current['metadata']['name'], {'metadata': {'finalizers': left}}, 'merge',
                current['metadata'].get('namespace'))


def patch_status(store, rtype, obj, status):
    """Merge status into the object's status (lists are replaced whole); the object as stored."""
    return store.patch(rtype, obj['metadata']['name'], {'status': status}, 'merge', obj['metadata'].get('namespace'),
                       subresource='status' if rtype.status else None)


def delete_if_present(store, rtype, name, namespace=None):
    """Delete unless gone or already being deleted."""
    found = find(store, rtype, name, namespace)
    if found is not None and not deleting(found):
        store.delete(rtype, name, namespace)


class Controller(object):
    """Runs reconcile(key) -> seconds to requeue after, or None, for keys put into its queue."""

    def __init__(self, name, reconcile):
        self.name = name
        self._reconcile = reconcile
        self._due = {}           # key -> loop time it is due at
        self._running = set()
        self._dirty = set()      # keys that changed while being reconciled
        self._failures = {}      # key -> consecutive failures
        self._wake = asyncio.Event()
        self._tasks = set()

    def enqueue(self, key, delay=0.0):
        """Reconcile key after delay seconds (sooner if it is already due sooner)."""
        due = asyncio.get_running_loop().time() + max(delay, 0.0)
        if key in self._running and delay <= 0:
            self._dirty.add(key)
            return
        if key not in self._due or due < self._due[key]:
            self._due[key] = due
            self._wake.set()

    async def run(self):
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            ready = [key for key, due in self._due.items() if due <= now and key not in self._running]
            for key in ready:
                del self._due[key]
                self._spawn(key)
            waiting = [due for key, due in self._due.items() if key not in self._running]
            self._wake.clear()
            timeout = max(min(waiting) - loop.time(), 0.0) if waiting else None
            # Not asyncio.wait_for: in Python 3.11 it can swallow a cancellation that arrives as the wait ends.
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({woken}, timeout=timeout)
            finally:
                woken.cancel()

    def _spawn(self, key):
        self._running.add(key)
        task = asyncio.ensure_future(self._process(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, key):
        again = None
        try:
            again = await self._reconcile(key)
            self._failures.pop(key, None)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug or an unexpected answer: log it and retry with backoff, as controllers do
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            again = min(BACKOFF_FIRST * 2 ** failures, BACKOFF_MAX)
            log.exception('%s: reconciling %s failed (retry in %.2f s)', self.name, '/'.join(filter(None, key)), again)
        finally:
            self._running.discard(key)
            self._wake.set()
        if key in self._dirty:
            self._dirty.discard(key)
            self.enqueue(key)
        elif again is not None:
            self.enqueue(key, again)

    async def stop(self):
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def pump(store, rtype, on_object):
    """Call on_object(obj) for every object of rtype now and on every change, until the store closes."""
    watch = store.watch(rtype)
    try:
        async for event in watch:
            if event.type != 'BOOKMARK':
                on_object(event.object)
    finally:
        watch.close()


def owned_by(kind):
    """A watch mapper: obj -> the keys of its owners of that kind."""
    def keys(obj):
        namespace = obj['metadata'].get('namespace', '')
        return [(namespace, ref['name']) for ref in obj['metadata'].get('ownerReferences') or ()
                if ref.get('kind') == kind]
    return keys


def itself(obj):
    """The watch mapper of a controller's own kind."""
    return [key_of(obj)]
