"""The kubelet's pod side, for the pods of one cluster (node registration stays in kubelet.py), and what the
node lifecycle controller and the pod garbage collector do to pods.

A pod bound to a node gets a sandbox (an IP from the node's pod CIDR, or the node's address with hostNetwork),
waits until its PersistentVolumeClaims are Bound and attached to the node (VolumeAttachment status.attached),
then runs its init containers one after the other and its containers side by side: pull (ImageRegistry), create,
start, run the command (probes.py), restart per restartPolicy with the kubelet's back-off. Statuses, Events and
logs are what a real kubelet writes. A pod whose node is gone is deleted; pods on an unreachable node lose
readiness and are evicted once their NoExecute tolerations run out.
"""

import asyncio
import base64
import hashlib
import ipaddress
import logging
import posixpath
import secrets
import time

from . import conditions, events, probes
from .images import normalise
from .podspec import (TERMINAL_PHASES, UNREACHABLE_TAINT, NOT_READY_TAINT, active, allocatable, claim_names,
                      node_ready, pod_requests, pods_claiming, seeded, tolerates)
from .runtime import find, remove_finalizer
from .scheduler import insufficient, sum_requests
from .seed import CRASH_RESTARTS
from .volumes import VolumeData

log = logging.getLogger('lab.cluster.pods')

KUBELET = 'kubelet'
GRACE_FINALIZER = 'lab.proxqa.io/graceful-termination'   # holds a deleted pod while the kubelet stops it
SANDBOX_SECONDS = 1.0         # realistic seconds to set up the pod sandbox and its network
PULL_SECONDS = 3.0            # an image pull
START_SECONDS = 1.0           # create and start a container
STOP_SECONDS = 1.0            # a container that exits on SIGTERM
BACKOFF_FIRST = 10.0          # the kubelet's restart and image pull back-off, doubling up to BACKOFF_MAX
BACKOFF_MAX = 300.0
BACKOFF_FLOOR = 0.5           # real seconds at least between retries at time scale 0
VOLUME_POLL = 5.0             # realistic seconds between looks at a volume that is not attached yet
EVICTION_SECONDS = 300.0      # DefaultTolerationSeconds for the not-ready and unreachable NoExecute taints
IMAGE_SIZE = 41943040         # bytes a pulled image reports


class FileSystem(object):
    """A container's files: its own writable layer, and its volumes at their mount paths."""

    def __init__(self, mounts, cwd='/'):
        self.cwd = cwd or '/'
        self._local = VolumeData()
        self._mounts = sorted(mounts, key=lambda item: -len(item[0]))     # (mount path, VolumeData, handle)

    def _where(self, path):
        absolute = posixpath.normpath(posixpath.join(self.cwd, path))
        for mount, data, handle in self._mounts:
            if absolute == mount or absolute.startswith(mount.rstrip('/') + '/'):
                return data, handle, absolute[len(mount):]
        return self._local, 'local', absolute

    def read(self, path):
        data, handle, relative = self._where(path)
        return data.read(handle, relative)

    def write(self, path, text):
        data, handle, relative = self._where(path)
        data.write(handle, relative, text)

    def append(self, path, text):
        data, handle, relative = self._where(path)
        data.append(handle, relative, text)

    def exists(self, path):
        data, handle, relative = self._where(path)
        return data.exists(handle, relative)

    def is_dir(self, path):
        absolute = posixpath.normpath(posixpath.join(self.cwd, path))
        data, handle, relative = self._where(path)
        return any(mount == absolute for mount, _data, _handle in self._mounts) or data.is_dir(handle, relative)

    def listing(self, path):
        data, handle, relative = self._where(path)
        absolute = posixpath.normpath(posixpath.join(self.cwd, path)).rstrip('/') + '/'
        mounts = [mount[len(absolute):].split('/')[0] for mount, _data, _handle in self._mounts
                  if mount.startswith(absolute)]
        return sorted(set(data.listing(handle, relative)) | set(mounts))

    def make_dir(self, path):
        """Directories exist as soon as a file is in them; nothing to keep."""

    def remove(self, path):
        data, handle, relative = self._where(path)
        data.remove(handle, relative)


class Box(object):
    """What a running container's command sees (probes.py): its pod, env, files, log, network and clock."""

    def __init__(self, run, container, files):
        self._run = run
        self.image = container.get('image', '')
        self.files = files
        self.network = run.world.network
        self.env = run.environment(container)
        self._container = container['name']

    @property
    def pod(self):
        return self._run.latest()

    def log(self, text):
        self._run.append_log(text, self._container)

    async def sleep(self, seconds, keep_alive=False):
        if seconds == float('inf'):
            await asyncio.Event().wait()
        # A long sleep is how a container stays up: it keeps its real length at any time scale.
        await asyncio.sleep(seconds if keep_alive else self._run.world.timing.delay(seconds))


class ContainerRun(object):
    """One container of a pod through its life: pulls, starts, exits, restarts."""

    def __init__(self, run, spec, init):
        self.run = run
        self.spec = spec
        self.name = spec['name']
        self.init = init
        self.state = {'waiting': {'reason': 'ContainerCreating' if init or not run.inits else 'PodInitializing'}}
        self.last_state = {}
        self.restarts = 0
        self.ready = False
        self.image_id = ''
        self.container_id = ''
        self.ran = False
        self.final = False          # terminated and not restarting any more
        self.files = None

    @property
    def field_path(self):
        return 'spec.{0}{{{1}}}'.format('initContainers' if self.init else 'containers', self.name)

    def status(self):
        status = {'name': self.name, 'image': self.spec.get('image', ''), 'imageID': self.image_id,
                  'ready': self.ready, 'restartCount': self.restarts, 'state': self.state,
                  'lastState': self.last_state}
        if not self.init:
            status['started'] = 'running' in self.state
        if self.container_id:
            status['containerID'] = self.container_id
        return status

    def event(self, kind, reason, message):
        self.run.event(kind, reason, message, self.field_path)

    async def life(self):
        """Run until the container is finished for good; its last exit status."""
        backoff = BACKOFF_FIRST
        while True:
            await self._pull()
            crash = self.run.runtime.crash_loop(self.run.latest(), self.name)
            if crash:
                return await self._crash_loop()
            status = await self._start_and_wait()
            self.ready = False
            if not self._restarts_after(status):
                self.final = True
                self.run.publish()
                return status
            self.last_state = self.state
            message = 'back-off {0} restarting failed container={1} pod={2}_{3}({4})'.format(
                _duration(backoff), self.name, self.run.name, self.run.namespace, self.run.uid)
            self.state = {'waiting': {'reason': 'CrashLoopBackOff', 'message': message}}
            self.event('Warning', 'BackOff', 'Back-off restarting failed container {0} in pod {1}_{2}({3})'.format(
                self.name, self.run.name, self.run.namespace, self.run.uid))
            self.run.publish()
            await asyncio.sleep(self.run.world.timing.poll(backoff, floor=BACKOFF_FLOOR))
            backoff = min(backoff * 2, BACKOFF_MAX)
            self.restarts += 1

    def _restarts_after(self, status):
        policy = self.run.spec.get('restartPolicy', 'Always')
        if self.init:
            return status != 0 and policy != 'Never'
        return policy == 'Always' or (policy == 'OnFailure' and status != 0)

    async def _pull(self):
        image = self.spec.get('image', '')
        backoff = BACKOFF_FIRST
        while True:
            self.event('Normal', 'Pulling', 'Pulling image "{0}"'.format(image))
            await asyncio.sleep(self.run.world.timing.delay(PULL_SECONDS))
            error = self.run.world.images.pull(image)
            if error is None:
                break
            failure = 'Failed to pull image "{0}": {1}'.format(image, error)
            self.state = {'waiting': {'reason': 'ErrImagePull', 'message': failure}}
            self.event('Warning', 'Failed', failure)
            self.event('Warning', 'Failed', 'Error: ErrImagePull')
            self.run.publish()
            await asyncio.sleep(self.run.world.timing.poll(1.0, floor=BACKOFF_FLOOR))
            self.state = {'waiting': {'reason': 'ImagePullBackOff',
                                      'message': 'Back-off pulling image "{0}": ErrImagePull: {1}'.format(image, error)}}
            self.event('Normal', 'BackOff', 'Back-off pulling image "{0}"'.format(image))
            self.event('Warning', 'Failed', 'Error: ImagePullBackOff')
            self.run.publish()
            await asyncio.sleep(self.run.world.timing.poll(backoff, floor=BACKOFF_FLOOR))
            backoff = min(backoff * 2, BACKOFF_MAX)
        seconds = '{0:.3f}s'.format(PULL_SECONDS)
        self.event('Normal', 'Pulled', 'Successfully pulled image "{0}" in {1} ({1} including waiting). Image size: '
                   '{2} bytes.'.format(image, seconds, IMAGE_SIZE))
        self.image_id = '{0}@sha256:{1}'.format(_repository(image), hashlib.sha256(image.encode()).hexdigest())

    async def _start_and_wait(self):
        """Create and start the container, run its command; its exit status."""
        self.container_id = 'containerd://' + secrets.token_hex(32)
        self.files = self.run.file_system(self.spec)
        box = Box(self.run, self.spec, self.files)
        await asyncio.sleep(self.run.world.timing.delay(START_SECONDS))
        self.event('Normal', 'Created', 'Created container ' + self.name)
        started = conditions.now()
        argv = list(self.spec.get('command') or []) + list(self.spec.get('args') or [])
        work = asyncio.ensure_future(probes.run(argv, box))
        await asyncio.sleep(0)        # let the command reach its first wait before it counts as started
        if work.done() and isinstance(work.exception(), probes.StartError):
            return self._start_error(str(work.exception()), started)
        self.state = {'running': {'startedAt': started}}
        self.ran = True
        self.event('Normal', 'Started', 'Started container ' + self.name)
        readiness = asyncio.ensure_future(self._become_ready())
        self.run.publish()
        try:
            status = await work
            if status is probes.SERVES and not self.init:
                await asyncio.Event().wait()
        finally:
            readiness.cancel()
        if status is probes.SERVES:
            status = 0        # an init container running its image's own program does its job and exits
        self.state = {'terminated': {'exitCode': status, 'reason': 'Completed' if status == 0 else 'Error',
                                     'startedAt': started, 'finishedAt': conditions.now(),
                                     'containerID': self.container_id}}
        return status

    def _start_error(self, message, started):
        self.state = {'terminated': {'exitCode': 128, 'reason': 'StartError', 'message': message,
                                     'startedAt': '1970-01-01T00:00:00Z', 'finishedAt': started,
                                     'containerID': self.container_id}}
        self.event('Warning', 'Failed', 'Error: ' + message)
        return 128

    async def _become_ready(self):
        if self.init:
            return
        probe = self.spec.get('readinessProbe') or {}
        await asyncio.sleep(self.run.world.timing.delay(probe.get('initialDelaySeconds', 0)))
        self.ready = True
        self.run.publish()

    async def _crash_loop(self):
        """A fault makes this container crash at once after every start: CrashLoopBackOff with many restarts."""
        self.restarts = CRASH_RESTARTS
        self.last_state = {'terminated': {'exitCode': 1, 'reason': 'Error', 'startedAt': conditions.now(),
                                          'finishedAt': conditions.now(), 'containerID': self.container_id}}
        self.state = {'waiting': {'reason': 'CrashLoopBackOff', 'message': (
            'back-off 5m0s restarting failed container={0} pod={1}_{2}({3})'.format(
                self.name, self.run.name, self.run.namespace, self.run.uid))}}
        self.ran = True
        self.event('Warning', 'BackOff', 'Back-off restarting failed container {0} in pod {1}_{2}({3})'.format(
            self.name, self.run.name, self.run.namespace, self.run.uid))
        self.run.publish()
        await asyncio.Event().wait()


class PodRun(object):
    """A pod on its node, from sandbox to the end."""

    def __init__(self, runtime, pod):
        self.runtime = runtime
        self.world = runtime.world
        self.store = runtime.store
        meta = pod['metadata']
        self.name, self.namespace, self.uid = meta['name'], meta['namespace'], meta['uid']
        self.spec = pod['spec']
        self.node = pod['spec']['nodeName']
        self.inits = [ContainerRun(self, spec, True) for spec in pod['spec'].get('initContainers') or ()]
        self.mains = [ContainerRun(self, spec, False) for spec in pod['spec'].get('containers') or ()]
        self.ip = None
        self.host_ip = None
        self.started = None
        self.sandbox = False
        self.rejected = None         # (reason, message) when the kubelet refused the pod
        self.changed = asyncio.Event()
        self._pod_files = VolumeData()         # emptyDir volumes, by volume name
        self._shared = {}                      # volume name -> (VolumeData, handle)
        self.task = asyncio.ensure_future(self._main())

    # ------------------------------------------------------------------ the store side

    def latest(self):
        pod = find(self.store, self.runtime.pods, self.name, self.namespace)
        return pod if pod is not None and pod['metadata']['uid'] == self.uid else None

    def event(self, kind, reason, message, field_path=None):
        pod = self.latest()
        if pod is not None:
            events.record(self.store, pod, kind, reason, message, KUBELET, host=self.node, field_path=field_path)

    def append_log(self, text, container):
        if self.latest() is not None:
            self.store.append_log(self.namespace, self.name, text, container)
            self.runtime.ship_log(self.namespace, self.name, container, text)

    def publish(self):
        """Write the pod's status as the kubelet sees it now (nothing while the node is unreachable)."""
        pod = self.latest()
        node = find(self.store, self.runtime.nodes, self.node)
        if pod is None or node is None or node_ready(node) == 'Unknown':
            return
        status = self._status(pod)
        current = pod.get('status') or {}
        if any(current.get(key) != value for key, value in status.items()):
            self.store.patch(self.runtime.pods, self.name, {'status': status}, 'merge', self.namespace,
                             subresource='status')

    def _status(self, pod):
        phase = self.phase()
        status = {'phase': phase, 'hostIP': self.host_ip, 'hostIPs': [{'ip': self.host_ip}] if self.host_ip else None,
                  'startTime': self.started, 'qosClass': qos_class(pod),
                  'conditions': self._conditions(pod, phase),
                  'containerStatuses': [container.status() for container in self.mains]}
        if self.ip:
            status.update(podIP=self.ip, podIPs=[{'ip': self.ip}])
        if self.inits:
            status['initContainerStatuses'] = [container.status() for container in self.inits]
        if self.rejected:
            status.update(reason=self.rejected[0], message=self.rejected[1])
        return status

    def phase(self):
        if self.rejected:
            return 'Failed'
        if any(container.final and container.state['terminated']['exitCode'] != 0 for container in self.inits):
            return 'Failed'
        if not all(container.final for container in self.inits):
            return 'Pending'
        waiting = [container for container in self.mains if not container.ran]
        if waiting:
            return 'Pending'
        if not all(container.final for container in self.mains):
            return 'Running'
        failed = any(container.state['terminated']['exitCode'] != 0 for container in self.mains)
        return 'Failed' if failed else 'Succeeded'

    def _conditions(self, pod, phase):
        initialized = all(container.final for container in self.inits)
        unready = [container.name for container in self.mains if not container.ready]
        items = [('PodReadyToStartContainers', self.sandbox and phase not in TERMINAL_PHASES, '', ''),
                 ('Initialized', initialized, 'ContainersNotInitialized',
                  'containers with incomplete status: [{0}]'.format(' '.join(
                      container.name for container in self.inits if not container.final)))]
        reason, message = ('PodCompleted', '') if phase in TERMINAL_PHASES and not self.rejected else (
            'ContainersNotReady', 'containers with unready status: [{0}]'.format(' '.join(unready)))
        items += [('Ready', not unready, reason, message), ('ContainersReady', not unready, reason, message),
                  ('PodScheduled', True, '', '')]
        old = dict((item['type'], item) for item in (pod.get('status') or {}).get('conditions') or ())
        result = []
        for kind, holds, reason, message in items:
            status = 'True' if holds else 'False'
            item = {'type': kind, 'status': status, 'lastProbeTime': None,
                    'lastTransitionTime': old[kind]['lastTransitionTime'] if old.get(kind, {}).get('status') == status
                    and old[kind].get('lastTransitionTime') else conditions.now()}
            if not holds and reason:
                item['reason'] = reason
                if message:
                    item['message'] = message
            result.append(item)
        return result

    # ------------------------------------------------------------------ the pod's life

    async def _main(self):
        try:
            pod = self.latest()
            if pod is None:
                return
            self.started = conditions.now()
            rejection = self.runtime.admit(pod)
            if rejection:
                self.rejected = rejection
                self.event('Warning', rejection[0], rejection[1])
                self.publish()
                return
            self.runtime.hold(pod)
            if not await self._sandbox():
                return
            await self._volumes_ready()
            for container in self.inits:
                if await container.life() != 0:
                    return
            for container in self.mains:
                container.state = {'waiting': {'reason': 'ContainerCreating'}}
            self.publish()
            await asyncio.gather(*(container.life() for container in self.mains))
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: log it; the pod keeps the status it had
            log.exception('%s: running pod %s/%s failed', self.world.name, self.namespace, self.name)

    async def _sandbox(self):
        """The pod's IP (from the node's pod CIDR) and host IP; False when the node went away."""
        while True:
            node = find(self.store, self.runtime.nodes, self.node)
            if node is None:
                return False
            self.host_ip = node_address(node)
            if self.spec.get('hostNetwork'):
                self.ip = self.host_ip
                break
            self.ip = self.runtime.allocate_ip(node, self.uid)
            if self.ip:
                break
            await self._wait_for_change(VOLUME_POLL)
        self.publish()
        await asyncio.sleep(self.world.timing.delay(SANDBOX_SECONDS))
        self.sandbox = True
        self.publish()
        return True

    async def _volumes_ready(self):
        """Wait until every claim is Bound and its volume attached to the node; mount the volumes."""
        while True:
            missing = self.runtime.unready_volumes(self.latest() or {'spec': self.spec,
                                                                     'metadata': {'namespace': self.namespace}},
                                                   self.node)
            if not missing:
                break
            await self._wait_for_change(VOLUME_POLL)
        pod = self.latest()
        if pod is not None:
            self._shared = self.runtime.volume_sources(pod, self._pod_files)

    async def _wait_for_change(self, realistic):
        self.changed.clear()
        try:
            await asyncio.wait_for(self.changed.wait(), self.world.timing.poll(realistic, floor=1.0))
        except asyncio.TimeoutError:
            pass

    def file_system(self, container):
        mounts = []
        for mount in container.get('volumeMounts') or ():
            source = self._shared.get(mount['name'])
            if source is not None:
                mounts.append((mount['mountPath'].rstrip('/') or '/', source[0], source[1]))
        return FileSystem(mounts, container.get('workingDir'))

    def environment(self, container):
        pod = self.latest() or {'metadata': {'name': self.name, 'namespace': self.namespace}, 'spec': self.spec}
        env = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
               'HOSTNAME': self.spec.get('hostname') or self.name,
               'KUBERNETES_SERVICE_HOST': '10.96.0.1', 'KUBERNETES_SERVICE_PORT': '443'}
        for item in container.get('env') or ():
            env[item['name']] = item['value'] if 'value' in item else self.runtime.env_value(
                pod, self.ip, item.get('valueFrom') or {})
        return env

    async def stop(self, grace):
        """Stop the containers (SIGTERM, then SIGKILL after the grace period) and the pod's work."""
        self.task.cancel()
        running = [container for container in self.mains if 'running' in container.state]
        for container in running:
            container.event('Normal', 'Killing', 'Stopping container ' + container.name)
        await asyncio.sleep(self.world.timing.delay(grace))
        for container in running:
            container.ready = False
            container.state = {'terminated': {'exitCode': 137 if grace > STOP_SECONDS else 0,
                                              'reason': 'Error' if grace > STOP_SECONDS else 'Completed',
                                              'startedAt': container.state['running']['startedAt'],
                                              'finishedAt': conditions.now(), 'containerID': container.container_id}}
            container.final = True
        self.publish()


class PodRuntime(object):
    """The kubelets of a cluster's nodes, for pods (key: the pod)."""

    primary = ('v1', 'Pod')

    def __init__(self, world):
        self.world = world
        self.store = world.store
        self.name = world.name + '/kubelet-pods'
        self.pods = self.store.kind('v1', 'Pod')
        self.nodes = self.store.kind('v1', 'Node')
        self._claims = self.store.kind('v1', 'PersistentVolumeClaim')
        self._volumes = self.store.kind('v1', 'PersistentVolume')
        self._attachments = self.store.kind('storage.k8s.io/v1', 'VolumeAttachment')
        self._runs = {}           # (namespace, name) -> PodRun
        self._ips = {}            # pod uid -> IP held for it
        self._tainted = {}        # (node, taint key, effect) -> monotonic time first seen
        self._stopping = set()    # pod uids being stopped
        self.crash_loop = lambda pod, container: False    # system.py tells which containers a fault crashes
        self.ship_log = lambda namespace, pod, container, text: None   # the log collector, when one runs
        self.related = [(self.store, ('v1', 'Node'), self._pods_on),
                        (self.store, ('storage.k8s.io/v1', 'VolumeAttachment'), self._pods_on_attached_node),
                        (self.store, ('v1', 'PersistentVolumeClaim'), self._pods_claiming)]

    def _pods_on(self, node):
        return [(pod['metadata']['namespace'], pod['metadata']['name']) for pod in self.store.list(
            self.pods, fields='spec.nodeName=' + node['metadata']['name'])[0]]

    def _pods_on_attached_node(self, attachment):
        return self._pods_on({'metadata': {'name': (attachment.get('spec') or {}).get('nodeName', '')}})

    def _pods_claiming(self, claim):
        return [(claim['metadata']['namespace'], pod['metadata']['name']) for pod in pods_claiming(self.store, claim)]

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key):
        pod = find(self.store, self.pods, key[1], key[0])
        run = self._runs.get(key)
        if run is not None and (pod is None or pod['metadata']['uid'] != run.uid):
            run.task.cancel()
            self._ips.pop(run.uid, None)
            del self._runs[key]
            run = None
        if pod is None or seeded(pod) or not pod['spec'].get('nodeName'):
            return None
        node = find(self.store, self.nodes, pod['spec']['nodeName'])
        if node is None:
            return self._collect(pod)
        if pod['metadata'].get('deletionTimestamp'):
            return self._terminate(pod, run, node)
        if node_ready(node) == 'Unknown':
            return self._unreachable(pod, node)
        if run is None and (pod.get('status') or {}).get('phase') not in TERMINAL_PHASES:
            self._runs[key] = PodRun(self, pod)
        elif run is not None:
            run.changed.set()
            run.publish()
        return self._evict_if_untolerated(pod, node)

    def _collect(self, pod):
        """The pod garbage collector: a pod bound to a node that no longer exists is deleted at once."""
        remove_finalizer(self.store, self.pods, pod, GRACE_FINALIZER)
        if find(self.store, self.pods, pod['metadata']['name'], pod['metadata']['namespace']) is not None \
                and not pod['metadata'].get('deletionTimestamp'):
            self.store.delete(self.pods, pod['metadata']['name'], pod['metadata']['namespace'])
        return None

    def _terminate(self, pod, run, node):
        """A deleted pod: its containers are stopped, then the kubelet lets it go (not while unreachable)."""
        uid = pod['metadata']['uid']
        if GRACE_FINALIZER not in (pod['metadata'].get('finalizers') or ()) or uid in self._stopping:
            return None
        if node_ready(node) == 'Unknown':
            return None
        self._stopping.add(uid)
        task = asyncio.ensure_future(self._stop(pod, run))
        task.add_done_callback(lambda _task: self._stopping.discard(uid))
        return None

    async def _stop(self, pod, run):
        shell = any(probes.shell_image(container.get('image', '')) for container in pod['spec']['containers'])
        # A shell as PID 1 ignores SIGTERM: it is killed when the grace period ends.
        grace = float(pod['spec'].get('terminationGracePeriodSeconds', 30)) if shell else STOP_SECONDS
        if run is not None:
            await run.stop(grace)
        remove_finalizer(self.store, self.pods, pod, GRACE_FINALIZER)

    def _unreachable(self, pod, node):
        """The node lifecycle controller marks the pods of an unreachable node not ready."""
        ready = next((item for item in (pod.get('status') or {}).get('conditions') or ()
                      if item.get('type') == 'Ready'), None)
        if ready is not None and ready.get('status') != 'False':
            items = [dict(item, status='False', lastTransitionTime=conditions.now()) if item['type'] == 'Ready'
                     else item for item in pod['status']['conditions']]
            self.store.patch(self.pods, pod['metadata']['name'], {'status': {'conditions': items}}, 'merge',
                             pod['metadata']['namespace'], subresource='status')
        return self._evict_if_untolerated(pod, node)

    def _evict_if_untolerated(self, pod, node):
        """Taint-based eviction: a NoExecute taint the pod does not tolerate (for long enough) deletes it."""
        now = time.monotonic()
        left = []
        for taint in (node.get('spec') or {}).get('taints') or ():
            if taint.get('effect') != 'NoExecute':
                continue
            since = self._tainted.setdefault((node['metadata']['name'], taint['key'], taint['effect']), now)
            seconds = toleration_seconds(pod, taint)
            if seconds is None:
                continue
            remaining = since + self.world.timing.delay(seconds) - now
            if remaining <= 0:
                events.record(self.store, pod, 'Normal', 'TaintManagerEviction', 'Marking for deletion Pod {0}/{1}'
                              .format(pod['metadata']['namespace'], pod['metadata']['name']), 'taint-eviction-controller')
                self.store.delete(self.pods, pod['metadata']['name'], pod['metadata']['namespace'])
                return None
            left.append(remaining)
        taints = set((taint['key'], taint.get('effect')) for taint in (node.get('spec') or {}).get('taints') or ())
        for item in [item for item in self._tainted if item[0] == node['metadata']['name']]:
            if item[1:] not in taints:
                del self._tainted[item]
        return min(left) if left else None

    # ------------------------------------------------------------------ what runs ask for

    def admit(self, pod):
        """The kubelet's admission: (reason, message) when the node cannot hold the pod's requests."""
        node = find(self.store, self.nodes, pod['spec']['nodeName'])
        others = [item for item in self.store.list(self.pods, fields='spec.nodeName=' + pod['spec']['nodeName'])[0]
                  if active(item) and item['metadata']['uid'] != pod['metadata']['uid']
                  and not (item.get('status') or {}).get('reason', '').startswith('OutOf')]
        missing = [reason for reason in insufficient(pod, node, others) if reason.startswith('Insufficient ')]
        if not missing:
            return None
        resource = missing[0][len('Insufficient '):]
        return ('OutOf' + resource, "Pod was rejected: Node didn't have enough resource: {0}, requested: {1}, used: "
                "{2}, capacity: {3}".format(resource, pod_requests(pod).get(resource, 0),
                                            sum_requests(others).get(resource, 0), allocatable(node).get(resource, 0)))

    def hold(self, pod):
        """Keep a deleted pod until its containers are stopped (a modelled grace period needs a time scale)."""
        if self.world.timing.scale > 0:
            finalizers = pod['metadata'].get('finalizers') or []
            if GRACE_FINALIZER not in finalizers:
                self.store.patch(self.pods, pod['metadata']['name'], {'metadata': {
                    'finalizers': finalizers + [GRACE_FINALIZER]}}, 'merge', pod['metadata']['namespace'])

    def allocate_ip(self, node, uid):
        """The lowest free address of the node's pod CIDR (.1 is the node's gateway), or None without a CIDR."""
        if uid in self._ips:
            return self._ips[uid]
        cidr = (node.get('spec') or {}).get('podCIDR')
        if not cidr:
            return None
        taken = set(self._ips.values()) | set(
            (pod.get('status') or {}).get('podIP') for pod in self.store.list(
                self.pods, fields='spec.nodeName=' + node['metadata']['name'])[0] if active(pod))
        hosts = list(ipaddress.ip_network(cidr).hosts())[1:]
        address = next((str(host) for host in hosts if str(host) not in taken), None)
        if address:
            self._ips[uid] = address
        return address

    def unready_volumes(self, pod, node):
        """Names of the pod's claim volumes not yet Bound and attached to node."""
        missing = []
        for volume, name in claim_names(pod):
            claim = find(self.store, self._claims, name, pod['metadata']['namespace'])
            if claim is None or (claim.get('status') or {}).get('phase') != 'Bound':
                missing.append(volume)
                continue
            pv = find(self.store, self._volumes, claim['spec'].get('volumeName', ''))
            if pv is None or (pv['spec'].get('csi') and not self._attached(pv, node)):
                missing.append(volume)
        return missing

    def _attached(self, pv, node):
        return any((item.get('spec') or {}).get('nodeName') == node
                   and ((item.get('spec') or {}).get('source') or {}).get('persistentVolumeName') == pv['metadata']['name']
                   and (item.get('status') or {}).get('attached') for item in self.store.list(self._attachments)[0])

    def volume_sources(self, pod, pod_files):
        """volume name -> (VolumeData, handle) of the pod's volumes: claims by their CSI volumeHandle (data that
        outlives the pod), emptyDirs in the pod, configMaps and secrets as files of their keys."""
        sources = {}
        namespace = pod['metadata']['namespace']
        for volume in pod['spec'].get('volumes') or ():
            name = volume['name']
            if volume.get('persistentVolumeClaim'):
                claim = find(self.store, self._claims, volume['persistentVolumeClaim']['claimName'], namespace)
                pv = find(self.store, self._volumes, ((claim or {}).get('spec') or {}).get('volumeName', ''))
                if pv is not None:
                    handle = (pv['spec'].get('csi') or {}).get('volumeHandle') or 'pv/' + pv['metadata']['name']
                    sources[name] = (self.world.volumes, handle)
            elif volume.get('configMap') or volume.get('secret'):
                sources[name] = (pod_files, name)
                for key, text in self._keys(volume, namespace).items():
                    pod_files.write(name, key, text)
            else:
                sources[name] = (pod_files, name)
        return sources

    def _keys(self, volume, namespace):
        if volume.get('configMap'):
            found = find(self.store, self.store.kind('v1', 'ConfigMap'), volume['configMap'].get('name', ''), namespace)
            return (found or {}).get('data') or {}
        found = find(self.store, self.store.kind('v1', 'Secret'), volume['secret'].get('secretName', ''), namespace)
        return dict((key, base64.b64decode(value).decode(errors='replace'))
                    for key, value in ((found or {}).get('data') or {}).items())

    def env_value(self, pod, ip, source):
        if source.get('fieldRef'):
            path = source['fieldRef'].get('fieldPath', '')
            return {'metadata.name': pod['metadata']['name'], 'metadata.namespace': pod['metadata']['namespace'],
                    'spec.nodeName': pod['spec'].get('nodeName', ''), 'status.podIP': ip or '',
                    'spec.serviceAccountName': pod['spec'].get('serviceAccountName', 'default')}.get(path, '')
        for kind, ref in (('ConfigMap', 'configMapKeyRef'), ('Secret', 'secretKeyRef')):
            if source.get(ref):
                found = find(self.store, self.store.kind('v1', kind), source[ref].get('name', ''),
                             pod['metadata']['namespace'])
                value = ((found or {}).get('data') or {}).get(source[ref].get('key', ''), '')
                return base64.b64decode(value).decode(errors='replace') if kind == 'Secret' else value
        return ''

    def stop(self):
        for run in self._runs.values():
            run.task.cancel()


def toleration_seconds(pod, taint):
    """How long the pod may stay on a node with that NoExecute taint: 0 when not tolerated, None for ever."""
    matching = [item for item in pod['spec'].get('tolerations') or () if tolerates(item, taint)]
    if not matching:
        if taint['key'] in (NOT_READY_TAINT, UNREACHABLE_TAINT):
            return EVICTION_SECONDS
        return 0
    limits = [item.get('tolerationSeconds') for item in matching]
    if any(limit is None for limit in limits):
        return None
    return max(0, min(limits))


def node_address(node):
    return next((item['address'] for item in (node.get('status') or {}).get('addresses') or ()
                 if item.get('type') == 'InternalIP'), '')


def qos_class(pod):
    containers = (pod['spec'].get('containers') or []) + (pod['spec'].get('initContainers') or [])
    resources = [container.get('resources') or {} for container in containers]
    if not any(item.get('requests') or item.get('limits') for item in resources):
        return 'BestEffort'
    guaranteed = all(set(('cpu', 'memory')) <= set(item.get('limits') or {}) and all(
        (item.get('requests') or item['limits']).get(name, item['limits'][name]) == item['limits'][name]
        for name in ('cpu', 'memory')) for item in resources)
    return 'Guaranteed' if guaranteed else 'Burstable'


def _repository(image):
    _reference, host, repository, _tag = normalise(image)
    return '{0}/{1}'.format(host, repository)


def _duration(seconds):
    """Go's time.Duration text: 10s, 2m40s, 5m0s."""
    minutes, rest = divmod(int(seconds), 60)
    return '{0}m{1}s'.format(minutes, rest) if minutes else '{0}s'.format(rest)


