"""Run one lab Kubernetes API server until SIGTERM or SIGINT (or until --watch-pid is gone).

Prints `ready <url>` on stdout once it listens; writes <state-dir>/<name>.kubeconfig (bearer token, the
server's own CA). Exit status: 0 stopped, 2 bad arguments, 75 the address is taken.
"""

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys

from lab import procs

from .server import KubeServer, check_loopback
from .store import CLEANUP_DELAY, Store

EXIT_BAD_INPUT = 2
EXIT_ADDRESS_IN_USE = 75
WATCH_PID_POLL = 0.5
log = logging.getLogger('lab.kube')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m lab.kube', description=__doc__.splitlines()[0])
    parser.add_argument('--host', required=True, help='loopback address, 127.0.0.x')
    parser.add_argument('--port', type=int, required=True, help='HTTPS port (0: any free port)')
    parser.add_argument('--state-dir', required=True, help='where the kubeconfig and TLS files are written')
    parser.add_argument('--name', default='mgmt', help='cluster name: names the kubeconfig and its context')
    parser.add_argument('--watch-window', type=int, default=10000,
                        help='changes kept for watches to resume from (older: 410 Expired)')
    parser.add_argument('--cleanup-delay', type=float, default=CLEANUP_DELAY,
                        help='seconds before a deleted namespace or CRD has its content deleted (default %(default)s)')
    parser.add_argument('--watch-pid', type=int, help='stop when this process is gone')
    return parser.parse_args(argv)


async def watch_parent(pid, stop):
    while procs.alive(pid) and not stop.is_set():
        await asyncio.sleep(WATCH_PID_POLL)
    stop.set()


async def serve(args):
    server = KubeServer(Store(watch_window=args.watch_window, cleanup_delay=args.cleanup_delay), args.host, args.port, args.state_dir, args.name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        if args.watch_pid:
            asyncio.ensure_future(watch_parent(args.watch_pid, stop))
        print('ready', server.url, flush=True)
        log.info('%s serving %s; kubeconfig %s', args.name, server.url, server.kubeconfig)
        await stop.wait()
        log.info('stopping')
    finally:
        await server.stop()


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(asctime)s lab.kube: %(message)s')
    args = parse_args(argv)
    try:
        check_loopback(args.host)
        if not os.path.isdir(args.state_dir):
            raise ValueError('--state-dir {0} is not a directory'.format(args.state_dir))
    except ValueError as err:
        log.error('cannot start: %s', err)
        return EXIT_BAD_INPUT
    try:
        asyncio.run(serve(args))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            log.error('cannot start: %s:%s is in use', args.host, args.port)
            return EXIT_ADDRESS_IN_USE
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
