"""MachineHealthCheck (cluster.x-k8s.io/v1beta1): marks machines whose Node stays unhealthy past a timeout, whose
Node is gone, that never got a Node within nodeStartupTimeout, or that failed; the owning MachineSet then
deletes and replaces them (conditions HealthCheckSucceeded and OwnerRemediated, as Cluster API sets them).
Timeouts follow the time scale, with floors of a few real seconds so that at time scale 0 a machine's normal
start-up does not count as a failure. With the fault `mhc-disabled` unhealthy machines are reported, never marked.
"""

import logging
import re
import time

from . import conditions
from .capi import has_condition
from .kinds import CLUSTER_NAME_LABEL, MACHINE, MACHINE_HEALTH_CHECK, NODE, rtype
from .runtime import deleting, find, key_of, patch_status

log = logging.getLogger('lab.cluster.mhc')

NODE_STARTUP_TIMEOUT = '10m'
NODE_STARTUP_FLOOR = 5.0      # real seconds at least before a machine without a Node counts as unhealthy
CONDITION_FLOOR = 1.0         # real seconds at least an unhealthy condition must last (a new node's first moments
                              # NotReady must not count at time scale 0)
RECHECK = 10.0                # realistic seconds between checks while machines are being watched
DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(h|m|s|ms)')
UNITS = {'h': 3600.0, 'm': 60.0, 's': 1.0, 'ms': 0.001}


def parse_duration(text):
    """Seconds of a Kubernetes duration ('300s', '5m', '1m30s'); ValueError when it is not one."""
    text = str(text).strip()
    parts = DURATION_PART.findall(text)
    if not parts or ''.join(number + unit for number, unit in parts) != text:
        raise ValueError('not a duration: {0!r}'.format(text))
    return sum(float(number) * UNITS[unit] for number, unit in parts)


def max_unhealthy(spec, total):
    """How many unhealthy machines still allow remediation: maxUnhealthy as a number or a percentage."""
    value = spec.get('maxUnhealthy', '100%')
    if isinstance(value, str) and value.endswith('%'):
        return int(total * float(value[:-1]) / 100)
    return int(value)


class MachineHealthCheckReconciler(object):

    name = 'machinehealthcheck'
    primary = MACHINE_HEALTH_CHECK

    def __init__(self, mgmt, tenant, faults, timing):
        self.mgmt = mgmt
        self.tenant = tenant
        self.faults = faults
        self.timing = timing
        self.related = [(mgmt, MACHINE, self._checks_of), (tenant, NODE, self._all_checks)]
        self._since = {}     # (machine uid, problem) -> when it was first seen (monotonic seconds)

    def _checks_of(self, machine):
        return [key_of(check) for check in self.mgmt.list(rtype(self.mgmt, MACHINE_HEALTH_CHECK),
                                                          machine['metadata']['namespace'])[0]
                if check['spec'].get('clusterName') == machine['spec'].get('clusterName')]

    def _all_checks(self, _node):
        return [key_of(check) for check in self.mgmt.list(rtype(self.mgmt, MACHINE_HEALTH_CHECK))[0]]

    async def reconcile(self, key):
        checks = rtype(self.mgmt, MACHINE_HEALTH_CHECK)
        check = find(self.mgmt, checks, key[1], key[0])
        if check is None or deleting(check):
            return None
        targets = self._targets(check)
        now = time.monotonic()
        verdicts = dict((machine['metadata']['name'], self._verdict(check, machine, now)) for machine in targets)
        unhealthy = [name for name, (problem, _wait) in verdicts.items() if problem]
        allowed = len(unhealthy) <= max_unhealthy(check['spec'], len(targets))
        for machine in targets:
            problem, _wait = verdicts[machine['metadata']['name']]
            self._mark(machine, problem, allowed and not self.faults.active('mhc-disabled'))
        self._status(checks, check, targets, unhealthy, allowed)
        waits = [wait for _problem, wait in verdicts.values() if wait is not None]
        return min(waits + [self.timing.poll(RECHECK, floor=1.0)])

    def _targets(self, check):
        spec = check['spec']
        selector = dict((spec.get('selector') or {}).get('matchLabels') or {})
        selector[CLUSTER_NAME_LABEL] = spec.get('clusterName', '')
        text = ','.join('{0}={1}'.format(key, value) for key, value in sorted(selector.items()))
        machines = self.mgmt.list(rtype(self.mgmt, MACHINE), check['metadata']['namespace'], labels=text)[0]
        return [machine for machine in machines if not deleting(machine)]

    def _verdict(self, check, machine, now):
        """((reason, message) or None, seconds until a pending problem would count, or None)."""
        status = machine.get('status') or {}
        uid = machine['metadata']['uid']
        if status.get('failureReason'):
            return ('MachineHasFailure', 'FailureReason: {0}'.format(status['failureReason'])), None
        node_ref = status.get('nodeRef')
        if node_ref is None:
            timeout = check['spec'].get('nodeStartupTimeout') or NODE_STARTUP_TIMEOUT
            seconds = max(self.timing.delay(parse_duration(timeout)), NODE_STARTUP_FLOOR)
            return self._after((uid, 'startup'), now, seconds, (
                'NodeStartupTimeout', 'Node failed to report startup in {0}'.format(timeout)))
        self._since.pop((uid, 'startup'), None)
        node = find(self.tenant, rtype(self.tenant, NODE), node_ref['name'])
        if node is None:
            return ('NodeNotFound', ''), None
        observed = dict((item['type'], item['status']) for item in (node.get('status') or {}).get('conditions') or ())
        for rule in check['spec'].get('unhealthyConditions') or ():
            what = (uid, rule['type'], rule['status'])
            if observed.get(rule['type']) != rule['status']:
                self._since.pop(what, None)
                continue
            seconds = max(self.timing.delay(parse_duration(rule['timeout'])), CONDITION_FLOOR)
            return self._after(what, now, seconds, (
                'UnhealthyNode', 'Condition {0} on node is reporting status {1} for more than {2}'.format(
                    rule['type'], rule['status'], rule['timeout'])))
        return None, None

    def _after(self, what, now, seconds, problem):
        """problem once `what` has been seen for `seconds`; until then (None, seconds left)."""
        left = self._since.setdefault(what, now) + seconds - now
        return (problem, None) if left <= 0 else (None, left)

    def _mark(self, machine, problem, remediate):
        machines = rtype(self.mgmt, MACHINE)
        current = find(self.mgmt, machines, machine['metadata']['name'], machine['metadata']['namespace'])
        if current is None:
            return
        items = (current.get('status') or {}).get('conditions') or []
        if problem is None:
            items = conditions.with_condition(items, 'HealthCheckSucceeded', 'True')
        else:
            items = conditions.with_condition(items, 'HealthCheckSucceeded', 'False', problem[0], problem[1],
                                              'Warning')
            if remediate and not has_condition(current, 'OwnerRemediated', 'False'):
                log.info('machinehealthcheck: machine %s is unhealthy (%s %s): remediating',
                         current['metadata']['name'], *problem)
                items = conditions.with_condition(items, 'OwnerRemediated', 'False', 'WaitingForRemediation',
                                                  'MachineSet will remediate the unhealthy machine', 'Warning')
        patch_status(self.mgmt, machines, current, {'conditions': items})

    def _status(self, checks, check, targets, unhealthy, allowed):
        items = (check.get('status') or {}).get('conditions') or []
        if allowed:
            items = conditions.with_condition(items, 'RemediationAllowed', 'True')
        else:
            items = conditions.with_condition(items, 'RemediationAllowed', 'False', 'TooManyUnhealthy', (
                'Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy '
                '(total: {0}, unhealthy: {1}, maxUnhealthy: {2})').format(
                    len(targets), len(unhealthy), check['spec'].get('maxUnhealthy', '100%')), 'Warning')
        healthy = len(targets) - len(unhealthy)
        limit = max_unhealthy(check['spec'], len(targets))
        patch_status(self.mgmt, checks, check, {
            'expectedMachines': len(targets), 'currentHealthy': healthy,
            'remediationsAllowed': max(limit - len(unhealthy), 0) if allowed else 0,
            'targets': sorted(machine['metadata']['name'] for machine in targets),
            'observedGeneration': check['metadata'].get('generation'), 'conditions': items})
