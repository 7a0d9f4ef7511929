"""The subset of VictoriaLogs' LogsQL that the lab's log store answers (standard library only).

Supported, joined by spaces or AND (every filter must match):
  *                       every entry
  word, "a phrase"        the word or phrase in _msg, at word boundaries (case-sensitive)
  prefix*                 a word in _msg starting with prefix
  FIELD:word, FIELD:"a phrase", FIELD:prefix*   the same filters on another field (e.g. kubernetes.pod_name)
  FIELD:=value            the field equals value exactly
  _time:5m                entries of the last 5 minutes (units ms s m h d w y, combinable: 1h30m)
  {name="value", ...}     stream filter, also written _stream:{...}: every named stream field equals its value
Anything else (OR, NOT, -, !, parentheses, pipes, regexps, ranges) is refused with LogsQLError.
"""

import json
import re
from dataclasses import dataclass

WORD_CHAR = re.compile(r'\w')
DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)')
UNIT_SECONDS = {'ms': 0.001, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400, 'y': 365 * 86400}
TOKEN = re.compile(r'(?:[^\s"{]+|"(?:[^"\\]|\\.)*"|\{[^}]*\})+')
STREAM_LABEL = re.compile(r'\s*([\w.\-]+)\s*=\s*("(?:[^"\\]|\\.)*")\s*(?:,|$)')
UNSUPPORTED_START = ('(', ')', '!', '-', '|', '~')
UNSUPPORTED_WORDS = ('OR', 'NOT')


class LogsQLError(ValueError):
    """A query outside the supported subset, or malformed; the message names the part."""


@dataclass(frozen=True)
class TextFilter:
    field: str
    text: str
    kind: str          # 'phrase', 'prefix' or 'exact'

    def matches(self, entry, now):
        value = entry.get(self.field)
        if value is None:
            return False
        if self.kind == 'exact':
            return value == self.text
        return contains_at_word_boundary(value, self.text, whole_word=self.kind == 'phrase')


@dataclass(frozen=True)
class TimeFilter:
    seconds: float

    def matches(self, entry, now):
        return entry['_timestamp'] >= now - self.seconds


@dataclass(frozen=True)
class StreamFilter:
    labels: tuple      # ((name, value), ...)

    def matches(self, entry, now):
        return all(entry['_stream_fields'].get(name) == value for name, value in self.labels)


class MatchAll:
    def matches(self, entry, now):
        return True


def contains_at_word_boundary(value, text, whole_word):
    """True if text occurs in value with no word character just before it (nor just after it, for a whole word)."""
    start = value.find(text)
    while start != -1:
        end = start + len(text)
        before_ok = start == 0 or not is_word_char(value[start - 1]) or not is_word_char(text[0])
        after_ok = not whole_word or end == len(value) or not is_word_char(value[end]) or not is_word_char(text[-1])
        if before_ok and after_ok:
            return True
        start = value.find(text, start + 1)
    return False


def is_word_char(char):
    return bool(WORD_CHAR.match(char))


def parse_duration(text):
    """'5m', '1h30m', '500ms' -> seconds; LogsQLError otherwise."""
    parts = DURATION_PART.findall(text)
    if not text or ''.join(number + unit for number, unit in parts) != text:
        raise LogsQLError('cannot parse duration {0!r}: use a number and a unit of ms s m h d w y, '
                          'like 5m'.format(text))
    return sum(float(number) * UNIT_SECONDS[unit] for number, unit in parts)


def parse_query(query):
    """The filters of a LogsQL query (all must match); LogsQLError for anything outside the subset."""
    query = query.strip()
    if not query:
        raise LogsQLError('missing query: give a LogsQL filter such as * or _time:5m error')
    filters = []
    position = 0
    while position < len(query):
        if query[position].isspace():
            position += 1
            continue
        match = TOKEN.match(query, position)
        if not match:
            raise LogsQLError('cannot parse query at {0!r}'.format(query[position:]))
        position = match.end()
        token = match.group()
        if token == 'AND':
            continue
        filters.append(parse_filter(token))
    return filters


def parse_filter(token):
    if token in UNSUPPORTED_WORDS or token.startswith(UNSUPPORTED_START):
        raise LogsQLError('{0!r} is outside the LogsQL subset the lab serves (filters joined by AND only; '
                          'see lab/monitoring/README.md)'.format(token))
    if token == '*':
        return MatchAll()
    if token.startswith('{'):
        return parse_stream(token)
    field, value = split_field(token)
    if field == '_stream':
        return parse_stream(value)
    if field == '_time':
        return TimeFilter(parse_duration(value))
    return parse_text(field, value)


def split_field(token):
    """'kubernetes.pod_name:"x y"' -> ('kubernetes.pod_name', '"x y"'); a token without a field is on _msg."""
    if token.startswith('"'):
        return '_msg', token
    field, colon, value = token.partition(':')
    if not colon:
        return '_msg', token
    if not field or not value:
        raise LogsQLError('cannot parse filter {0!r}: write FIELD:VALUE'.format(token))
    return field, value


def parse_text(field, value):
    if value.startswith('='):
        return TextFilter(field, unquote(value[1:]), 'exact')
    if value.endswith('*') and not value.startswith('"'):
        return TextFilter(field, value[:-1], 'prefix')
    if not value.startswith('"') and ('*' in value or '"' in value):
        raise LogsQLError('cannot parse filter value {0!r}'.format(value))
    return TextFilter(field, unquote(value), 'phrase')


def unquote(text):
    if not text.startswith('"'):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        raise LogsQLError('cannot parse quoted string {0}'.format(text)) from None
    if not isinstance(value, str):
        raise LogsQLError('cannot parse quoted string {0}'.format(text))
    return value


def parse_stream(token):
    """'{a="x",b="y"}' -> StreamFilter; only = comparisons."""
    if not (token.startswith('{') and token.endswith('}')):
        raise LogsQLError('cannot parse stream filter {0!r}: write {{name="value", ...}}'.format(token))
    body = token[1:-1].strip()
    labels = []
    position = 0
    while position < len(body):
        match = STREAM_LABEL.match(body, position)
        if not match:
            raise LogsQLError('cannot parse stream filter {0!r}: only name="value" pairs are served'.format(token))
        labels.append((match.group(1), unquote(match.group(2))))
        position = match.end()
    return StreamFilter(tuple(labels))


def matches(filters, entry, now):
    return all(one.matches(entry, now) for one in filters)
