"""The JSONPath subset CRDs use: `.spec.replicas`, `.items[0].name`, `.status.conditions[?(@.type=="Ready")].status`."""

import functools
import re

_STEP = re.compile(r"""\.(?P<field>[^.\[]+)                               # .name
                      |\[(?P<index>-?\d+)\]                              # [0]
                      |\['(?P<quoted>[^']*)'\]                           # ['name']
                      |\[\?\(@\.(?P<path>[\w.]+)\s*(?P<op>==|!=)\s*
                           (?P<q>["'])(?P<value>.*?)(?P=q)\)\]           # [?(@.type=="Ready")]
                   """, re.VERBOSE)


@functools.lru_cache(maxsize=1024)
def steps(path):
    """The steps of a path as (kind, argument) pairs; ValueError naming the path if it is not in the subset."""
    text = path.strip()
    if text.startswith('{') and text.endswith('}'):
        text = text[1:-1]
    found, position = [], 0
    while position < len(text):
        match = _STEP.match(text, position)
        if not match:
            raise ValueError('unsupported JSONPath {0!r} at {1!r}'.format(path, text[position:]))
        if match.group('field') is not None or match.group('quoted') is not None:
            found.append(('field', match.group('field') if match.group('field') is not None else match.group('quoted')))
        elif match.group('index') is not None:
            found.append(('index', int(match.group('index'))))
        else:
            found.append(('filter', (match.group('path'), match.group('op'), match.group('value'))))
        position = match.end()
    return tuple(found)


def get(document, path, default=None):
    """The first value path reaches in document, or default."""
    value = document
    for kind, argument in steps(path):
        value = _step(value, kind, argument)
        if value is None:
            return default
    return value


def _step(value, kind, argument):
    if kind == 'field':
        return value.get(argument) if isinstance(value, dict) else None
    if kind == 'index':
        return value[argument] if isinstance(value, list) and -len(value) <= argument < len(value) else None
    field_path, op, expected = argument
    for item in value if isinstance(value, list) else ():
        actual = get(item, '.' + field_path)
        if (as_text(actual) == expected) == (op == '=='):
            return item
    return None


def as_text(value):
    """A value as field selectors and table cells compare and show it."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '' if value is None else str(value)


def set_field(document, path, value):
    """Set a plain dotted path (`.spec.replicas`), creating the maps on the way."""
    found = steps(path)
    names = [argument for kind, argument in found if kind == 'field']
    if len(names) != len(found) or not names:
        raise ValueError('cannot set through JSONPath {0!r}: only .a.b paths are writable'.format(path))
    target = document
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value
