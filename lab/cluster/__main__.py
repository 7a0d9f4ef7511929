"""Run the lab's management and tenant clusters with their Cluster API, CAPMOX and kubelet controllers.

They drive a Proxmox twin over HTTPS, until SIGTERM or SIGINT (or until --watch-pid is gone).

    python -m lab.cluster --host 127.0.0.x --mgmt-port P1 --tenant-port P2 --state-dir DIR
        --pve-url https://H:8006 --pve-ca DIR/ca.pem [--time-scale S] [--fault NAME]... [--logs-url URL]
        [--watch-pid PID]

Run with the lab's Python (.venv-lab). The tokens come on stdin as JSON, never on the command line:
{"capmox": {"token_id": "capmox@pve!capi", "token_secret": "..."}, "ccm": {...}, "csi": {...}}; "ccm" (the
kubelets' view of the VMs) and "csi" (the Proxmox CSI plugin's) are optional and default to the CAPMOX token. Once
both API servers and the control API listen, one line goes to stdout: `ready {"mgmt_url", "tenant_url",
"mgmt_kubeconfig", "tenant_kubeconfig", "control_url"}`; logs go to stderr. Exit status: 0 stopped, 2 bad input,
75 an address is in use.
"""

import argparse
import asyncio
import errno
import json
import logging
import signal
import sys
from pathlib import Path

from lab import procs
from lab.kube.server import check_loopback

from .faults import KNOWN
from .process import ClusterLab, Options, Token

EXIT_BAD_INPUT = 2
EXIT_ADDRESS_IN_USE = 75
WATCH_PID_POLL = 0.5
log = logging.getLogger('lab.cluster')


def fault_name(text):
    if text not in KNOWN:
        raise argparse.ArgumentTypeError('unknown fault {0!r}; known: {1}'.format(text, ', '.join(sorted(KNOWN))))
    return text


def scale(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError('must be a number >= 0; got {0!r}'.format(text))
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m lab.cluster', description=__doc__.splitlines()[0])
    parser.add_argument('--host', required=True, help='loopback address to bind, 127.0.0.x')
    parser.add_argument('--mgmt-port', type=int, required=True, help='HTTPS port of the management cluster (0: any)')
    parser.add_argument('--tenant-port', type=int, required=True, help='HTTPS port of the tenant cluster (0: any)')
    parser.add_argument('--state-dir', type=Path, required=True, help='where kubeconfigs and TLS files are written')
    parser.add_argument('--pve-url', required=True, help='the Proxmox API, https://HOST:PORT (no /api2/json)')
    parser.add_argument('--pve-ca', type=Path, required=True, help="CA bundle (PEM) of the Proxmox API's certificate")
    parser.add_argument('--time-scale', type=scale, default=0.0,
                        help='real seconds per modelled second for joins, CNI start-up, heartbeats and health '
                             'timeouts (default 0: at once)')
    parser.add_argument('--fault', type=fault_name, action='append', default=[], metavar='NAME',
                        help='a fault active from the start (repeatable)')
    parser.add_argument('--logs-url', default='', metavar='URL',
                        help="VictoriaLogs' base URL, http://HOST:PORT: the management cluster's pod logs are "
                             'shipped to its /insert/jsonline as CozyStack\'s fluent-bit does (default: not shipped)')
    parser.add_argument('--watch-pid', type=int, help='stop when this process is gone')
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as err:
        parser.error(str(err))
    if not args.pve_ca.is_file():
        parser.error('--pve-ca {0} is not a file'.format(args.pve_ca))
    if args.pve_url.rstrip('/').endswith('/api2/json') or not args.pve_url.startswith('https://'):
        parser.error('--pve-url must be https://HOST:PORT without /api2/json; got {0}'.format(args.pve_url))
    if args.logs_url and not args.logs_url.startswith(('http://', 'https://')):
        parser.error('--logs-url must be http://HOST:PORT; got {0}'.format(args.logs_url))
    return args


def read_tokens(stream):
    """(CAPMOX token, kubelet token, CSI token) from the JSON on stream; ValueError naming what is wrong, never a
    secret. "ccm" and "csi" are optional and default to the CAPMOX token."""
    try:
        tokens = json.loads(stream.read())
    except ValueError:
        raise ValueError('stdin must hold a JSON object {"capmox": {"token_id": ..., "token_secret": ...}}') from None
    found = {}
    for role in ('capmox', 'ccm', 'csi'):
        entry = tokens.get(role) if isinstance(tokens, dict) else None
        if entry is None and role != 'capmox':
            continue
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) and entry.get(key)
                                                  for key in ('token_id', 'token_secret')):
            raise ValueError('stdin: "{0}" must be an object with non-empty "token_id" and "token_secret"'.format(role))
        found[role] = Token(entry['token_id'], entry['token_secret'])
    return found['capmox'], found.get('ccm', found['capmox']), found.get('csi', found['capmox'])


async def watch_parent(pid, stop):
    while procs.alive(pid) and not stop.is_set():
        await asyncio.sleep(WATCH_PID_POLL)
    if not stop.is_set():
        log.info('process %s is gone: stopping', pid)
        stop.set()


async def serve(args, capmox, kubelet, csi):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    if args.watch_pid:
        asyncio.ensure_future(watch_parent(args.watch_pid, stop))
    options = Options(args.host, args.mgmt_port, args.tenant_port, args.state_dir.resolve(), args.pve_url.rstrip('/'),
                      args.pve_ca.resolve(), args.time_scale, tuple(args.fault), logs_url=args.logs_url)
    lab = ClusterLab(options, capmox, kubelet, csi)
    try:
        ready = await lab.start()
        print('ready ' + json.dumps(ready), flush=True)
        log.info('serving: %s', ready)
        await stop.wait()
        log.info('stopping')
    finally:
        await lab.stop()


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(asctime)s %(name)s: %(message)s')
    args = parse_args(argv)
    try:
        capmox, kubelet, csi = read_tokens(sys.stdin)
        args.state_dir.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as err:
        log.error('cannot start: %s', err)
        return EXIT_BAD_INPUT
    try:
        asyncio.run(serve(args, capmox, kubelet, csi))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            log.error('cannot start: an address on %s is in use (%s)', args.host, err)
            return EXIT_ADDRESS_IN_USE
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
