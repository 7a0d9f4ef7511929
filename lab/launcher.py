"""Start and stop the lab's processes. <state-dir>/lab.json records a running lab: endpoints and pids.

A lab is the Proxmox twin and its companions: the monitoring stack that scrapes the twin, and the Kubernetes
side (one process: the `mgmt` CozyStack management cluster and a `tenant` cluster with their API servers, and the
Cluster API, CAPMOX and kubelet controllers working against the twin). Each runs detached in its own process group
on the twin's 127.0.0.x. The companions stop by themselves once the twin is gone, and
the twin once the watched process is, so a killed test run leaves nothing behind.
"""

import errno
import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from lab import procs
from lab.control_client import call, healthy
from lab.errors import EXIT_NOT_READY, EXIT_USAGE, LabError
from lab.monitoring.faults import FAULTS as MONITORING_FAULTS
from lab.monitoring.faults import FaultError
from lab.cluster.faults import KNOWN as CLUSTER_FAULTS

REPO = Path(__file__).resolve().parent.parent
TWIN_MODULE = 'lab.pve_twin'
MONITORING_MODULE = 'lab.monitoring'
CLUSTER_MODULE = 'lab.cluster'
LAB_MODULES = (TWIN_MODULE, MONITORING_MODULE, CLUSTER_MODULE)
# The monitoring stack's own state directory, inside the lab's: it keeps its files in <that>/monitoring/, apart
# from a stack someone starts on the lab's state directory itself (as tests/lab_monitoring does).
STACK_DIR = 'stack'
PVE_PORT = 8006          # PVE's own port: clients often assume it
CONTROL_PORT = 8007
DEFAULT_SEED = 'standard'
START_TIMEOUT = 30.0     # seconds for the twin to answer
COMPANION_TIMEOUT = 60.0  # seconds for the companions' ready lines (lab.monitoring gives each component 30 s)
STOP_GRACE = 5.0         # seconds between SIGTERM and SIGKILL
ADDRESS_ATTEMPTS = 8
LOG_TAIL_LINES = 20
READY = 'ready '
# Exit statuses of `python -m lab.pve_twin`.
TWIN_BAD_INPUT = 2
TWIN_ADDRESS_IN_USE = 75


def default_state_dir():
    return Path(os.environ.get('LAB_STATE_DIR') or REPO / '.lab')


def lab_python():
    """The Python of the lab's own environment (LAB_PYTHON, else .venv-lab), or LabError telling how to make it."""
    python = Path(os.environ.get('LAB_PYTHON') or REPO / '.venv-lab' / 'bin' / 'python')
    if not os.access(python, os.X_OK):
        raise LabError("the lab's Python {0} is missing: run ./scripts/setup".format(python))
    return python


# ------------------------------------------------------------------ lab.json

def state_file(state_dir):
    return Path(state_dir) / 'lab.json'


def read_state(state_dir):
    """The recorded lab, or None when there is none."""
    try:
        return json.loads(state_file(state_dir).read_text())
    except FileNotFoundError:
        return None


def write_state(state_dir, state):
    path = state_file(state_dir)
    partial = path.with_suffix('.json.partial')
    partial.write_text(json.dumps(state, indent=2, sort_keys=True) + '\n')
    partial.replace(path)


def is_lab_process(pid):
    """True while pid runs one of the lab's modules (a reused pid does not)."""
    command = procs.command_line(pid)
    return procs.alive(pid) and any(module in command for module in LAB_MODULES)


def is_running(state):
    return any(is_lab_process(pid) for pid in state['pids'])


def running_state(state_dir):
    """The state of the lab running in state_dir, or LabError saying none runs there."""
    state = read_state(state_dir)
    if state is None or not is_running(state):
        raise LabError('no lab is running in {0}: start one with python -m lab up'.format(state_dir))
    return state


# ----------------------------------------------------------------------- up

def split_faults(specs):
    """(the twin's faults, the monitoring stack's, the Kubernetes side's): a monitoring fault's value is checked
    here, the twin and the cluster process check their own when they start."""
    twin, monitoring, cluster = [], [], []
    for spec in specs:
        name, _, value = spec.partition('=')
        if name in CLUSTER_FAULTS:
            cluster.append(spec)
        elif name not in MONITORING_FAULTS:
            twin.append(spec)
        else:
            try:
                MONITORING_FAULTS[name].parse(value)
            except FaultError as err:
                raise LabError(str(err), EXIT_USAGE) from None
            monitoring.append((name, value))
    return twin, monitoring, cluster


def start(state_dir, credentials, faults=(), time_scale=0.0, watch_pid=None, seed=DEFAULT_SEED,
          progress=lambda text: None):
    """Start the twin, then its companions; returns (the state written to lab.json, the twin's inventory).

    seed names the cluster the twin starts as (the twin refuses an unknown one); faults go to the part of the
    lab that owns them; progress(text) reports what happens (on stderr, from the command line).
    """
    python = lab_python()
    twin_faults, monitoring_faults, cluster_faults = split_faults(faults)
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    old = read_state(state_dir)
    if old is not None:
        if is_running(old):
            raise LabError('a lab is already running in {0} (pids {1}): stop it with python -m lab down '
                           '--state-dir {0}'.format(state_dir, ' '.join(map(str, old['pids']))))
        state_file(state_dir).unlink()
    options = ['--seed', seed, '--time-scale', str(time_scale)] + ['--fault=' + fault for fault in twin_faults]
    if watch_pid:
        options += ['--watch-pid', str(watch_pid)]
    twin, host = start_twin(python, state_dir, credentials, options, seed, progress)
    started = [twin]
    try:
        inventory = call(control_url(host), 'GET', '/inventory')
        companions = start_companions(python, state_dir, host, inventory, credentials, twin.pid, started,
                                      progress, time_scale, cluster_faults)
        for name, value in monitoring_faults:
            call(companions['monitoring']['control_url'], 'PUT', '/faults/' + name, {'value': value} if value else None)
    except BaseException:
        stop_processes([process.pid for process in started])
        raise
    state = dict(companions, host=host, seed=seed, port=PVE_PORT, pve_url='https://{0}:{1}'.format(host, PVE_PORT),
                 control_url=control_url(host), ca_bundle=str(state_dir / 'ca.pem'), state_dir=str(state_dir),
                 pids=[process.pid for process in started], started_at=time.time(),
                 logs=dict(twin=str(state_dir / 'twin.log'), **companion_logs(state_dir)))
    write_state(state_dir, state)
    return state, inventory


def start_twin(python, state_dir, credentials, options, seed, progress):
    """(the twin's process, its address) once it answers on a free 127.0.0.x."""
    for _attempt in range(ADDRESS_ATTEMPTS):
        host = free_loopback_address()
        progress('starting the Proxmox twin ({0} seed) on {1} (log: {2})'.format(seed, host, state_dir / 'twin.log'))
        process = launch_twin(python, host, state_dir, credentials, options)
        if process:
            return process, host
        progress('{0} is taken; trying another address'.format(host))
    raise LabError('found no free loopback address in {0} attempts'.format(ADDRESS_ATTEMPTS))


def token_id(inventory, role):
    """The token id of a role ('suite': read-only, what the exporter scrapes with; 'capmox', 'ccm', ...)."""
    return next(identity['id'] for identity in inventory['identities'] if identity['role'] == role)


def free_loopback_address():
    """A random 127.0.0.x (x in 2..250) whose lab ports nobody listens on."""
    for _attempt in range(50):
        host = '127.0.0.{0}'.format(random.randint(2, 250))
        if all(port_free(host, port) for port in (PVE_PORT, CONTROL_PORT)):
            return host
    raise LabError('found no 127.0.0.x with ports {0} and {1} free'.format(PVE_PORT, CONTROL_PORT))


def port_free(host, port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def control_url(host):
    return 'http://{0}:{1}'.format(host, CONTROL_PORT)


def spawn(python, arguments, log_path, stdin_json=None):
    """`python -m ARGUMENTS` detached in its own process group, stdout and stderr to log_path.

    Secrets go as JSON (stdin_json) through a pipe: never on a command line, where `ps` shows them. cwd=REPO
    puts the repository on the child's import path."""
    with open(log_path, 'wb') as log:
        process = subprocess.Popen([str(python), '-m'] + [str(part) for part in arguments],
                                   stdin=subprocess.DEVNULL if stdin_json is None else subprocess.PIPE,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    if stdin_json is None:
        return process
    try:
        process.stdin.write(json.dumps(stdin_json).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # it died at once; waiting for it reports why
    return process


def launch_twin(python, host, state_dir, credentials, options):
    """The twin's process once it answers; None if its address was taken; LabError if it failed.

    options: more arguments of `python -m lab.pve_twin` (seed, time scale, faults, watched pid)."""
    arguments = [TWIN_MODULE, '--host', host, '--port', PVE_PORT, '--control-port', CONTROL_PORT,
                 '--state-dir', state_dir] + options
    process = spawn(python, arguments, state_dir / 'twin.log', {'credentials': credentials})
    ready = False
    try:
        ready = wait_ready(process, control_url(host), state_dir / 'twin.log')
    finally:
        if not ready:  # it failed, timed out, was interrupted, or found its address taken
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    return process if ready else None


def wait_ready(process, url, log_path):
    """True once the twin answers; False if its address was taken; LabError if it fails or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        status = process.poll()
        if status == TWIN_ADDRESS_IN_USE:
            return False
        if status is not None:
            raise LabError('the Proxmox twin exited with status {0}; {1}'.format(status, log_tail(log_path)),
                           EXIT_USAGE if status == TWIN_BAD_INPUT else EXIT_NOT_READY)
        if healthy(url):
            return True
        if time.monotonic() > deadline:
            raise LabError('the Proxmox twin did not answer within {0:g} s; {1}'.format(
                START_TIMEOUT, log_tail(log_path)))
        time.sleep(0.1)


def log_tail(log_path):
    lines = Path(log_path).read_text(errors='replace').splitlines()[-LOG_TAIL_LINES:]
    return 'its log {0} ends with:\n  {1}'.format(log_path, '\n  '.join(lines) or '(nothing)')


# --------------------------------------------------------------- companions

def companion_logs(state_dir):
    return dict(monitoring=str(state_dir / 'monitoring.log'), cluster=str(state_dir / 'cluster.log'))


def start_companions(python, state_dir, host, inventory, credentials, twin_pid, started, progress, time_scale,
                     cluster_faults):
    """Start the monitoring stack, then the Kubernetes side, which ships its pod logs to the stack's log store;
    their part of the state once each has printed its ready line. Each process is added to `started` as soon as it
    runs."""
    logs = companion_logs(state_dir)
    progress('starting the monitoring stack and the Kubernetes clusters with their controllers on {0} '
             '(logs: {1}/*.log)'.format(host, state_dir))
    pve_url = 'https://{0}:{1}'.format(host, PVE_PORT)
    stack_dir = state_dir / STACK_DIR
    stack_dir.mkdir(exist_ok=True, mode=0o700)
    monitoring = spawn(python, [MONITORING_MODULE, '--host', host, '--state-dir', stack_dir, '--pve-url', pve_url,
                                '--pve-ca', state_dir / 'ca.pem', '--pve-token-id', token_id(inventory, 'suite'),
                                '--watch-pid', twin_pid], logs['monitoring'], {'token_secret': credentials['suite']})
    started.append(monitoring)
    stack = json.loads(wait_ready_lines({'monitoring': monitoring}, logs)['monitoring'])
    tokens = dict((role, {'token_id': token_id(inventory, role), 'token_secret': credentials[role]})
                  for role in ('capmox', 'ccm', 'csi'))
    cluster = spawn(python, [CLUSTER_MODULE, '--host', host, '--mgmt-port', 0, '--tenant-port', 0,
                             '--state-dir', state_dir, '--pve-url', pve_url, '--pve-ca', state_dir / 'ca.pem',
                             '--time-scale', time_scale, '--logs-url', stack['logs_url'], '--watch-pid', twin_pid]
                    + ['--fault=' + fault for fault in cluster_faults], logs['cluster'], tokens)
    started.append(cluster)
    clusters = json.loads(wait_ready_lines({'cluster': cluster}, logs)['cluster'])
    for reason in stack['unavailable'].values():
        progress('monitoring backend unavailable: ' + reason)
    urls = ('metrics_url', 'targets_url', 'vmalert_url', 'logs_url', 'grafana_url', 'control_url')
    kube = dict((name, {'url': clusters[name + '_url'], 'kubeconfig': clusters[name + '_kubeconfig']})
                for name in ('mgmt', 'tenant'))
    return {'monitoring': dict(dict((name, stack[name]) for name in urls), scrape_interval=stack['scrape_interval'],
                               unavailable=stack['unavailable']),
            'kube': dict(kube, control_url=clusters['control_url'])}


def wait_ready_lines(processes, logs):
    """name -> what follows `ready ` in its log, once every process printed it; LabError when one exits or
    COMPANION_TIMEOUT passes first."""
    deadline = time.monotonic() + COMPANION_TIMEOUT
    ready = {}
    while True:
        for name, process in processes.items():
            if name not in ready:
                line = ready_line(logs[name])
                if line is not None:
                    ready[name] = line
                elif process.poll() is not None:
                    raise LabError('the lab\'s {0} exited with status {1} while starting; {2}'.format(
                        name, process.returncode, log_tail(logs[name])))
        if len(ready) == len(processes):
            return ready
        if time.monotonic() > deadline:
            late = sorted(set(processes) - set(ready))
            raise LabError('the lab\'s {0} did not start within {1:g} s; {2}'.format(
                ' and '.join(late), COMPANION_TIMEOUT, log_tail(logs[late[0]])))
        time.sleep(0.05)


def ready_line(log_path):
    """What follows `ready ` on a complete line of the log, or None while there is none."""
    lines = Path(log_path).read_text(errors='replace').split('\n')[:-1]
    return next((line[len(READY):] for line in lines if line.startswith(READY)), None)


# --------------------------------------------------------------------- down

def stop(state_dir):
    """Stop every process of the lab recorded in state_dir and forget it. Returns False when none was recorded."""
    state = read_state(state_dir)
    if state is None:
        return False
    stop_processes([pid for pid in state['pids'] if is_lab_process(pid)])
    state_file(state_dir).unlink()
    return True


def stop_processes(pids):
    """SIGTERM to each (the monitoring stack then stops its own children), SIGKILL to the process group of any
    still there after STOP_GRACE s. Each pid leads its own group."""
    for pid in pids:
        signal_process(pid, signal.SIGTERM)
    if not wait_gone(pids, STOP_GRACE):
        for pid in pids:
            signal_group(pid, signal.SIGKILL)
        wait_gone(pids, STOP_GRACE)


def signal_process(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while any(procs.alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
