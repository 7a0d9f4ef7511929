"""Run the lab's monitoring stack against a Proxmox twin until SIGTERM or SIGINT (or until --watch-pid is gone).

    python -m lab.monitoring --host 127.0.0.x --state-dir DIR --pve-url https://127.0.0.y:8006
        --pve-ca DIR/ca.pem --pve-token-id USER@REALM!NAME [--scrape-interval 5s] [--watch-pid PID]

Run with the lab's Python (.venv-lab). The token's secret comes on stdin as JSON {"token_secret": "..."}, so
it never shows in the process list. Once every component answers, one line goes to stdout:
`ready {"metrics_url": ..., "targets_url": ..., "vmalert_url": ..., "logs_url": ..., "grafana_url": ...,
"control_url": ..., ...}`; everything else goes to stderr. Exit status: 0 stopped, 1 a component died,
2 bad input, 3 a component did not start.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from lab import procs
from lab.monitoring.children import ChildError, log_tail
from lab.monitoring.logsql import LogsQLError, parse_duration
from lab.monitoring.stack import MonitoringStack, Options

EXIT_COMPONENT_DIED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_STARTED = 3
log = logging.getLogger('lab.monitoring')


def interval(text):
    """'5s', '5', '500ms' -> seconds (at least 1 s: vmagent and vmalert take whole seconds)."""
    try:
        seconds = float(text) if text.replace('.', '', 1).isdigit() else parse_duration(text)
    except LogsQLError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if seconds < 1 or seconds != int(seconds):
        raise argparse.ArgumentTypeError('must be a whole number of seconds >= 1; got {0}'.format(text))
    return seconds


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m lab.monitoring', description=__doc__.splitlines()[0])
    parser.add_argument('--host', required=True, help='loopback address every component binds to, 127.0.0.x')
    parser.add_argument('--state-dir', required=True, type=Path, help='the lab state directory; its monitoring/ '
                        'subdirectory holds the storage, configs and logs')
    parser.add_argument('--pve-url', required=True, help='the Proxmox API, https://HOST:PORT')
    parser.add_argument('--pve-ca', required=True, type=Path, help='CA bundle (PEM) that issued its certificate')
    parser.add_argument('--pve-token-id', required=True, help='a read-only (PVEAuditor) API token, USER@REALM!NAME')
    parser.add_argument('--scrape-interval', type=interval, default=5.0, metavar='DURATION',
                        help='scrape and rule evaluation interval (default 5s)')
    parser.add_argument('--watch-pid', type=int, help='stop when this process is gone')
    parser.add_argument('--vm-bin-dir', type=Path, default=Path('/usr/bin'),
                        help='where victoria-metrics, vmagent and vmalert are (default /usr/bin)')
    parser.add_argument('--exporter', type=Path, default=Path(sys.executable).parent / 'pve_exporter',
                        help="prometheus-pve-exporter's pve_exporter (default: beside this Python)")
    args = parser.parse_args(argv)
    if not args.host.startswith('127.'):
        parser.error('--host must be a loopback address 127.x.x.x; got {0}'.format(args.host))
    if '!' not in args.pve_token_id:
        parser.error('--pve-token-id must be USER@REALM!NAME; got {0}'.format(args.pve_token_id))
    return args


def read_token_secret(stream):
    """The secret from the JSON on stream; ValueError naming what is wrong (never the secret)."""
    try:
        secret = json.loads(stream.read())['token_secret']
    except (ValueError, KeyError, TypeError):
        raise ValueError('stdin must hold a JSON object {"token_secret": "..."}') from None
    if not isinstance(secret, str) or not secret:
        raise ValueError('"token_secret" must be a non-empty string')
    return secret


async def watch(pid, stop):
    while procs.alive(pid) and not stop.is_set():
        await asyncio.sleep(0.5)
    if not stop.is_set():
        log.info('process %s is gone: stopping', pid)
        stop.set()


async def serve(options, token_secret, watch_pid):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    if watch_pid:
        asyncio.ensure_future(watch(watch_pid, stop))
    stack = MonitoringStack(options, token_secret)
    for reason in stack.unavailable.values():
        log.error('monitoring backend unavailable: %s', reason)
    try:
        ready = await first_of(stack.start(), stop)
        if ready is None:
            return 0
        print('ready ' + json.dumps(ready), flush=True)
        died = await first_of(stack.children.died.get(), stop)
        if died:
            log.error('%s exited with status %s; stopping the monitoring stack; %s', died.name,
                      died.process.returncode, log_tail(died.log_path))
            return EXIT_COMPONENT_DIED
        return 0
    finally:
        await stack.stop()
        log.info('stopped')


async def first_of(work, stop):
    """work's result, or None when stop is set first (work is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None
    return task.result()


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(asctime)s lab.monitoring: %(message)s')
    args = parse_args(argv)
    try:
        token_secret = read_token_secret(sys.stdin)
    except ValueError as err:
        log.error('cannot start: %s', err)
        return EXIT_BAD_INPUT
    options = Options(args.host, args.state_dir.resolve(), args.pve_url, args.pve_ca.resolve(), args.pve_token_id,
                      args.scrape_interval, args.vm_bin_dir, args.exporter)
    try:
        return asyncio.run(serve(options, token_secret, args.watch_pid))
    except (ChildError, OSError) as err:
        log.error('cannot start: %s', err)
        return EXIT_NOT_STARTED


if __name__ == '__main__':
    sys.exit(main())
