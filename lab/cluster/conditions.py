"""Cluster API v1beta1 conditions: {type, status, severity, reason, message, lastTransitionTime}.

A condition's lastTransitionTime changes only when its status does; `Ready` sorts first, the rest by type,
as Cluster API's condition utilities keep them.
"""

from datetime import datetime, timezone

SEVERITY = {'Info', 'Warning', 'Error'}


def now():
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def micro_now():
    """A MicroTime, as leases and events carry it."""
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def get(conditions, kind):
    return next((item for item in conditions or () if item.get('type') == kind), None)


def is_true(conditions, kind):
    found = get(conditions, kind)
    return bool(found) and found.get('status') == 'True'


def with_condition(conditions, kind, status, reason='', message='', severity=None):
    """A new list: conditions with `kind` set. A False condition gets a severity (Info unless given)."""
    if severity is not None and severity not in SEVERITY:
        raise ValueError('severity must be one of {0}, not {1!r}'.format(sorted(SEVERITY), severity))
    old = get(conditions, kind)
    item = {'type': kind, 'status': status}
    if status == 'False':
        item['severity'] = severity or 'Info'
    if reason:
        item['reason'] = reason
    if message:
        item['message'] = message
    unchanged = old is not None and old.get('status') == status
    item['lastTransitionTime'] = old['lastTransitionTime'] if unchanged and old.get('lastTransitionTime') else now()
    others = [entry for entry in conditions or () if entry.get('type') != kind]
    return sorted(others + [item], key=lambda entry: (entry['type'] != 'Ready', entry['type']))
