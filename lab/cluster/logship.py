"""The log collector of the management cluster: what CozyStack's fluent-bit (monitoring-agents) ships to
VictoriaLogs, one JSON line per container log line, with its field names and its `/insert/jsonline` options.

Shipping never holds up the pod runtime: `ship` only queues; a background task posts batches. Lines the log store
does not take (unreachable, an error status) are dropped and logged, as are lines beyond MAX_PENDING.
"""

import asyncio
import collections
import datetime
import json
import logging

import aiohttp

log = logging.getLogger('lab.cluster.logship')

INSERT_PATH = '/insert/jsonline'
# monitoring-agents' fluent-bit output: the stream fields and the names of the message and time fields
INSERT_OPTIONS = {'_stream_fields': 'log_source,stream,kubernetes_pod_name,kubernetes_container_name,'
                                    'kubernetes_namespace_name',
                  '_msg_field': 'log', '_time_field': 'date'}
# the fields monitoring-agents' filters add to every container log line of the root cluster
COLLECTOR_FIELDS = {'log_source': 'container_log', 'tenant': 'cozy-monitoring', 'cluster': 'root-cluster'}
FLUSH_SECONDS = 1.0         # fluent-bit's default Flush: lines gathered before a batch is posted
BATCH_LINES = 1000
MAX_PENDING = 50000
POST_TIMEOUT = 5.0          # seconds; a log store that does not answer in time loses that batch


class LogShipper(object):
    def __init__(self, url):
        self._url = url.rstrip('/') + INSERT_PATH
        self._pending = collections.deque()
        self._queued = asyncio.Event()
        self._failing = False
        self._overflow = 0

    def ship(self, namespace, pod, container, text):
        """Queue each line of what a container printed (a partial line goes as it is)."""
        now = datetime.datetime.now(datetime.timezone.utc)     # as fluent-bit's json_date_format iso8601 writes it
        date = now.strftime('%Y-%m-%dT%H:%M:%S.') + '{0:03d}Z'.format(now.microsecond // 1000)
        for line in text.splitlines():
            if len(self._pending) >= MAX_PENDING:
                self._overflow += 1
                continue
            self._pending.append(dict(COLLECTOR_FIELDS, date=date, log=line, kubernetes_pod_name=pod,
                                      kubernetes_namespace_name=namespace, kubernetes_container_name=container))
        self._queued.set()

    async def run(self):
        """Post the queued lines in batches, until cancelled."""
        timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self._queued.wait()
                await asyncio.sleep(FLUSH_SECONDS)
                self._queued.clear()
                while self._pending:
                    batch = [self._pending.popleft() for _ in range(min(BATCH_LINES, len(self._pending)))]
                    await self._post(session, batch)

    async def _post(self, session, batch):
        body = ''.join(json.dumps(line) + '\n' for line in batch).encode()
        try:
            async with session.post(self._url, params=INSERT_OPTIONS, data=body,
                                    headers={'Content-Type': 'application/stream+json'}) as response:
                if response.status >= 400:
                    raise aiohttp.ClientError('HTTP {0} {1}'.format(response.status, (await response.text())[:200]))
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            if not self._failing:
                log.warning('log store %s did not take the lines, %d line(s) dropped: %s', self._url, len(batch),
                            str(err) or type(err).__name__)
            self._failing = True
            return
        if self._failing or self._overflow:
            log.info('log store %s takes lines again (%d dropped as the queue was full)', self._url, self._overflow)
        self._failing, self._overflow = False, 0
