"""ClusterLab: the management and tenant clusters (two API servers), their controllers, the faults and the
control API, in one asyncio process."""

import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from lab.kube.server import KubeServer
from lab.kube.store import CLEANUP_DELAY, Store

from .capi import (ClusterReconciler, KubeadmConfigReconciler, MachineDeploymentReconciler, MachineReconciler,
                   MachineSetReconciler)
from .capmox import Capmox, ProxmoxClusterReconciler, ProxmoxMachineReconciler
from .control import ControlApi, start_control
from .cozystack import CozyStack, seed_cozystack
from .crds import IPAM_CRDS
from .csi import Attacher, CsiNodeRegistrar, ProxmoxCsi, TopologyLabeller
from .csi_seed import install as install_csi
from .csi_volumes import ClaimReconciler, VolumeReleaser
from .faults import Faults
from .ipam import IpamReconciler
from .kinds import PROXMOX_CLUSTER, PROXMOX_MACHINE, rtype
from .kubelet import KubeletReconciler
from .logship import LogShipper
from .mhc import MachineHealthCheckReconciler
from .pve import PveClient
from .runtime import Controller, Timing, itself, key_of, pump, served
from .seed import (CAPI_OPERATOR, CAPMOX, CAPMOX_VERSION, TOO_NEW_CAPMOX_VERSION, seed_crds, seed_management,
                   set_provider_version, write_credentials)
from .volumes import VolumeData
from .webhooks import capmox_validator
from .world import World

log = logging.getLogger('lab.cluster')
CRD_GONE_POLL = 0.05      # seconds between looks at a terminating CRD before it is installed again


@dataclass(frozen=True)
class Options:
    host: str
    mgmt_port: int
    tenant_port: int
    state_dir: Path
    pve_url: str
    pve_ca: Path
    time_scale: float = 0.0
    faults: tuple = field(default=())
    logs_url: str = ''       # VictoriaLogs, where the management cluster's pod logs go ('': nowhere)


@dataclass(frozen=True)
class Token:
    token_id: str
    token_secret: str

    def __repr__(self):
        return 'Token({0!r}, secret hidden)'.format(self.token_id)


class Manager(object):
    """Runs a Controller per reconciler, fed by watches of its own kind and of the related kinds."""

    def __init__(self, reconcilers):
        self._pairs = [(reconciler, Controller(reconciler.name, reconciler.reconcile)) for reconciler in reconcilers]
        self._tasks = []

    def start(self, primary_store):
        for reconciler, controller in self._pairs:
            self._tasks.append(asyncio.ensure_future(controller.run()))
            watches = [(primary_store, reconciler.primary, itself)] + list(reconciler.related)
            for store, ref, mapper in watches:
                self._tasks.append(asyncio.ensure_future(pump(store, rtype(store, ref), self._feeder(
                    reconciler.name, controller, mapper))))

    @staticmethod
    def _feeder(name, controller, mapper):
        def feed(obj):
            try:
                keys = mapper(obj)
            except Exception:  # a mapper's bug must not end the watch
                log.exception('%s: mapping a watch event failed', name)
                return
            for key in keys:
                controller.enqueue(key)
        return feed

    def resync(self, store):
        """Reconcile every object of every controller's kind again (after a fault changed the world)."""
        for reconciler, controller in self._pairs:
            kind = served(store, *reconciler.primary)
            for obj in store.list(kind)[0] if kind else ():
                controller.enqueue(key_of(obj))

    async def stop(self):
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(controller.stop() for _reconciler, controller in self._pairs))


class ClusterLab(object):
    def __init__(self, options, capmox, kubelet_token, csi_token=None):
        self.options = options
        self._capmox_token = capmox
        self._kubelet_token = kubelet_token
        self._csi_token = csi_token or capmox
        self.csi = None                   # the Proxmox CSI plugin (csi.ProxmoxCsi) of the management cluster
        self.tenant_csi = None            # and the one CozyStack installs into the tenant cluster
        self._tenant_manager = None       # the tenant plugin's controllers
        self.faults = Faults()
        cleanup = Timing(options.time_scale).delay(CLEANUP_DELAY)     # a namespace's content goes after it
        self.mgmt = Store(cleanup_delay=cleanup)
        self.tenant = Store(cleanup_delay=cleanup)
        self.mgmt.validators.append(capmox_validator(self.faults))
        self.system = None
        self.servers = {}
        self._session = None
        self._manager = None
        self._cozystack = None
        self.volumes = VolumeData()       # files on persistent volumes, by CSI volumeHandle (both clusters)
        self.worlds = {}                  # 'mgmt'/'tenant' -> World: workloads and network of that cluster
        self._world_managers = []
        self._control = None
        self._tasks = set()

    async def start(self):
        """Serve both clusters, run the controllers and the control API; the ready document."""
        options = self.options
        self.system = seed_management(self.mgmt, options.pve_url, self._capmox_token.token_id,
                                      self._capmox_token.token_secret)
        seed_cozystack(self.mgmt)
        install_csi(self.mgmt)
        install_csi(self.tenant, on_control_plane=False)
        for name, store, port in (('mgmt', self.mgmt, options.mgmt_port), ('tenant', self.tenant, options.tenant_port)):
            self.servers[name] = KubeServer(store, options.host, port, str(options.state_dir), name)
            await self.servers[name].start()
        context = ssl.create_default_context(cafile=str(options.pve_ca))
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        timing = Timing(options.time_scale)
        for name, store in (('mgmt', self.mgmt), ('tenant', self.tenant)):
            world = self.worlds[name] = World(name, store, self.faults, timing, self.volumes)
            world.install()
            manager = Manager(world.reconcilers())
            manager.start(store)
            self._world_managers.append((world, manager))
        capmox = Capmox(self.mgmt, self._session, self.faults, timing)
        csi_api = PveClient(self._session, options.pve_url, self._csi_token.token_id, self._csi_token.token_secret)
        self.csi, self.tenant_csi = (ProxmoxCsi(store, csi_api, self._csi_token, self.faults, timing,
                                                self.worlds[name].images, self.volumes)
                                     for name, store in (('mgmt', self.mgmt), ('tenant', self.tenant)))
        kubelet_api = PveClient(self._session, options.pve_url, self._kubelet_token.token_id,
                                self._kubelet_token.token_secret)
        cluster = ClusterReconciler(self.mgmt, self.servers['tenant'].kubeconfig_text)
        cluster.watch_infrastructure(PROXMOX_CLUSTER)
        machine = MachineReconciler(self.mgmt, self.tenant)
        machine.watch_infrastructure(PROXMOX_MACHINE)
        self._cozystack = CozyStack(self.mgmt, self.faults, self.servers['tenant'])
        self._manager = Manager(self._cozystack.reconcilers() + [
            cluster, MachineDeploymentReconciler(self.mgmt), MachineSetReconciler(self.mgmt, timing), machine,
            KubeadmConfigReconciler(self.mgmt), ProxmoxClusterReconciler(capmox), ProxmoxMachineReconciler(capmox),
            IpamReconciler(self.mgmt), KubeletReconciler(self.mgmt, self.tenant, kubelet_api, self.faults, timing),
            MachineHealthCheckReconciler(self.mgmt, self.tenant, self.faults, timing),
            TopologyLabeller(self.csi), CsiNodeRegistrar(self.csi), Attacher(self.csi), ClaimReconciler(self.csi),
            VolumeReleaser(self.csi)])
        self._manager.start(self.mgmt)
        self._tenant_manager = Manager([CsiNodeRegistrar(self.tenant_csi), Attacher(self.tenant_csi),
                                        ClaimReconciler(self.tenant_csi), VolumeReleaser(self.tenant_csi)])
        self._tenant_manager.start(self.tenant)
        self._spawn(self.csi.learn())
        self._spawn(self.tenant_csi.learn())
        if options.logs_url:
            shipper = LogShipper(options.logs_url)
            self.worlds['mgmt'].runtime.ship_log = shipper.ship
            self._spawn(shipper.run())
        self.faults.listen(self._apply_fault)
        for name in options.faults:
            self.faults.set(name)
        runner, control_url = await start_control(ControlApi(self.faults, self._urls), options.host)
        self._control = runner
        return dict(self._urls(), control_url=control_url)

    def _urls(self):
        return {'mgmt_url': self.servers['mgmt'].url, 'tenant_url': self.servers['tenant'].url,
                'mgmt_kubeconfig': self.servers['mgmt'].kubeconfig,
                'tenant_kubeconfig': self.servers['tenant'].kubeconfig}

    def _apply_fault(self, name, active):
        log.info('fault %s: %s', 'set' if active else 'cleared', name)
        self._cozystack.apply_fault(name, active)
        self.csi.apply_fault(name, active)
        self.tenant_csi.apply_fault(name, active)
        if name in ('capmox-down', 'capi-operator-down'):
            (self.system.crash_loop if active else self.system.recover)(
                CAPMOX if name == 'capmox-down' else CAPI_OPERATOR)
        elif name == 'capmox-too-new':
            set_provider_version(self.mgmt, 'InfrastructureProvider', 'proxmox',
                                 TOO_NEW_CAPMOX_VERSION if active else CAPMOX_VERSION)
        elif name == 'capmox-url-suffix':
            url = self.options.pve_url.rstrip('/') + ('/api2/json' if active else '')
            write_credentials(self.mgmt, url, self._capmox_token.token_id, self._capmox_token.token_secret)
        elif name == 'ipam-missing':
            if active:
                self._remove_ipam()
            else:
                self._spawn(self._reinstall_ipam())
        for world, manager in self._world_managers:
            world.apply_fault(name, active)
            manager.resync(world.store)
        self._manager.resync(self.mgmt)
        self._tenant_manager.resync(self.tenant)

    def _remove_ipam(self):
        kind = self.mgmt.kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition')
        for crd in IPAM_CRDS:
            self.mgmt.delete(kind, crd.name)

    async def _reinstall_ipam(self):
        """Install the IPAM CRDs again once the removed ones are gone."""
        kind = self.mgmt.kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition')
        names = [crd.name for crd in IPAM_CRDS]
        while any(item['metadata']['name'] in names for item in self.mgmt.list(kind)[0]):
            await asyncio.sleep(CRD_GONE_POLL)
        if not self.faults.active('ipam-missing'):
            seed_crds(self.mgmt, IPAM_CRDS)
            self._manager.resync(self.mgmt)

    def _spawn(self, work):
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self):
        for task in list(self._tasks):
            task.cancel()
        if self._control is not None:
            await self._control.cleanup()
        for manager in (self._manager, self._tenant_manager):
            if manager is not None:
                await manager.stop()
        for world, manager in self._world_managers:
            await manager.stop()
            world.runtime.stop()
        for server in self.servers.values():
            await server.stop()
        if self._session is not None:
            await self._session.close()
