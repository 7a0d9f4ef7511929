"""`python -m lab`: export lines a shell can eval, up/down/fault/faults/status, and no process left behind."""

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from lab import procs
from lab.settings import export_lines, shell_quote
from lab_helpers import REPO, run_lab, start_lab, wait_until

SETTINGS = ['PROXMOX_HOST', 'PROXMOX_PORT', 'PROXMOX_VERIFY_SSL', 'PROXMOX_CA_BUNDLE', 'PROXMOX_NODES',
            'PROXMOX_USERNAME', 'PROXMOX_PASSWORD', 'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET',
            'PROXMOX_CAPMOX_TOKEN_ID', 'PROXMOX_CAPMOX_TOKEN_SECRET', 'PROXMOX_CSI_TOKEN_ID',
            'PROXMOX_CSI_TOKEN_SECRET', 'PROXMOX_CCM_TOKEN_ID', 'PROXMOX_CCM_TOKEN_SECRET', 'TEST_VM_TEMPLATE',
            'TEST_STORAGE_POOL', 'TEST_ISO_STORAGE', 'TEST_NETWORK_BRIDGE', 'TEST_TENANT_VNETS',
            'TEST_LINK_SPEED_MBIT', 'LAB_CONTROL_URL', 'KUBECONFIG', 'LAB_TENANT_KUBECONFIG', 'MONITORING_METRICS_URL',
            'MONITORING_TARGETS_URL', 'MONITORING_VMALERT_URL', 'MONITORING_LOGS_URL', 'MONITORING_GRAFANA_URL']


def evaluated(exports):
    """The environment a shell has after eval "$exports"."""
    shown = subprocess.run(['bash', '-c', 'eval "$LAB_EXPORTS" && env -0'], env={'LAB_EXPORTS': exports},
                           capture_output=True, timeout=10, check=True).stdout
    return dict(item.split('=', 1) for item in shown.decode().split('\0') if '=' in item)


@pytest.fixture(scope='module')
def shell_lab(tmp_path_factory):
    """A lab started the way a person starts it: `python -m lab up`, export lines on stdout."""
    state_dir = tmp_path_factory.mktemp('shell-lab')
    done = run_lab('up', '--state-dir', state_dir, '--watch-pid', os.getpid())
    assert done.returncode == 0, done.stderr
    yield state_dir, done.stdout
    assert run_lab('down', '--state-dir', state_dir).returncode == 0


def test_up_prints_export_lines_a_shell_can_eval(shell_lab):
    state_dir, exports = shell_lab
    lines = exports.splitlines()
    assert all(re.fullmatch(r"export [A-Z_]+='[^']*'", line) for line in lines), exports
    env = evaluated(exports)
    assert [name for name in SETTINGS if not env.get(name)] == []
    assert (env['PROXMOX_VERIFY_SSL'], env['PROXMOX_CA_BUNDLE']) == ('true', str(Path(state_dir) / 'ca.pem'))
    assert Path(env['PROXMOX_CA_BUNDLE']).read_text().startswith('-----BEGIN CERTIFICATE-----')


def test_exported_settings_reach_the_api_with_curl_style_verification(shell_lab):
    env = evaluated(shell_lab[1])
    script = ('curl -sf --cacert "$PROXMOX_CA_BUNDLE" -H "Authorization: PVEAPIToken=$PROXMOX_TOKEN_ID='
              '$PROXMOX_TOKEN_SECRET" "https://$PROXMOX_HOST:$PROXMOX_PORT/api2/json/version"')
    done = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)['data']['release'] == '9.0'


def test_lab_json_records_endpoints_and_pids(shell_lab):
    state = json.loads((shell_lab[0] / 'lab.json').read_text())
    env = evaluated(shell_lab[1])
    assert state['control_url'] == env['LAB_CONTROL_URL'] and state['host'] == env['PROXMOX_HOST']
    assert state['seed'] == 'standard'
    assert all(procs.alive(pid) for pid in state['pids'])
    assert env['PROXMOX_TOKEN_SECRET'] not in json.dumps(state)


def test_up_again_in_the_same_dir_says_a_lab_runs(shell_lab):
    done = run_lab('up', '--state-dir', shell_lab[0])
    assert done.returncode == 3 and 'already running' in done.stderr and done.stdout == ''


def test_status_shows_the_endpoints(shell_lab):
    done = run_lab('status', '--state-dir', shell_lab[0])
    assert done.returncode == 0 and '(listening)' in done.stdout and evaluated(shell_lab[1])['LAB_CONTROL_URL'] \
        in done.stdout


def test_fault_set_listed_and_cleared(shell_lab):
    state_dir = shell_lab[0]
    done = run_lab('fault', 'node-cpu-hot=pve2:90', '--state-dir', state_dir)
    assert (done.returncode, done.stdout) == (0, 'active faults: node-cpu-hot=pve2:90\n')
    done = run_lab('fault', 'grafana-down', '--state-dir', state_dir)      # the monitoring stack's
    assert (done.returncode, done.stdout) == (0, 'active faults: node-cpu-hot=pve2:90, grafana-down\n')
    listed = run_lab('faults', '--state-dir', state_dir).stdout
    assert re.search(r'^\* node-cpu-hot +NODE\[:PERCENT\] +\S', listed, re.M), listed
    assert re.search(r'^\* grafana-down +- +\S', listed, re.M), listed
    assert re.search(r'^  tls-expired +- +\S', listed, re.M), listed
    done = run_lab('fault', '--clear', '--state-dir', state_dir)
    assert (done.returncode, done.stdout) == (0, 'active faults: none\n')


def test_unknown_fault_is_a_clear_error(shell_lab):
    done = run_lab('fault', 'disk-on-fire', '--state-dir', shell_lab[0])
    assert done.returncode == 2
    assert done.stderr.startswith("lab: unknown fault 'disk-on-fire'; known faults: tls-expired, "), done.stderr


def test_down_stops_every_process_and_is_idempotent(tmp_path):
    lab = start_lab(tmp_path)
    done = run_lab('down', '--state-dir', tmp_path)
    assert done.returncode == 0 and 'stopped' in done.stderr
    assert [pid for pid in lab.pids if procs.alive(pid)] == []
    assert not (tmp_path / 'lab.json').exists()
    again = run_lab('down', '--state-dir', tmp_path)
    assert again.returncode == 0 and 'no lab running' in again.stderr
    assert run_lab('status', '--state-dir', tmp_path).returncode == 3


def test_the_twin_stops_when_the_watched_process_is_gone(tmp_path):
    watched = subprocess.Popen(['sleep', '60'])
    try:
        done = run_lab('up', '--json', '--state-dir', tmp_path, '--watch-pid', watched.pid)
        assert done.returncode == 0, done.stderr
        pids = json.loads(done.stdout)['pids']
        watched.kill()
        watched.wait()
        wait_until('the twin exits after its watched process died', lambda: not any(map(procs.alive, pids)))
    finally:
        watched.kill()
        run_lab('down', '--state-dir', tmp_path)


def test_the_twin_stops_cleanly_on_sigint(tmp_path):
    lab = start_lab(tmp_path)
    try:
        os.kill(lab.pids[0], signal.SIGINT)
        wait_until('the twin exits on SIGINT', lambda: not procs.alive(lab.pids[0]))
        assert 'stopping' in (tmp_path / 'twin.log').read_text()
    finally:
        run_lab('down', '--state-dir', tmp_path)


def test_up_with_an_unknown_fault_fails_and_leaves_nothing_running(tmp_path):
    done = run_lab('up', '--state-dir', tmp_path, '--fault', 'bridge-missing=pve7')
    assert done.returncode == 2 and done.stdout == ''
    assert "fault bridge-missing takes NODE: NODE must be one of pve1, pve2, pve3; got 'pve7'" in done.stderr
    assert not (tmp_path / 'lab.json').exists()


def test_up_with_faults_and_a_time_scale_starts_with_them(tmp_path):
    lab = start_lab(tmp_path, '--fault', 'quorum-lost', '--fault', 'storage-full=local-lvm:91', '--time-scale', '0.5')
    try:
        assert '--time-scale 0.5' in ' '.join(procs.command_line(lab.pids[0]))
        active = lab.control('GET', '/faults').json()['active']
        assert active == [{'name': 'quorum-lost', 'value': None}, {'name': 'storage-full', 'value': 'local-lvm:91'}]
        assert lab.token_api().cluster.status.get()[0]['quorate'] == 0
    finally:
        run_lab('down', '--state-dir', tmp_path)


def test_up_with_an_unknown_seed_fails_naming_the_known_ones(tmp_path):
    done = run_lab('up', '--state-dir', tmp_path, '--seed', 'big')
    assert done.returncode == 2 and done.stdout == ''
    assert "argument --seed: invalid choice: 'big' (choose from 'alt', 'large', 'standard')" in done.stderr, done.stderr
    assert not (tmp_path / 'lab.json').exists()


def test_missing_lab_python_tells_to_run_setup(tmp_path):
    env = dict(os.environ, LAB_PYTHON=str(tmp_path / 'no-python'))
    done = run_lab('up', '--state-dir', tmp_path, env=env)
    assert done.returncode == 3
    assert done.stderr == "lab: the lab's Python {0} is missing: run ./scripts/setup\n".format(tmp_path / 'no-python')


def test_negative_time_scale_is_a_usage_error(tmp_path):
    done = run_lab('up', '--state-dir', tmp_path, '--time-scale', '-1')
    assert done.returncode == 2 and 'must be a number >= 0' in done.stderr


@pytest.mark.parametrize('value', ['plain', "it's", 'a "$HOME" `x` \\n', ''])
def test_shell_quote_survives_the_shell(value):
    assert evaluated('export V={0}'.format(shell_quote(value)))['V'] == value


def test_export_lines_keep_the_settings_order():
    assert export_lines({'B': '1', 'A': "x'y"}) == "export B='1'\nexport A='x'\"'\"'y'\n"


def test_the_twin_reports_a_taken_address_so_the_launcher_can_retry(tmp_path):
    """Exit status 75 is what makes `up` try another 127.0.0.x; .251 is outside the launcher's range."""
    python = os.environ.get('LAB_PYTHON') or str(REPO / '.venv-lab' / 'bin' / 'python')
    credentials = json.dumps({'credentials': dict.fromkeys(['user', 'suite', 'capmox', 'csi', 'ccm', 'backup'], 'x')})
    with socket.socket() as taken:
        taken.bind(('127.0.0.251', 8006))
        taken.listen()
        done = subprocess.run([python, '-m', 'lab.pve_twin', '--host', '127.0.0.251', '--control-port', '8007',
                               '--state-dir', str(tmp_path)], input=credentials, cwd=REPO, capture_output=True,
                              text=True, timeout=30)
    assert done.returncode == 75, done.stderr
    assert 'cannot start: 127.0.0.251:8006 or 127.0.0.251:8007 is in use' in done.stderr
