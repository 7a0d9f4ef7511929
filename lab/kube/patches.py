"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes' strategic merge patch.

Each function takes the current object and the patch and returns a new object; PatchError means the
patch cannot apply (a 422 for the client), ValueError that it is malformed (a 400).
"""

import copy

# Lists Kubernetes merges by a key field instead of replacing them (the patchMergeKey of the built-in
# types); `ports` depends on where it is, see _merge_key.
MERGE_KEYS = {
    'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name', 'volumes': 'name',
    'env': 'name', 'volumeMounts': 'mountPath', 'volumeDevices': 'devicePath', 'imagePullSecrets': 'name',
    'hostAliases': 'ip', 'conditions': 'type', 'ownerReferences': 'uid', 'resourceClaims': 'name',
    'topologySpreadConstraints': 'topologyKey', 'addresses': 'type', 'secrets': 'name',
}
CONTAINER_LISTS = ('containers', 'initContainers', 'ephemeralContainers')
# Lists of scalars merged as sets (patchStrategy merge without a key).
SCALAR_SETS = ('finalizers',)
ORDER = '$setElementOrder/'
DELETE_FROM = '$deleteFromPrimitiveList/'


class PatchError(Exception):
    """The patch is well formed but cannot be applied to this object."""


def merge_patch(target, patch):
    """RFC 7386: maps merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ----------------------------------------------------------------- JSON patch

def json_patch(target, operations):
    if not isinstance(operations, list):
        raise ValueError('a JSON patch must be a list of operations, got {0}'.format(type(operations).__name__))
    document = copy.deepcopy(target)
    for operation in operations:
        document = _apply_operation(document, operation)
    return document


def _pointer(text):
    if not isinstance(text, str) or (text and not text.startswith('/')):
        raise ValueError('invalid JSON pointer {0!r}'.format(text))
    return [part.replace('~1', '/').replace('~0', '~') for part in text.split('/')[1:]]


def _apply_operation(document, operation):
    if not isinstance(operation, dict) or 'op' not in operation or 'path' not in operation:
        raise ValueError('a JSON patch operation needs "op" and "path": {0!r}'.format(operation))
    op, path = operation['op'], _pointer(operation['path'])
    if op in ('add', 'replace', 'test') and 'value' not in operation:
        raise ValueError('the {0} operation at {1} needs a "value"'.format(op, operation['path']))
    if op == 'test':
        if _resolve(document, path) != operation['value']:
            raise PatchError('testing value {0} failed'.format(operation['path']))
        return document
    if op in ('move', 'copy'):
        value = copy.deepcopy(_resolve(document, _pointer(operation.get('from'))))
        if op == 'move':
            document = _remove(document, _pointer(operation['from']))
        return _add(document, path, value)
    if op == 'remove':
        return _remove(document, path)
    if op == 'replace':
        _resolve(document, path)
        return _add(_remove(document, path), path, copy.deepcopy(operation['value']))
    if op == 'add':
        return _add(document, path, copy.deepcopy(operation['value']))
    raise ValueError('unknown JSON patch operation {0!r}'.format(op))


def _resolve(document, path):
    value = document
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise PatchError('doc is missing path: /{0}'.format('/'.join(path)))
    return value


def _add(document, path, value):
    if not path:
        return value
    parent = _resolve(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == '-' or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == '-' else int(last), value)
    else:
        raise PatchError('cannot add at /{0}: no such place'.format('/'.join(path)))
    return document


def _remove(document, path):
    if not path:
        raise PatchError('cannot remove the whole document')
    parent = _resolve(document, path[:-1])
    _resolve(document, path)
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        del parent[int(path[-1])]
    return document


# ------------------------------------------------------- strategic merge patch

def strategic_merge_patch(target, patch):
    if not isinstance(patch, dict):
        raise ValueError('a strategic merge patch must be a JSON object')
    return _merge_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch, ())


def _merge_key(path, name):
    """The key a list field merges by, given the field names above it; None means replace the list."""
    if name == 'ports':
        return 'containerPort' if len(path) >= 1 and path[-1] in CONTAINER_LISTS else 'port'
    return MERGE_KEYS.get(name)


def _merge_map(result, patch, path):
    strategy = patch.get('$patch')
    if strategy == 'replace':
        return dict((key, value) for key, value in patch.items() if key != '$patch')
    if strategy == 'delete':
        return None
    for key, value in patch.items():
        if key.startswith('$') and key != '$patch' and not key.startswith((ORDER, DELETE_FROM, '$retainKeys')):
            raise ValueError('unknown strategic merge patch directive {0!r}'.format(key))
        if key.startswith('$'):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            merged = _merge_map(result[key], value, path + (key,))
            if merged is None:
                result.pop(key)
            else:
                result[key] = merged
        elif isinstance(value, dict):
            merged = _merge_map({}, value, path + (key,))
            if merged is not None:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, path, key)
            if not result[key]:
                del result[key]     # a typed object never shows an empty list
        else:
            result[key] = _strip_directives(copy.deepcopy(value))
    _apply_map_directives(result, patch, path)
    return result


def _apply_map_directives(result, patch, path):
    for key, value in patch.items():
        if key.startswith(DELETE_FROM):
            name = key[len(DELETE_FROM):]
            result[name] = [item for item in result.get(name) or () if item not in value]
        elif key.startswith(ORDER):
            name = key[len(ORDER):]
            if isinstance(result.get(name), list):
                result[name] = _reorder(result[name], value, _merge_key(path, name))
    if isinstance(patch.get('$retainKeys'), list):
        for key in list(result):
            if key not in patch['$retainKeys']:
                del result[key]


def _merge_list(current, patch, path, name):
    key = _merge_key(path, name)
    if name in SCALAR_SETS:
        return current + [item for item in patch if item not in current]
    if key is None or not all(isinstance(item, dict) for item in patch):
        return _strip_directives(copy.deepcopy(patch))
    if any(item.get('$patch') == 'replace' for item in patch):
        return [_strip_directives(item) for item in patch if item.get('$patch') != 'replace']
    result = list(current)
    for item in patch:
        position = next((index for index, existing in enumerate(result)
                         if isinstance(existing, dict) and existing.get(key) == item.get(key)), None)
        if item.get('$patch') == 'delete':
            if position is not None:
                del result[position]
        elif position is None:
            result.append(_strip_directives(copy.deepcopy(item)))
        else:
            result[position] = _merge_map(result[position], item, path + (name,))
    return result


def _reorder(items, order, key):
    """Items in the order the patch lists them; items it does not list keep their place after those."""
    wanted = [entry.get(key) if isinstance(entry, dict) else entry for entry in order]

    def identity(item):
        return item.get(key) if isinstance(item, dict) and key else item

    listed = sorted((item for item in items if identity(item) in wanted), key=lambda item: wanted.index(identity(item)))
    return listed + [item for item in items if identity(item) not in wanted]


def _strip_directives(value):
    if isinstance(value, dict):
        return dict((key, _strip_directives(item)) for key, item in value.items() if not key.startswith('$'))
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return value
