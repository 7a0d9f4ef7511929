"""How `python -m lab.monitoring` starts, refuses bad input, reports missing packages and stops: no twin needed
(the exporter only meets the Proxmox API when scraped)."""

import os
import signal
import subprocess

import pytest

from lab import procs
from monitoring_helpers import LAB_PYTHON, REPO, alive, descendants, start_stack, stop_stack

from tests.polling import wait_for

STACK_PROCESSES = 5     # victoria-metrics, vmagent, vmalert, the exporter's gunicorn master and its worker


@pytest.fixture
def started(tmp_path):
    """Start stacks in tmp_path; each is stopped after the test if it still runs."""
    stacks = []

    def start(*extra_args):
        stacks.append(start_stack(tmp_path, extra_args=extra_args))
        return stacks[-1]
    yield start
    for stack in stacks:
        stop_stack(stack.process, signal.SIGKILL)


@pytest.fixture
def sleeper():
    process = subprocess.Popen(['sleep', '300'])
    yield process
    process.kill()
    process.wait()


def test_missing_packages_make_the_apis_answer_monitoring_backend_unavailable(started, tmp_path):
    empty = tmp_path / 'no-binaries'
    empty.mkdir()
    stack = started('--vm-bin-dir', str(empty), '--exporter', str(empty / 'pve_exporter'))
    assert sorted(stack.ready['unavailable']) == ['prometheus-pve-exporter', 'victoria-metrics']
    for name in ('metrics_url', 'targets_url', 'vmalert_url'):
        answer = stack.get(name, '/api/v1/query', query='up')
        assert answer.status_code == 503, (name, answer.text)
        assert 'monitoring backend unavailable' in answer.json()['error']
        assert 'run ./scripts/setup-monitoring' in answer.json()['error']
    components = stack.control('GET', '/health').json()['components']
    assert components == dict.fromkeys(('victoria-metrics', 'vmagent', 'vmalert', 'pve-exporter'), 'unavailable')
    assert stop_stack(stack.process) == 0
    assert 'monitoring backend unavailable' in (tmp_path / 'monitoring-stderr.log').read_text()


def test_a_killed_stack_leaves_no_component_running(started):
    stack = started()
    processes = descendants(stack.process.pid)
    assert len(processes) == STACK_PROCESSES, processes
    stack.process.kill()
    stack.process.wait()
    wait_for('every component gone after SIGKILL of the stack', lambda: alive(processes),
             done=lambda running: running == [], seconds=10)


def test_the_stack_stops_when_the_watched_process_is_gone(started, sleeper):
    stack = started('--watch-pid', str(sleeper.pid))
    processes = descendants(stack.process.pid)
    sleeper.kill()
    sleeper.wait()
    assert stack.process.wait(15) == 0
    assert alive(processes) == []


def test_a_component_that_dies_stops_the_stack_with_status_1(started, tmp_path):
    stack = started()
    processes = descendants(stack.process.pid)
    vmagent = [pid for pid in processes if procs.command_line(pid)[:1] == ['/usr/bin/vmagent']]
    assert len(vmagent) == 1, [procs.command_line(pid) for pid in processes]
    os.kill(vmagent[0], signal.SIGKILL)
    assert stack.process.wait(15) == 1
    assert 'vmagent exited with status -9' in (tmp_path / 'monitoring-stderr.log').read_text()
    assert alive(processes) == []


@pytest.mark.parametrize('stdin, message', [
    (b'', 'stdin must hold a JSON object {"token_secret": "..."}'),
    (b'{"token_secret": ""}', '"token_secret" must be a non-empty string'),
])
def test_a_missing_token_secret_is_refused_with_status_2(tmp_path, stdin, message):
    done = subprocess.run([str(LAB_PYTHON), '-m', 'lab.monitoring', '--host', '127.0.0.1', '--state-dir',
                           str(tmp_path), '--pve-url', 'https://127.0.0.1:9', '--pve-ca', str(tmp_path / 'ca.pem'),
                           '--pve-token-id', 'qa@pve!suite'], cwd=REPO, input=stdin, capture_output=True, timeout=30)
    assert (done.returncode, done.stdout) == (2, b'')
    assert message in done.stderr.decode()


def test_a_host_off_loopback_is_refused(tmp_path):
    done = subprocess.run([str(LAB_PYTHON), '-m', 'lab.monitoring', '--host', '0.0.0.0', '--state-dir', str(tmp_path),
                           '--pve-url', 'https://127.0.0.1:9', '--pve-ca', 'ca.pem', '--pve-token-id', 'qa@pve!suite'],
                          cwd=REPO, input=b'{"token_secret": "x"}', capture_output=True, timeout=30)
    assert done.returncode == 2
    assert '--host must be a loopback address' in done.stderr.decode()
