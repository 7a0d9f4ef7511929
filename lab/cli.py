"""python -m lab: start, stop, inspect and break the embedded lab.

    python -m lab up [--state-dir DIR] [--seed NAME] [--fault NAME[=VALUE]]... [--time-scale S] [--watch-pid PID]
                     [--json] [--secrets-stdin]
    python -m lab down [--state-dir DIR]
    python -m lab fault NAME[=VALUE]        set a fault (python -m lab faults lists them)
    python -m lab fault --clear [NAME]      clear one fault, or all
    python -m lab faults                    the known faults, the active ones marked *
    python -m lab status

The lab is the Proxmox twin, the monitoring stack that scrapes it, and the Kubernetes side: the mgmt and tenant
clusters with the Cluster API, CAPMOX and kubelet controllers.
`eval "$(python -m lab up)"` points this shell (the suite, proxmoxer, curl, kubectl) at the lab. Each fault
belongs to the twin or to the monitoring stack; `fault` sends it to its owner.
The state directory is $LAB_STATE_DIR, else <repo>/.lab.
Exit status: 0 done, 2 bad usage or a fault the lab refused, 3 the lab is not set up, not running or did not start.
"""

import argparse
import json
import os
import sys

from lab import launcher
from lab.control_client import call
from lab.errors import EXIT_USAGE, LabError
from lab.settings import ROLE_SETTINGS, export_lines, lab_settings, new_credentials


def say(text):
    print('lab: ' + text, file=sys.stderr, flush=True)


def chosen_secrets(stream):
    """The secrets a caller chose (JSON {role: secret} on stdin), e.g. canary values a test looks for in reports."""
    try:
        chosen = json.loads(stream.read())
    except ValueError:
        chosen = None
    if not isinstance(chosen, dict) or not all(isinstance(value, str) and value for value in chosen.values()):
        raise LabError('--secrets-stdin: stdin must hold a JSON object {role: secret} of non-empty strings', EXIT_USAGE)
    unknown = sorted(set(chosen) - set(ROLE_SETTINGS))
    if unknown:
        raise LabError('--secrets-stdin: unknown roles {0}; the roles are {1}'.format(
            ', '.join(unknown), ', '.join(ROLE_SETTINGS)), EXIT_USAGE)
    return chosen


def cmd_up(args):
    credentials = new_credentials()
    if args.secrets_stdin:
        credentials.update(chosen_secrets(sys.stdin))
    state, inventory = launcher.start(args.state_dir, credentials, faults=args.fault, time_scale=args.time_scale,
                                      watch_pid=args.watch_pid, seed=args.seed, progress=say)
    settings = lab_settings(inventory, credentials, state)
    say('ready: Proxmox API {0}, control API {1}, metrics {2}, Kubernetes mgmt {3} and tenant {4}'.format(
        state['pve_url'], state['control_url'], state['monitoring']['metrics_url'], state['kube']['mgmt']['url'],
        state['kube']['tenant']['url']))
    if args.json:
        print(json.dumps({'settings': settings, 'control_url': state['control_url'], 'state_dir': state['state_dir'],
                          'pids': state['pids']}, indent=2))
    else:
        sys.stdout.write(export_lines(settings))


def cmd_down(args):
    if launcher.stop(args.state_dir):
        say('stopped the lab in {0}'.format(args.state_dir))
    else:
        say('no lab running in {0}'.format(args.state_dir))


def fault_owners(state):
    """(name, control URL) of each part of the lab that has faults, in the order `faults` lists them."""
    return (('Proxmox twin', state['control_url']), ('monitoring stack', state['monitoring']['control_url']),
            ('Kubernetes clusters and controllers', state['kube']['control_url']))


def owner_of(owners, name):
    """The control URL of the part of the lab that knows the fault; LabError listing every fault otherwise."""
    known = []
    for _owner, url in owners:
        names = [fault['name'] for fault in call(url, 'GET', '/faults')['known']]
        if name in names:
            return url
        known += names
    raise LabError('unknown fault {0!r}; known faults: {1}'.format(name, ', '.join(known)), EXIT_USAGE)


def active_faults(owners):
    return [fault for _owner, url in owners for fault in call(url, 'GET', '/faults')['active']]


def cmd_fault(args):
    owners = fault_owners(launcher.running_state(args.state_dir))
    if args.spec:
        name, _, value = args.spec.partition('=')
        url = owner_of(owners, name)
        if args.clear:
            call(url, 'DELETE', '/faults/' + name)
        else:
            call(url, 'PUT', '/faults/' + name, {'value': value} if value else None)
    elif args.clear:
        for _owner, url in owners:
            call(url, 'DELETE', '/faults')
    else:
        raise LabError('give a fault as NAME[=VALUE], or --clear [NAME]; python -m lab faults lists them', EXIT_USAGE)
    print('active faults: ' + describe_active(active_faults(owners)))


def describe_active(active):
    return ', '.join(fault['name'] + ('=' + fault['value'] if fault['value'] else '') for fault in active) or 'none'


def cmd_faults(args):
    answers = [(owner, call(url, 'GET', '/faults')) for owner, url in fault_owners(
        launcher.running_state(args.state_dir))]
    for owner, answer in answers:
        print(owner + ':')
        active = set(fault['name'] for fault in answer['active'])
        for fault in answer['known']:
            mark = '*' if fault['name'] in active else ' '
            print('{0} {1:<29} {2:<23} {3}'.format(mark, fault['name'], fault['value_format'] or '-',
                                                   fault['description']))
    twin = answers[0][1]
    print('values: [VALUE] may be left out (the description gives its default); any other VALUE is required.')
    print('names in values ({0} seed): {1}'.format(twin['seed'], '; '.join(
        '{0} {1}'.format(placeholder, ', '.join(names)) for placeholder, names in twin['value_names'].items())))
    print('active faults: ' + describe_active([fault for _owner, answer in answers for fault in answer['active']]))


def cmd_status(args):
    state = launcher.running_state(args.state_dir)
    health = call(state['control_url'], 'GET', '/health')
    monitoring = state['monitoring']
    components = call(monitoring['control_url'], 'GET', '/health')['components']
    print('lab running in {0} ({1} seed)'.format(state['state_dir'], health['seed']))
    print('  Proxmox API  {0} ({1})'.format(state['pve_url'], 'listening' if health['pve_listening'] else 'down'))
    print('  control API  {0}'.format(state['control_url']))
    print('  CA bundle    {0}'.format(state['ca_bundle']))
    print('  query API    {0} (VictoriaMetrics)'.format(monitoring['metrics_url']))
    print('  targets      {0} (vmagent)'.format(monitoring['targets_url']))
    print('  vmalert      {0}'.format(monitoring['vmalert_url']))
    print('  logs         {0} (VictoriaLogs API)'.format(monitoring['logs_url']))
    print('  Grafana      {0}'.format(monitoring['grafana_url']))
    print('  monitoring   control API {0}; {1}'.format(monitoring['control_url'], ', '.join(
        '{0} {1}'.format(name, status) for name, status in sorted(components.items()))))
    for cluster in ('mgmt', 'tenant'):
        kube = state['kube'][cluster]
        print('  Kubernetes   {0} {1} (kubeconfig {2})'.format(cluster, kube['url'], kube['kubeconfig']))
    print('  controllers  Cluster API, CAPMOX, kubelet; control API {0}'.format(state['kube']['control_url']))
    print('  pids         {0}'.format(' '.join(map(str, state['pids']))))
    print('  faults       {0}'.format(describe_active(active_faults(fault_owners(state)))))


def time_scale(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must be a number >= 0; got {0}'.format(text))
    return value


def parser():
    top = argparse.ArgumentParser(prog='python -m lab', description=__doc__.splitlines()[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog='\n'.join(__doc__.splitlines()[1:]))
    commands = top.add_subparsers(dest='command', required=True, metavar='COMMAND')

    def command(name, handler, text):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument('--state-dir', type=os.path.abspath, default=str(launcher.default_state_dir()),
                         help='where lab.json, ca.pem and the log live (default: $LAB_STATE_DIR, else <repo>/.lab)')
        sub.set_defaults(handler=handler)
        return sub

    up = command('up', cmd_up, 'start the lab and print the settings that point at it')
    up.add_argument('--seed', default=launcher.DEFAULT_SEED, metavar='NAME',
                    help='the cluster the lab starts as: standard (default); alt, where every name the suite '
                         'reads differs; or large (16 nodes, 2000 VMs, for the API economy benchmark)')
    up.add_argument('--fault', action='append', default=[], metavar='NAME[=VALUE]', help='a fault set from the start')
    up.add_argument('--time-scale', type=time_scale, default=0.0, metavar='S',
                    help='real seconds per Proxmox second for tasks (default 0: tasks finish at once)')
    up.add_argument('--watch-pid', type=int, metavar='PID', help='the lab stops by itself when this process is gone')
    up.add_argument('--json', action='store_true', help='print one JSON object instead of export lines')
    up.add_argument('--secrets-stdin', action='store_true',
                    help='read chosen secrets from stdin as JSON {role: secret} (roles: user, suite, capmox, csi, '
                         'ccm); the others are made at random')
    command('down', cmd_down, 'stop the lab (no lab running is not an error)')
    fault = command('fault', cmd_fault, 'set a fault, or clear one or all')
    fault.add_argument('spec', nargs='?', metavar='NAME[=VALUE]')
    fault.add_argument('--clear', action='store_true', help='clear the named fault, or every fault')
    command('faults', cmd_faults, 'list the known faults; * marks the active ones')
    command('status', cmd_status, 'show where the lab runs and its active faults')
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except LabError as err:
        say(str(err))
        return err.exit_code
    except BrokenPipeError:
        # The reader left early (python -m lab faults | head): quiet the flush at exit, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
