"""The Proxmox API call series of the lab's CSI and CCM, as proxmox-csi-plugin and the Proxmox CCM expose them.

proxmox_api_request_duration_seconds (histogram), proxmox_api_requests_total and
proxmox_api_request_errors_total (counters), labelled request and method. Lab controllers add their calls
(POST /api-calls on the control API); BackgroundTraffic adds the steady polling a running CSI and CCM do.
Standard library only.
"""

import random
from dataclasses import dataclass, field

COMPONENTS = ('csi', 'ccm')
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)     # the plugins' own buckets
BACKGROUND_ERROR_SHARE = 0.001
# component -> (request, method, calls per second, typical seconds): the read-only polling of a healthy cluster.
BACKGROUND_CALLS = {
    'csi': (('storageStatus', 'GET', 2, 0.12), ('getVMConfig', 'GET', 1, 0.08)),
    'ccm': (('clusterResources', 'GET', 2, 0.10), ('getNodeStatus', 'GET', 1, 0.06)),
}
HELP = (
    ('proxmox_api_request_duration_seconds', 'histogram', 'Duration of Proxmox API requests in seconds'),
    ('proxmox_api_requests_total', 'counter', 'Proxmox API requests'),
    ('proxmox_api_request_errors_total', 'counter', 'Proxmox API requests that failed'),
)


@dataclass
class Series:
    buckets: list = field(default_factory=lambda: [0] * len(BUCKETS))
    seconds: float = 0.0
    count: int = 0
    errors: int = 0


class ApiCalls:
    """The series of one component."""

    def __init__(self):
        self._series = {}    # (request, method) -> Series

    def record(self, request, method, seconds, failed):
        series = self._series.setdefault((request, method), Series())
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                series.buckets[index] += 1
        series.seconds += seconds
        series.count += 1
        series.errors += 1 if failed else 0

    def exposition(self):
        """The series in the Prometheus text format."""
        lines = []
        for name, kind, text in HELP:
            lines += ['# HELP {0} {1}'.format(name, text), '# TYPE {0} {1}'.format(name, kind)]
            for (request, method), series in sorted(self._series.items()):
                labels = 'request="{0}",method="{1}"'.format(escape(request), escape(method))
                lines += sample_lines(name, labels, series)
        return '\n'.join(lines) + '\n'


def escape(value):
    """A label value as the text format writes it."""
    return value.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def sample_lines(name, labels, series):
    if name == 'proxmox_api_requests_total':
        return ['{0}{{{1}}} {2}'.format(name, labels, series.count)]
    if name == 'proxmox_api_request_errors_total':
        return ['{0}{{{1}}} {2}'.format(name, labels, series.errors)]
    lines = ['{0}_bucket{{{1},le="{2:g}"}} {3}'.format(name, labels, bound, count)
             for bound, count in zip(BUCKETS, series.buckets)]
    lines.append('{0}_bucket{{{1},le="+Inf"}} {2}'.format(name, labels, series.count))
    lines.append('{0}_sum{{{1}}} {2!r}'.format(name, labels, series.seconds))
    lines.append('{0}_count{{{1}}} {2}'.format(name, labels, series.count))
    return lines


class BackgroundTraffic:
    """One second of the CSI's and CCM's polling per tick(); error_share() says which share of it fails."""

    def __init__(self, calls, error_share, seed=7):
        self._calls = calls                  # component -> ApiCalls
        self._error_share = error_share      # () -> share of calls that fail, 0..1
        self._random = random.Random(seed)
        self._made = 0

    def tick(self):
        for component, kinds in BACKGROUND_CALLS.items():
            for request, method, per_second, typical in kinds:
                for _call in range(per_second):
                    seconds = typical * self._random.lognormvariate(0, 0.4)
                    self._calls[component].record(request, method, seconds, self._next_fails())

    def _next_fails(self):
        """Spreads failures evenly: call n fails when the running count of expected failures passes a whole one."""
        share = self._error_share()
        self._made += 1
        return int(self._made * share) > int((self._made - 1) * share)


def parse_calls(body):
    """POST /api-calls body -> (component, [(request, method, seconds, failed)]); ValueError naming the problem.

    {"component": "csi", "calls": [{"request": "createVolume", "method": "POST", "seconds": 1.2, "error": false}]}
    """
    if not isinstance(body, dict) or body.get('component') not in COMPONENTS:
        raise ValueError('give {{"component": one of {0}, "calls": [...]}}'.format(', '.join(COMPONENTS)))
    calls = body.get('calls')
    if not isinstance(calls, list):
        raise ValueError('"calls" must be a list of {"request", "method", "seconds", "error"} objects')
    return body['component'], [parse_call(index, call) for index, call in enumerate(calls)]


def parse_call(index, call):
    if not isinstance(call, dict):
        raise ValueError('call {0} is not an object'.format(index))
    request, method, seconds = call.get('request'), call.get('method', 'GET'), call.get('seconds')
    if not isinstance(request, str) or not request or not isinstance(method, str) or not method:
        raise ValueError('call {0}: "request" and "method" must be non-empty strings'.format(index))
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError('call {0}: "seconds" must be a number >= 0; got {1!r}'.format(index, seconds))
    return request, method.upper(), float(seconds), bool(call.get('error', False))
