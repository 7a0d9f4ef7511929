"""Run the Proxmox twin and its control API until SIGTERM or SIGINT (or until --watch-pid is gone).

Started by `python -m lab up` with the lab's Python (.venv-lab). The secrets come as JSON on stdin,
{"credentials": {role: secret}}, so none shows in the process list. The lab CA is written to
<state-dir>/ca.pem. Exit status: 0 stopped, 2 bad input (an unknown fault, a bad value),
75 the address is taken (the launcher tries another).
"""

import argparse
import asyncio
import errno
import json
import logging
import os
import shutil
import signal
import sys
import tempfile

from lab import procs

from .control import start_control
from .faults import split_spec
from .seed import SEEDS
from .tls import LabTls
from .twin import PveTwin

EXIT_BAD_INPUT = 2
EXIT_ADDRESS_IN_USE = 75
log = logging.getLogger('lab.pve_twin')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m lab.pve_twin', description=__doc__.splitlines()[0])
    parser.add_argument('--host', required=True, help='loopback address, 127.0.0.x')
    parser.add_argument('--port', type=int, default=8006, help='HTTPS port of the Proxmox API (default 8006)')
    parser.add_argument('--control-port', type=int, required=True, help='HTTP port of the control API')
    parser.add_argument('--state-dir', required=True, help='where ca.pem is written')
    parser.add_argument('--seed', default='standard', choices=sorted(SEEDS), help='the cluster to start as')
    parser.add_argument('--fault', action='append', default=[], metavar='NAME[=VALUE]')
    parser.add_argument('--time-scale', type=float, default=0.0, help='real seconds per PVE second (0: at once)')
    parser.add_argument('--watch-pid', type=int, help='stop when this process is gone')
    return parser.parse_args(argv)


async def watch(pid, stop):
    """Set stop once process pid is gone."""
    while procs.alive(pid):
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
            return
        except asyncio.TimeoutError:
            pass
    log.info('process %s is gone: stopping', pid)
    stop.set()


def write_ca(state_dir, tls):
    with open(os.path.join(state_dir, 'ca.pem'), 'wb') as out:
        out.write(tls.ca_pem)


def read_credentials(stream):
    """{role: secret} from the JSON on stream; ValueError naming what is wrong (never a secret)."""
    try:
        credentials = json.loads(stream.read())['credentials']
    except (ValueError, KeyError, TypeError):
        raise ValueError('stdin must hold a JSON object {"credentials": {role: secret}}') from None
    if not isinstance(credentials, dict):
        raise ValueError('"credentials" must map identity roles to secrets')
    return credentials


async def serve(args, twin):
    for name, value in map(split_spec, args.fault):
        await twin.set_fault(name, value)
    tls_dir = tempfile.mkdtemp(prefix='proxqa-lab-tls-')
    control = None
    try:
        tls = LabTls(tls_dir, args.host)
        write_ca(args.state_dir, tls)
        await twin.start_lab(tls)
        control = await start_control(twin, args.host, args.control_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.watch_pid:
            asyncio.ensure_future(watch(args.watch_pid, stop))
        log.info('ready: Proxmox API %s, control API http://%s:%s, seed %s, faults: %s', twin.url, args.host,
                 args.control_port, args.seed, ', '.join(args.fault) or 'none')
        await stop.wait()
        log.info('stopping')
    finally:
        if control:
            await control.cleanup()
        await twin.stop()
        shutil.rmtree(tls_dir, ignore_errors=True)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(asctime)s lab.pve_twin: %(message)s')
    args = parse_args(argv)
    try:
        twin = PveTwin(args.host, args.port, read_credentials(sys.stdin), args.time_scale, args.seed)
        for name, value in map(split_spec, args.fault):
            twin.lookup(name).parse(value)
    except ValueError as err:  # FaultError is one
        log.error('cannot start: %s', err)
        return EXIT_BAD_INPUT
    try:
        asyncio.run(serve(args, twin))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            log.error('cannot start: %s:%s or %s:%s is in use', args.host, args.port, args.host, args.control_port)
            return EXIT_ADDRESS_IN_USE
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
