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


def status_of(call):
    """The HTTP status a proxmoxer call ends with: 200, or the error's."""
    try:
        call()
    except ResourceException as err:
        return err.status_code
    return 200


def start_lab(state_dir, *extra):
    done = run_lab('up', '--json', '--state-dir', state_dir, '--watch-pid', os.getpid(), *extra)
    assert done.returncode == 0, 'python -m lab up failed ({0}): {1}'.format(done.returncode, done.stderr)
    info = json.loads(done.stdout)
    return Lab(info['settings'], info['control_url'], info['state_dir'], info['pids'])
