"""The monitoring faults: what each breaks and the value it takes (standard library only).

The twin owns the Proxmox-side faults that monitoring shows (pve-node-offline, node-cpu-hot, ...); these
break the monitoring stack itself. MonitoringLab (service.py) applies them.
"""

from dataclasses import dataclass
from typing import Callable

DEFAULT_API_ERROR_PERCENT = 25.0


class FaultError(ValueError):
    """An unknown fault, or a value the fault does not take; the message says what it takes."""


@dataclass(frozen=True)
class Fault:
    name: str
    syntax: str           # the value's format; empty when the fault takes none
    description: str      # the symptom, as a real cluster shows it
    read: Callable[[str], object]   # the given value ('' for none) -> what the lab uses

    def parse(self, value):
        try:
            return self.read(value or '')
        except FaultError as err:
            raise FaultError('fault {0} takes {1}: {2}'.format(self.name, self.syntax or 'no value', err)) from None


def no_value(value):
    if value:
        raise FaultError('got {0!r}'.format(value))
    return True


def percent(value):
    """PERCENT in (0, 100], default DEFAULT_API_ERROR_PERCENT."""
    if not value:
        return DEFAULT_API_ERROR_PERCENT
    try:
        number = float(value.rstrip('%'))
    except ValueError:
        raise FaultError('PERCENT must be a number; got {0!r}'.format(value)) from None
    if not 0 < number <= 100:
        raise FaultError('PERCENT must be above 0 and at most 100; got {0:g}'.format(number))
    return number


CATALOGUE = (
    Fault('exporter-down', '', 'prometheus-pve-exporter is stopped: its scrape target is down and the pve_* series '
          'go stale', no_value),
    Fault('vmalert-rule-error', '', 'vmalert loads a rule group whose query fails at every evaluation (a broken '
          'regular expression): the rule shows health "err" and a lastError', no_value),
    Fault('logs-not-ingested', '', 'log lines sent to /insert/jsonline are accepted (HTTP 200) and silently '
          'dropped, as by a log shipper that lost its output', no_value),
    Fault('grafana-down', '', 'Grafana /api/health answers 503 with database "failing" and dashboard search '
          'fails', no_value),
    Fault('pve-api-errors', 'PERCENT', 'that share (default {0:g} %) of the CSI and CCM Proxmox API calls fail from '
          'now on: proxmox_api_request_errors_total climbs above 1 % of proxmox_api_requests_total'.format(
              DEFAULT_API_ERROR_PERCENT), percent),
)
FAULTS = dict((fault.name, fault) for fault in CATALOGUE)


def lookup(name):
    if name not in FAULTS:
        raise FaultError('unknown monitoring fault {0!r}; known: {1}'.format(name, ', '.join(FAULTS)))
    return FAULTS[name]


def known():
    """The catalogue as the control API lists it."""
    return [{'name': fault.name, 'value_format': fault.syntax, 'description': fault.description}
            for fault in CATALOGUE]
