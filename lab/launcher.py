"""Start and stop the lab's processes. <state-dir>/lab.json records a running lab: endpoints and pids."""

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
from lab.control_client import healthy
from lab.errors import EXIT_NOT_READY, EXIT_USAGE, LabError

REPO = Path(__file__).resolve().parent.parent
TWIN_MODULE = 'lab.pve_twin'
PVE_PORT = 8006          # PVE's own port: clients often assume it
CONTROL_PORT = 8007
DEFAULT_SEED = 'standard'
START_TIMEOUT = 30.0     # seconds for the twin to answer
STOP_GRACE = 5.0         # seconds between SIGTERM and SIGKILL
ADDRESS_ATTEMPTS = 8
LOG_TAIL_LINES = 20
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


def is_running(state):
    """True if a process the state records is still a lab process (a reused pid is not)."""
    return any(procs.alive(pid) and TWIN_MODULE in procs.command_line(pid) for pid in state['pids'])


def running_state(state_dir):
    """The state of the lab running in state_dir, or LabError saying none runs there."""
    state = read_state(state_dir)
    if state is None or not is_running(state):
        raise LabError('no lab is running in {0}: start one with python -m lab up'.format(state_dir))
    return state


# ----------------------------------------------------------------------- up

def start(state_dir, credentials, faults=(), time_scale=0.0, watch_pid=None, seed=DEFAULT_SEED,
          progress=lambda text: None):
    """Start the twin detached, in its own process group, on a free 127.0.0.x; returns the state written.

    seed names the cluster it starts as (the twin refuses an unknown one); progress(text) reports what
    happens (on stderr, from the command line).
    """
    python = lab_python()
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    old = read_state(state_dir)
    if old is not None:
        if is_running(old):
            raise LabError('a lab is already running in {0} (pids {1}): stop it with python -m lab down '
                           '--state-dir {0}'.format(state_dir, ' '.join(map(str, old['pids']))))
        state_file(state_dir).unlink()
    options = ['--seed', seed, '--time-scale', str(time_scale)] + ['--fault=' + fault for fault in faults]
    if watch_pid:
        options += ['--watch-pid', str(watch_pid)]
    for _attempt in range(ADDRESS_ATTEMPTS):
        host = free_loopback_address()
        progress('starting the Proxmox twin ({0} seed) on {1} (log: {2})'.format(seed, host, state_dir / 'twin.log'))
        process = launch_twin(python, host, state_dir, credentials, options)
        if process:
            state = {'host': host, 'seed': seed, 'port': PVE_PORT, 'pve_url': 'https://{0}:{1}'.format(host, PVE_PORT),
                     'control_url': control_url(host), 'ca_bundle': str(state_dir / 'ca.pem'),
                     'log': str(state_dir / 'twin.log'), 'pids': [process.pid], 'pgid': process.pid,
                     'state_dir': str(state_dir), 'started_at': time.time()}
            write_state(state_dir, state)
            return state
        progress('{0} is taken; trying another address'.format(host))
    raise LabError('found no free loopback address in {0} attempts'.format(ADDRESS_ATTEMPTS))


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


def launch_twin(python, host, state_dir, credentials, options):
    """The twin's process once it answers; None if its address was taken; LabError if it failed.

    options: more arguments of `python -m lab.pve_twin` (seed, time scale, faults, watched pid)."""
    process = spawn_twin(python, host, state_dir, credentials, options)
    ready = False
    try:
        ready = wait_ready(process, control_url(host), state_dir / 'twin.log')
    finally:
        if not ready:  # it failed, timed out, was interrupted, or found its address taken
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    return process if ready else None


def spawn_twin(python, host, state_dir, credentials, options):
    command = [str(python), '-m', TWIN_MODULE, '--host', host, '--port', str(PVE_PORT),
               '--control-port', str(CONTROL_PORT), '--state-dir', str(state_dir)] + options
    with open(state_dir / 'twin.log', 'wb') as log:
        # cwd=REPO puts the repository on the twin's import path (python -m); its own group lets `down`
        # stop it and anything it starts with one signal.
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                   start_new_session=True)
    try:
        # Secrets go through a pipe: never on a command line, where `ps` shows them.
        process.stdin.write(json.dumps({'credentials': credentials}).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # it died at once; wait_ready reports why
    return process


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


# --------------------------------------------------------------------- down

def stop(state_dir):
    """Stop the lab recorded in state_dir (SIGTERM to its group, SIGKILL after STOP_GRACE s) and forget it.

    Returns False when no lab was recorded there.
    """
    state = read_state(state_dir)
    if state is None:
        return False
    if is_running(state):
        signal_group(state['pgid'], signal.SIGTERM)
        if not wait_gone(state['pids'], STOP_GRACE):
            signal_group(state['pgid'], signal.SIGKILL)
            wait_gone(state['pids'], STOP_GRACE)
    state_file(state_dir).unlink()
    return True


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
