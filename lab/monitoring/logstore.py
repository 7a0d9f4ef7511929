"""The lab's log store: VictoriaLogs' JSON-lines ingestion and LogsQL query results (standard library only).

Entries are flat dicts of strings (nested JSON objects become dotted names, as VictoriaLogs does), kept in
memory, the newest MAX_ENTRIES only.
"""

import collections
import datetime
import json
import time

from lab.monitoring.logsql import LogsQLError, matches, parse_duration, parse_query

MAX_ENTRIES = 100_000
MISSING_MSG = 'missing _msg field'


class IngestError(ValueError):
    """A line that is not a JSON object, or a _time that cannot be read; the message names the line."""


class LogStore:
    def __init__(self, clock=time.time):
        self._entries = collections.deque(maxlen=MAX_ENTRIES)
        self._clock = clock

    def ingest(self, body, stream_fields=(), msg_field='_msg', time_field='_time'):
        """Store every JSON line of body (bytes); returns how many. IngestError names the first bad line."""
        entries = [self.entry(number, line, stream_fields, msg_field, time_field)
                   for number, line in enumerate(body.decode(errors='replace').splitlines(), 1) if line.strip()]
        self._entries.extend(entries)
        return len(entries)

    def entry(self, number, line, stream_fields, msg_field, time_field):
        try:
            record = json.loads(line)
        except ValueError as err:
            raise IngestError('line {0} is not JSON: {1}'.format(number, err)) from None
        if not isinstance(record, dict):
            raise IngestError('line {0} is not a JSON object'.format(number))
        fields = flatten(record)
        message = fields.pop(msg_field, None)
        stamp = fields.pop(time_field, None)
        try:
            timestamp = parse_time(stamp) if stamp not in (None, '', '0') else self._clock()
        except ValueError as err:
            raise IngestError('line {0}: {1}'.format(number, err)) from None
        streams = dict((name, fields.get(name, '')) for name in stream_fields)
        fields.update({
            '_msg': MISSING_MSG if message is None else message,
            '_time': format_time(timestamp),
            '_stream': '{' + ','.join('{0}={1}'.format(name, json.dumps(value))
                                      for name, value in sorted(streams.items())) + '}',
            '_timestamp': timestamp,
            '_stream_fields': streams,
        })
        return fields

    def query(self, query, limit=None, start=None, end=None):
        """The entries matching the LogsQL query, oldest first: the newest `limit` of them (all when None)."""
        filters = parse_query(query)
        now = self._clock()
        found = [entry for entry in self._entries
                 if (start is None or entry['_timestamp'] >= start) and (end is None or entry['_timestamp'] <= end)
                 and matches(filters, entry, now)]
        found.sort(key=lambda entry: entry['_timestamp'])
        return found[-limit:] if limit else found


def public(entry):
    """An entry as the query API returns it: every field but the store's own."""
    return dict((name, value) for name, value in entry.items() if name not in ('_timestamp', '_stream_fields'))


def flatten(record, prefix=''):
    """{"a": {"b": 1}} -> {"a.b": "1"}: every value a string (strings as they are, others as JSON)."""
    flat = {}
    for name, value in record.items():
        key = prefix + name
        if isinstance(value, dict):
            flat.update(flatten(value, key + '.'))
        else:
            flat[key] = value if isinstance(value, str) else json.dumps(value)
    return flat


def parse_time(text):
    """RFC 3339, or a Unix time in seconds, milliseconds or nanoseconds -> seconds; ValueError otherwise."""
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
        except ValueError:
            raise ValueError('cannot parse time {0!r}: use RFC 3339 or a Unix time'.format(text)) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    for scale in (1, 1e3, 1e6, 1e9):    # seconds, ms, µs or ns since 1970 (a time before 2100)
        if number / scale < 4.2e9:
            return number / scale
    raise ValueError('cannot parse time {0!r}'.format(text))


def format_time(timestamp):
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_bound(text, now):
    """A query's start or end: RFC 3339, a Unix time, or a duration before now such as 5m; None when empty."""
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except LogsQLError:
        raise ValueError('cannot parse {0!r}: use RFC 3339, a Unix time or a duration such as 5m'.format(
            text)) from None
