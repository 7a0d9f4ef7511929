"""Helpers of the lab tests: run `python -m lab`, and talk to a running lab as the suite does."""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 60
GiB = 1024 ** 3


def run_lab(*args, env=None):
    """`python -m lab ARGS` with the suite's Python; the finished process."""
    return subprocess.run([sys.executable, '-m', 'lab', *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, env=env)


def wait_until(what, check, seconds=10.0):
    """Poll check() until it is true; fail naming `what` when `seconds` pass first."""
    __tracebackhide__ = True
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail('{0}: not within {1:g} s'.format(what, seconds))
        time.sleep(0.05)


@dataclass(frozen=True)
class Lab:
    settings: dict
    control_url: str
    state_dir: str
    pids: list

    @property
    def api_url(self):
        return 'https://{0}:{1}/api2/json'.format(self.settings['PROXMOX_HOST'], self.settings['PROXMOX_PORT'])

    @property
    def ca(self):
        return self.settings['PROXMOX_CA_BUNDLE']

    def control(self, method, path, body=None):
        """The control API's answer (a requests.Response)."""
        return requests.request(method, self.control_url + path, json=body, timeout=10)

    def token_api(self, prefix='PROXMOX'):
        """proxmoxer with the token of PREFIX_TOKEN_ID / _SECRET (PROXMOX: the suite's; PROXMOX_CAPMOX: ...)."""
        user, _, name = self.settings[prefix + '_TOKEN_ID'].partition('!')
        return ProxmoxAPI(self.settings['PROXMOX_HOST'], port=int(self.settings['PROXMOX_PORT']), user=user,
                          token_name=name, token_value=self.settings[prefix + '_TOKEN_SECRET'], verify_ssl=self.ca)

    def password_api(self):
        return ProxmoxAPI(self.settings['PROXMOX_HOST'], port=int(self.settings['PROXMOX_PORT']),
                          user=self.settings['PROXMOX_USERNAME'], password=self.settings['PROXMOX_PASSWORD'],
                          verify_ssl=self.ca)

    def get(self, path, **kwargs):
        """A raw GET of the Proxmox API with the CA bundle (a requests.Response)."""
        kwargs.setdefault('verify', self.ca)
        return requests.get(self.api_url + path, timeout=10, **kwargs)

    def token_header(self, prefix='PROXMOX'):
        token, secret = self.settings[prefix + '_TOKEN_ID'], self.settings[prefix + '_TOKEN_SECRET']
        return {'Authorization': 'PVEAPIToken={0}={1}'.format(token, secret)}

    def set_fault(self, spec):
        name, _, value = spec.partition('=')
        answer = self.control('PUT', '/faults/' + name, {'value': value} if value else None)
        assert answer.status_code == 200, 'setting {0}: {1} {2}'.format(spec, answer.status_code, answer.text)

    def clear_faults(self):
        answer = self.control('DELETE', '/faults')
        assert answer.status_code == 200, answer.text

    def inventory(self):
        return self.control('GET', '/inventory').json()


def task_exit(api, node, upid, seconds=10.0):
    """The exit status of a Proxmox task ('OK' or its error) once it stopped; fails after `seconds`."""
    __tracebackhide__ = True
    status = {}

    def stopped():
        status.update(api.nodes(node).tasks(upid).status.get())
        return status['status'] == 'stopped'
    wait_until('task {0} stops'.format(upid), stopped, seconds)
    return status['exitstatus']


def status_of(call):
    """The HTTP status a proxmoxer call ends with: 200, or the error's."""
    try:
        call()
    except ResourceException as err:
        return err.status_code
    return 200


def failure(call):
    """(HTTP status, message, per-parameter errors) of a proxmoxer call that fails."""
    __tracebackhide__ = True
    with pytest.raises(ResourceException) as caught:
        call()
    return caught.value.status_code, caught.value.content, caught.value.errors


def error_of(call):
    """(HTTP status, message) of a proxmoxer call that fails."""
    __tracebackhide__ = True
    return failure(call)[:2]


def start_lab(state_dir, *extra):
    done = run_lab('up', '--json', '--state-dir', state_dir, '--watch-pid', os.getpid(), *extra)
    assert done.returncode == 0, 'python -m lab up failed ({0}): {1}'.format(done.returncode, done.stderr)
    info = json.loads(done.stdout)
    return Lab(info['settings'], info['control_url'], info['state_dir'], info['pids'])


def running_lab(tmp_path_factory, *options):
    """A lab started with these `up` options (a generator for fixtures): stopped once the caller is done."""
    state_dir = tmp_path_factory.mktemp('lab')
    yield start_lab(state_dir, *options)
    done = run_lab('down', '--state-dir', state_dir)
    assert done.returncode == 0, done.stderr


@dataclass(frozen=True)
class Cluster:
    """A lab as CAPMOX and CSI see it: their tokens, and the names the lab's settings give."""
    lab: Lab
    capmox: ProxmoxAPI
    csi: ProxmoxAPI
    node: str          # where the template lives
    template: int
    template_gib: int
    disk: str          # TEST_STORAGE_POOL
    iso: str           # TEST_ISO_STORAGE

    @classmethod
    def of(cls, lab):
        capmox = lab.token_api('PROXMOX_CAPMOX')
        name = lab.settings['TEST_VM_TEMPLATE']
        template = next(r for r in capmox.cluster.resources.get(type='vm') if r['name'] == name)
        return cls(lab, capmox, lab.token_api('PROXMOX_CSI'), template['node'], template['vmid'],
                   template['maxdisk'] // GiB, lab.settings['TEST_STORAGE_POOL'], lab.settings['TEST_ISO_STORAGE'])

    @property
    def seed(self):
        return self.lab.inventory()['expected']['seed']

    def vm(self, vmid, api=None):
        return (api or self.capmox).nodes(self.node).qemu(vmid)

    def run(self, upid, api=None):
        """Wait for a task of the CAPMOX token (or of api's) on the template's node; its exit status."""
        return task_exit(api or self.capmox, self.node, upid)

    def volumes(self, vmid=None):
        """Volume id -> size of the disk storage's volumes (of that VMID), as CSI's token lists them."""
        listed = self.csi.nodes(self.node).storage(self.disk).content.get(**({'vmid': vmid} if vmid else {}))
        return dict((item['volid'], item['size']) for item in listed)

    def vm_resources(self, vmid):
        return [r for r in self.capmox.cluster.resources.get(type='vm') if r['vmid'] == vmid]

    def vmids(self):
        return [r['vmid'] for r in self.capmox.cluster.resources.get(type='vm')]

    def ipv4(self, vmid):
        """(address, prefix) of the first NIC's IPv4 addresses the guest agent reports."""
        interfaces = self.vm(vmid).agent('network-get-interfaces').get()['result']
        nic = next(i for i in interfaces if i['name'] != 'lo')
        return [(a['ip-address'], a['prefix']) for a in nic['ip-addresses'] if a['ip-address-type'] == 'ipv4']


class Clones(object):
    """Clones of the template by CAPMOX's token, each recorded before it is asked for; remove() deletes them all."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.made = []

    def begin(self, **options):
        """(vmid, UPID) of a clone not waited for: a full one onto the disk storage, or as options say
        (full=0: a linked one, which PVE makes on the template's storage)."""
        cluster = self.cluster
        vmid = int(cluster.capmox.cluster.nextid.get())
        self.made.append(vmid)
        options = dict(dict(full=1, name='qa-lab-{0}'.format(vmid)), **options)
        if options['full']:
            options.setdefault('storage', cluster.disk)
        return vmid, cluster.vm(cluster.template).clone.post(newid=vmid, **options)

    def make(self, **options):
        """(vmid, exit status of the clone task)."""
        vmid, upid = self.begin(**options)
        return vmid, self.cluster.run(upid)

    def remove(self):
        """Stop and delete every clone that exists, wherever it went."""
        api = self.cluster.capmox
        for vmid in reversed(self.made):
            for vm in self.cluster.vm_resources(vmid):
                qemu = api.nodes(vm['node']).qemu(vmid)
                if vm['status'] == 'running':
                    task_exit(api, vm['node'], qemu.status.stop.post())
                task_exit(api, vm['node'], qemu.delete(purge=1, **{'destroy-unreferenced-disks': 1}))
