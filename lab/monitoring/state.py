"""What the lab's own monitoring service holds: active faults, logs, the CSI/CCM API call series, received alerts."""

from lab.monitoring.api_calls import BACKGROUND_ERROR_SHARE, COMPONENTS, ApiCalls, BackgroundTraffic
from lab.monitoring.faults import lookup
from lab.monitoring.logstore import LogStore

MAX_ALERTS = 1000


class MonitoringLab:
    def __init__(self, apply_fault):
        """apply_fault(name, active) is awaited before a fault is recorded as set or cleared: it changes the
        processes (stops the exporter, loads a broken rule) or raises, and then nothing is recorded."""
        self._apply_fault = apply_fault
        self._faults = {}      # name -> (value as given, value as parsed)
        self.logs = LogStore()
        self.calls = dict((component, ApiCalls()) for component in COMPONENTS)
        self.traffic = BackgroundTraffic(self.calls, self.api_error_share)
        self.alerts = []

    def has_fault(self, name):
        return name in self._faults

    def active_faults(self):
        return [{'name': name, 'value': value} for name, (value, _parsed) in sorted(self._faults.items())]

    async def set_fault(self, name, value=''):
        """Set (or change) a fault; FaultError for an unknown fault or a bad value."""
        parsed = lookup(name).parse(value)
        if name not in self._faults:
            await self._apply_fault(name, True)
        self._faults[name] = (value or '', parsed)

    async def clear_fault(self, name):
        lookup(name)
        if name in self._faults:
            await self._apply_fault(name, False)
            del self._faults[name]

    async def clear_all(self):
        for name in list(self._faults):
            await self.clear_fault(name)

    def api_error_share(self):
        if 'pve-api-errors' in self._faults:
            return self._faults['pve-api-errors'][1] / 100
        return BACKGROUND_ERROR_SHARE

    def ingest_logs(self, body, **options):
        """Store the JSON lines and return how many; under logs-not-ingested drop them all (and return 0)."""
        if self.has_fault('logs-not-ingested'):
            return 0
        return self.logs.ingest(body, **options)

    def receive_alerts(self, alerts):
        self.alerts = (self.alerts + list(alerts))[-MAX_ALERTS:]
