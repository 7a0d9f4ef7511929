"""Helpers of the monitoring tests: start a twin and `python -m lab.monitoring`, and read the stack's APIs."""

import json
import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from lab import procs

REPO = Path(__file__).resolve().parents[2]
LAB_PYTHON = REPO / '.venv-lab' / 'bin' / 'python'
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 10.0


# ------------------------------------------------------------------- the twin

def start_twin(state_dir):
    """`python -m lab up --json`: the settings it printed."""
    done = subprocess.run([sys.executable, '-m', 'lab', 'up', '--json', '--state-dir', str(state_dir),
                           '--watch-pid', str(os.getpid())], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, 'lab up failed ({0}): {1}'.format(done.returncode, done.stderr)
    return json.loads(done.stdout)['settings']


def run_lab(*args):
    done = subprocess.run([sys.executable, '-m', 'lab', *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, 'python -m lab {0} failed ({1}): {2}'.format(' '.join(map(str, args)),
                                                                           done.returncode, done.stderr)
    return done


# ------------------------------------------------------------ the monitoring stack

@dataclass
class Stack:
    process: subprocess.Popen
    ready: dict
    state_dir: Path

    def url(self, name, path):
        return self.ready[name] + path

    def get(self, name, path, **params):
        return requests.get(self.url(name, path), params=params, timeout=REQUEST_TIMEOUT)

    def query(self, expression):
        """The instant vector of a MetricsQL expression, as {labels as a sorted tuple: value}."""
        answer = self.get('metrics_url', '/api/v1/query', query=expression)
        assert answer.status_code == 200, 'query {0}: {1} {2}'.format(expression, answer.status_code, answer.text)
        return dict((tuple(sorted(item['metric'].items())), float(item['value'][1]))
                    for item in answer.json()['data']['result'])

    def value(self, expression):
        """The single value of the expression, or None when it has no series."""
        result = self.query(expression)
        assert len(result) <= 1, '{0} has {1} series: {2}'.format(expression, len(result), result)
        return next(iter(result.values()), None)

    def targets(self):
        """job -> the active target's record."""
        answer = self.get('targets_url', '/api/v1/targets')
        assert answer.status_code == 200, answer.text
        return dict((target['labels']['job'], target) for target in answer.json()['data']['activeTargets'])

    def rules(self):
        """rule name -> rule record (with its group's name under 'group')."""
        answer = self.get('vmalert_url', '/api/v1/rules')
        assert answer.status_code == 200, answer.text
        return dict((rule['name'], dict(rule, group=group['name']))
                    for group in answer.json()['data']['groups'] for rule in group['rules'])

    def control(self, method, path, body=None):
        return requests.request(method, self.url('control_url', path), json=body, timeout=30)

    def set_fault(self, name, value=''):
        answer = self.control('PUT', '/faults/' + name, {'value': value} if value else None)
        assert answer.status_code == 200, 'setting {0}: {1} {2}'.format(name, answer.status_code, answer.text)

    def clear_faults(self):
        answer = self.control('DELETE', '/faults')
        assert answer.status_code == 200, answer.text

    def ingest(self, *records, stream_fields='kubernetes.namespace_name,kubernetes.pod_name'):
        body = ''.join(json.dumps(record) + '\n' for record in records)
        answer = requests.post(self.url('logs_url', '/insert/jsonline'), params={'_stream_fields': stream_fields},
                               data=body.encode(), timeout=REQUEST_TIMEOUT)
        assert answer.status_code == 200, answer.text

    def logs(self, query, **params):
        answer = self.get('logs_url', '/select/logsql/query', query=query, **params)
        assert answer.status_code == 200, 'LogsQL {0!r}: {1} {2}'.format(query, answer.status_code, answer.text)
        return [json.loads(line) for line in answer.text.splitlines()]


def start_stack(state_dir, settings=None, extra_args=(), token_secret='unused'):
    """`python -m lab.monitoring` against the twin of these settings (or an address nothing listens on)."""
    settings = settings or {'PROXMOX_HOST': '127.0.0.1', 'PROXMOX_PORT': '9', 'PROXMOX_TOKEN_ID': 'qa@pve!suite',
                            'PROXMOX_CA_BUNDLE': str(state_dir / 'ca.pem')}
    host = settings['PROXMOX_HOST']
    command = [str(LAB_PYTHON), '-m', 'lab.monitoring', '--host', host, '--state-dir', str(state_dir),
               '--pve-url', 'https://{0}:{1}'.format(host, settings['PROXMOX_PORT']),
               '--pve-ca', settings['PROXMOX_CA_BUNDLE'], '--pve-token-id', settings['PROXMOX_TOKEN_ID'], *extra_args]
    stderr = open(state_dir / 'monitoring-stderr.log', 'wb')
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
    stderr.close()
    process.stdin.write(json.dumps({'token_secret': settings.get('PROXMOX_TOKEN_SECRET', token_secret)}).encode())
    process.stdin.close()
    return Stack(process, read_ready(process, state_dir), state_dir)


def read_ready(process, state_dir):
    """The JSON of the `ready` line; fails with the stack's stderr when it exits or takes too long."""
    __tracebackhide__ = True
    readable, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline().decode() if readable else ''
    if not line.startswith('ready '):
        stop_stack(process)
        pytest.fail('lab.monitoring did not print its ready line within {0:g} s (got {1!r}); stderr:\n{2}'.format(
            START_TIMEOUT, line, (state_dir / 'monitoring-stderr.log').read_text(errors='replace')))
    return json.loads(line[len('ready '):])


def stop_stack(process, sig=signal.SIGTERM):
    """Signal the stack and wait for it; its exit status."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(STOP_TIMEOUT)
    finally:
        process.stdout.close()


def descendants(pid):
    """The pids of every process below pid (from /proc)."""
    parents = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rpartition(')')[2].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def alive(pids):
    """Those of pids that still run."""
    return [pid for pid in pids if procs.alive(pid)]
