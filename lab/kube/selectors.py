"""Label and field selectors: parsed from their query-string form or from a LabelSelector object."""

import re
from dataclasses import dataclass

from . import jsonpath

_NAME = r'[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?'
_PREFIX = r'[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*'
LABEL_KEY = re.compile(r'^(?:{0}/)?{1}$'.format(_PREFIX, _NAME))
LABEL_VALUE = re.compile(r'^(?:{0})?$'.format(_NAME))
_KEY = r'[A-Za-z0-9][-A-Za-z0-9_./]*'
_EXISTS = re.compile(r'^(!?)\s*({0})$'.format(_KEY))
_EQUALS = re.compile(r'^({0})\s*(==|=|!=)\s*(\S*)$'.format(_KEY))
_SET = re.compile(r'^({0})\s+(in|notin)\s*\((.*)\)$'.format(_KEY))
_COMPARE = re.compile(r'^({0})\s*(<|>)\s*(-?\d+)$'.format(_KEY))
_FIELD = re.compile(r'^([^=!]+?)\s*(==|=|!=)\s*(.*)$')


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str              # 'exists', '!', 'in', 'notin', '<', '>'
    values: tuple = ()

    def matches(self, labels):
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == 'exists':
            return present
        if self.op == '!':
            return not present
        if self.op == 'in':
            return present and value in self.values
        if self.op == 'notin':
            return not present or value not in self.values
        if not present or not re.fullmatch(r'-?\d+', value):
            return False
        return int(value) < int(self.values[0]) if self.op == '<' else int(value) > int(self.values[0])


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple = ()

    def matches(self, labels):
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)


def _split_top_level(text):
    """Split at commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += {'(': 1, ')': -1}.get(char, 0)
        if char == ',' and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return parts


def parse_labels(text):
    """A LabelSelector from `a=b,c!=d,e in (f,g),!h`; ValueError naming the bad part."""
    if not (text or '').strip():
        return LabelSelector()
    return LabelSelector(tuple(_requirement(part.strip()) for part in _split_top_level(text)))


def _requirement(part):
    if match := _EXISTS.match(part):
        requirement = Requirement(match.group(2), '!' if match.group(1) else 'exists')
    elif match := _EQUALS.match(part):
        op = 'notin' if match.group(2) == '!=' else 'in'
        requirement = Requirement(match.group(1), op, (match.group(3),))
    elif match := _SET.match(part):
        values = tuple(value.strip() for value in match.group(3).split(','))
        requirement = Requirement(match.group(1), match.group(2), values)
    elif match := _COMPARE.match(part):
        return Requirement(match.group(1), match.group(2), (match.group(3),))
    else:
        raise ValueError('unable to parse requirement: {0!r}'.format(part))
    if not LABEL_KEY.match(requirement.key):
        raise ValueError('invalid label key {0!r} in {1!r}'.format(requirement.key, part))
    bad = [value for value in requirement.values if not LABEL_VALUE.match(value)]
    if bad:
        raise ValueError('invalid label value {0!r} in {1!r}'.format(bad[0], part))
    return requirement


def from_object(selector):
    """A LabelSelector from a LabelSelector object {matchLabels, matchExpressions}; None selects nothing."""
    if selector is None:
        return None
    return parse_labels(format_selector(selector))


def format_selector(selector):
    """A LabelSelector object as the query-string form (`app=web,tier in (a,b)`)."""
    parts = ['{0}={1}'.format(key, value) for key, value in sorted((selector.get('matchLabels') or {}).items())]
    for expression in selector.get('matchExpressions') or ():
        key, op = expression['key'], expression['operator']
        if op in ('In', 'NotIn'):
            parts.append('{0} {1} ({2})'.format(key, op.lower(), ','.join(expression.get('values') or ())))
        else:
            parts.append(key if op == 'Exists' else '!' + key)
    return ','.join(parts)


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple = ()      # (field path, must equal: bool, value)

    def matches(self, obj):
        return all((jsonpath.as_text(jsonpath.get(obj, '.' + path)) == value) == equal
                   for path, equal, value in self.terms)


def parse_fields(text, allowed):
    """A FieldSelector from `metadata.name=x,status.phase!=Running`; ValueError for a field not in allowed."""
    if not (text or '').strip():
        return FieldSelector()
    terms = []
    for part in text.split(','):
        match = _FIELD.match(part.strip())
        if not match:
            raise ValueError('invalid selector: {0!r}; expected field=value or field!=value'.format(part))
        path, op, value = match.groups()
        if path not in allowed:
            raise ValueError('field label not supported: {0}'.format(path))
        terms.append((path, op != '!=', value))
    return FieldSelector(tuple(terms))
