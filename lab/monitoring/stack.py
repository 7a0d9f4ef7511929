"""The monitoring stack: the real components (VictoriaMetrics, vmagent, vmalert, prometheus-pve-exporter) as
children, the lab's own service (logs, Grafana, control) in this process, and the faults that act on both."""

import asyncio
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from lab.monitoring import configs
from lab.monitoring.apis import FaultNotApplied, control_app, grafana_app, logs_app, unavailable_app
from lab.monitoring.children import Child, ChildError, Children
from lab.monitoring.state import MonitoringLab

VM_BINARIES = ('victoria-metrics', 'vmagent', 'vmalert')
RETENTION = '1d'       # VictoriaMetrics' shortest; the storage is wiped at every start anyway
SETUP_HINT = 'run ./scripts/setup-monitoring'
PACKAGE_COMPONENTS = {'victoria-metrics': VM_BINARIES, 'prometheus-pve-exporter': ('pve-exporter',)}


@dataclass(frozen=True)
class Options:
    host: str
    state_dir: Path
    pve_url: str
    pve_ca: Path
    pve_token_id: str
    scrape_interval: float
    vm_bin_dir: Path
    exporter: Path


def missing_packages(options):
    """package -> why it is unavailable, for every package whose binaries are not there."""
    reasons = {}
    absent = [str(options.vm_bin_dir / name) for name in VM_BINARIES
              if not os.access(options.vm_bin_dir / name, os.X_OK)]
    if absent:
        reasons['victoria-metrics'] = 'the Debian package victoria-metrics is not installed ({0} missing): {1}'.format(
            ', '.join(absent), SETUP_HINT)
    if not os.access(options.exporter, os.X_OK):
        reasons['prometheus-pve-exporter'] = 'prometheus-pve-exporter is not installed ({0} missing): {1}'.format(
            options.exporter, SETUP_HINT)
    return reasons


def versions():
    """The installed versions of the real components (None where unknown): the Debian build of VictoriaMetrics
    reports no version of its own, so dpkg's is taken."""
    try:
        answer = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'victoria-metrics'], capture_output=True,
                                text=True, check=False)
        victoria_metrics = answer.stdout.strip() if answer.returncode == 0 else None
    except OSError:     # no dpkg here
        victoria_metrics = None
    try:
        exporter = importlib.metadata.version('prometheus-pve-exporter')
    except importlib.metadata.PackageNotFoundError:
        exporter = None
    return {'victoria-metrics': victoria_metrics, 'prometheus-pve-exporter': exporter}


def free_ports(host, count):
    """count ports nobody listens on at host (all held open until each is found, so they differ)."""
    sockets = []
    try:
        for _index in range(count):
            probe = socket.socket()
            sockets.append(probe)
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


class MonitoringStack:
    def __init__(self, options, token_secret):
        self.options = options
        self._token_secret = token_secret
        self.work = Path(options.state_dir) / 'monitoring'
        self.lab = MonitoringLab(self.apply_fault)
        self.unavailable = missing_packages(options)
        self.children = None
        self._runners = []
        self._traffic = None
        self._exporter = None
        self._vmalert = None

    # ------------------------------------------------------------------ start

    async def start(self):
        """Start everything; returns what the ready line carries. ChildError if a component does not come up."""
        self._prepare_work_dir()
        self.children = Children()
        urls = {
            'logs_url': await self._serve(logs_app(self.lab)),
            'grafana_url': await self._serve(grafana_app(self.lab)),
            'control_url': await self._serve(control_app(self.lab, self.component_status)),
        }
        unavailable_url = None
        if self.unavailable:
            unavailable_url = await self._serve(unavailable_app(list(self.unavailable.values())))
        urls.update(await self._start_components(urls['control_url'], unavailable_url))
        self._traffic = asyncio.ensure_future(self._run_traffic())
        return dict(urls, scrape_interval=self.options.scrape_interval, unavailable=self.unavailable,
                    versions=versions(), pid=os.getpid())

    def _prepare_work_dir(self):
        self.work.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.work, 0o700)
        for stale in ('vmdata', 'vmagent-queue', 'rules'):
            shutil.rmtree(self.work / stale, ignore_errors=True)
        for old_log in self.work.glob('*.log'):
            old_log.unlink()
        (self.work / 'rules').mkdir()

    async def _serve(self, app):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, self.options.host, 0).start()
        return 'http://{0}:{1}'.format(self.options.host, runner.addresses[0][1])

    async def _start_components(self, control_url, unavailable_url):
        host = self.options.host
        ports = dict(zip(VM_BINARIES + ('pve-exporter',), free_ports(host, 4)))
        addresses = dict((name, '{0}:{1}'.format(host, port)) for name, port in ports.items())
        addresses['control'] = urlsplit(control_url).netloc
        if 'prometheus-pve-exporter' in self.unavailable:
            addresses['pve-exporter'] = urlsplit(unavailable_url).netloc
        else:
            self._exporter = self._exporter_child(addresses['pve-exporter'])
        if 'victoria-metrics' in self.unavailable:
            return dict.fromkeys(('metrics_url', 'targets_url', 'vmalert_url'), unavailable_url)
        urls = dict((name, 'http://' + addresses[name]) for name in VM_BINARIES)
        await self.children.start(self._vm_child(addresses['victoria-metrics']))
        if self._exporter:
            await self._start_exporter()
        await self.children.start(self._vmagent_child(addresses, urls['victoria-metrics']))
        self._vmalert = self._vmalert_child(addresses['vmalert'], urls['victoria-metrics'], control_url)
        await self.children.start(self._vmalert)
        return {'metrics_url': urls['victoria-metrics'], 'targets_url': urls['vmagent'], 'vmalert_url': urls['vmalert']}

    def _child(self, name, command, address, health_path='/health'):
        return Child(name, [str(part) for part in command], 'http://{0}{1}'.format(address, health_path),
                     self.work / (name + '.log'))

    def _vm_child(self, address):
        return self._child('victoria-metrics', [
            self.options.vm_bin_dir / 'victoria-metrics', '-httpListenAddr=' + address,
            '-storageDataPath={0}'.format(self.work / 'vmdata'), '-retentionPeriod=' + RETENTION,
            # Fresh samples are visible at once: no 30 s latency offset, no cached query results.
            '-search.latencyOffset=0s', '-search.disableCache'], address)

    def _exporter_child(self, address):
        return self._child('pve-exporter', [
            self.options.exporter, '--config.file={0}'.format(self.work / 'pve.yml'),
            '--web.listen-address=' + address, '--no-collector.replication'], address, health_path='/')

    def _vmagent_child(self, addresses, vm_url):
        pve = urlsplit(self.options.pve_url)
        configs.write(self.work / 'scrape.yml', configs.scrape_config(
            self.options.scrape_interval, addresses, '{0}:{1}'.format(pve.hostname, pve.port or 8006)))
        return self._child('vmagent', [
            self.options.vm_bin_dir / 'vmagent', '-httpListenAddr=' + addresses['vmagent'],
            '-promscrape.config={0}'.format(self.work / 'scrape.yml'), '-remoteWrite.url=' + vm_url + '/api/v1/write',
            '-remoteWrite.tmpDataPath={0}'.format(self.work / 'vmagent-queue')], addresses['vmagent'])

    def _vmalert_child(self, address, vm_url, control_url):
        configs.write(self.work / 'rules' / 'lab.yml', configs.lab_rules(self.options.scrape_interval))
        return self._child('vmalert', [
            self.options.vm_bin_dir / 'vmalert', '-httpListenAddr=' + address,
            '-rule={0}'.format(self.work / 'rules' / '*.yml'), '-datasource.url=' + vm_url,
            '-remoteWrite.url=' + vm_url, '-notifier.url=' + control_url + '/alertmanager',
            '-evaluationInterval={0:g}s'.format(self.options.scrape_interval), '-external.url=http://' + address],
            address)

    async def _start_exporter(self):
        """Start the exporter with its config, which holds the token secret only until the exporter has read it."""
        config = self.work / 'pve.yml'
        configs.write(config, configs.exporter_config(self.options.pve_token_id, self._token_secret,
                                                      self.options.pve_ca), private=True)
        try:
            await self.children.start(self._exporter)
        finally:
            config.unlink()

    async def _run_traffic(self):
        while True:
            self.lab.traffic.tick()
            await asyncio.sleep(1.0)

    # ----------------------------------------------------------------- faults

    async def apply_fault(self, name, active):
        if name == 'exporter-down' and self._exporter:
            await self._set_exporter_down(active)
        elif name == 'vmalert-rule-error':
            self._set_broken_rules(active)

    async def _set_exporter_down(self, down):
        if down:
            await self.children.stop(self._exporter)
            return
        try:
            await self._start_exporter()
        except ChildError as err:
            raise FaultNotApplied('could not restart prometheus-pve-exporter: {0}'.format(err)) from None

    def _set_broken_rules(self, broken):
        path = self.work / 'rules' / 'fault.yml'
        if broken:
            configs.write(path, configs.broken_rules(self.options.scrape_interval))
        elif path.exists():
            path.unlink()
        if self._vmalert:
            self.children.signal(self._vmalert, signal.SIGHUP)    # vmalert reloads its rule files

    # ------------------------------------------------------------ status, stop

    def component_status(self):
        status = dict((component, 'unavailable') for package in self.unavailable
                      for component in PACKAGE_COMPONENTS[package])
        status.update(self.children.status() if self.children else {})
        return status

    async def stop(self):
        if self._traffic:
            self._traffic.cancel()
        if self.children:
            await self.children.stop_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        config = self.work / 'pve.yml'
        if config.exists():
            config.unlink()
