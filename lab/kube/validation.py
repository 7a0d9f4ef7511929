"""What the API server refuses with 422 Invalid: causes as (field, reason, message) tuples.

Metadata rules apply to every kind; a few kinds add the checks clients most often trip over. Schemas
of custom resources (openAPIV3Schema) are not enforced.
"""

import re

from .selectors import LABEL_KEY, LABEL_VALUE, from_object

SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
SUBDOMAIN_TEXT = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_TEXT = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
WORKLOADS = ('Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet')


def _invalid(field, value, message):
    return (field, 'FieldValueInvalid', 'Invalid value: "{0}": {1}'.format(value, message))


def _required(field, message='Required value'):
    return (field, 'FieldValueRequired', message)


def name_problem(rule, name):
    """Why name breaks the kind's naming rule, or None."""
    if rule == 'path':
        if name in ('.', '..') or '/' in name or '%' in name:
            return 'may not be "." or "..", and may not contain "/" or "%"'
        return None
    if rule == 'label':
        return None if len(name) <= 63 and LABEL.match(name) else LABEL_TEXT
    return None if len(name) <= 253 and SUBDOMAIN.match(name) else SUBDOMAIN_TEXT


def metadata_causes(rtype, obj):
    meta = obj.get('metadata') or {}
    causes = []
    name = meta.get('name')
    if not name:
        causes.append(_required('metadata.name', 'Required value: name or generateName is required'))
    elif problem := name_problem(rtype.name_rule, name):
        causes.append(_invalid('metadata.name', name, problem))
    for key, value in (meta.get('labels') or {}).items():
        if not LABEL_KEY.match(key):
            causes.append(_invalid('metadata.labels', key, 'a valid label key must be a qualified name'))
        elif not isinstance(value, str) or not LABEL_VALUE.match(value):
            causes.append(_invalid('metadata.labels', value, 'a valid label must be an empty string or consist of '
                                   'alphanumeric characters, \'-\', \'_\' or \'.\', 63 characters at most'))
    for key, value in (meta.get('annotations') or {}).items():
        if not LABEL_KEY.match(key):
            causes.append(_invalid('metadata.annotations', key, 'a valid annotation key must be a qualified name'))
        elif not isinstance(value, str):
            causes.append(_invalid('metadata.annotations', key, 'annotation values must be strings'))
    return causes


def _pod_spec_causes(spec, field):
    containers = (spec or {}).get('containers')
    if not containers:
        return [_required(field + '.containers')]
    causes = []
    for index, container in enumerate(containers):
        where = '{0}.containers[{1}]'.format(field, index)
        if not container.get('name'):
            causes.append(_required(where + '.name'))
        if not container.get('image'):
            causes.append(_required(where + '.image'))
    return causes


def _workload_causes(obj):
    spec = obj.get('spec') or {}
    template = spec.get('template') or {}
    selector = spec.get('selector')
    if not selector:
        return [_required('spec.selector')]
    labels = (template.get('metadata') or {}).get('labels') or {}
    causes = _pod_spec_causes(template.get('spec'), 'spec.template.spec')
    if not from_object(selector).matches(labels):
        causes.append(_invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'))
    return causes


def _job_causes(obj):
    template = (obj.get('spec') or {}).get('template') or {}
    causes = _pod_spec_causes(template.get('spec'), 'spec.template.spec')
    if (template.get('spec') or {}).get('restartPolicy') not in ('Never', 'OnFailure'):
        causes.append(_required('spec.template.spec.restartPolicy',
                                'Required value: valid values: "OnFailure", "Never"'))
    return causes


def _crd_causes(obj):
    spec = obj.get('spec') or {}
    names = spec.get('names') or {}
    group, plural = spec.get('group') or '', names.get('plural') or ''
    causes = []
    if '.' not in group:
        causes.append(_invalid('spec.group', group, 'should be a domain with at least one dot'))
    for field in ('plural', 'kind'):
        if not names.get(field):
            causes.append(_required('spec.names.' + field))
    if obj['metadata'].get('name') != '{0}.{1}'.format(plural, group):
        causes.append(_invalid('metadata.name', obj['metadata'].get('name'),
                               'must be spec.names.plural+"."+spec.group'))
    if spec.get('scope') not in ('Namespaced', 'Cluster'):
        causes.append(_invalid('spec.scope', spec.get('scope'), 'must be Namespaced or Cluster'))
    versions = spec.get('versions') or []
    if not any(version.get('served') for version in versions):
        causes.append(_invalid('spec.versions', len(versions), 'must have at least one served version'))
    if sum(1 for version in versions if version.get('storage')) != 1:
        causes.append(_invalid('spec.versions', len(versions), 'must have exactly one version marked as storage'))
    if any(not version.get('name') for version in versions):
        causes.append(_required('spec.versions[].name'))
    return causes


def causes(rtype, obj):
    """Every reason obj may not be stored as rtype (empty when it may)."""
    found = metadata_causes(rtype, obj)
    if rtype.custom:
        return found
    if rtype.kind == 'Pod':
        found += _pod_spec_causes(obj.get('spec'), 'spec')
    elif rtype.kind in WORKLOADS:
        found += _workload_causes(obj)
    elif rtype.kind == 'Job':
        found += _job_causes(obj)
    elif rtype.kind == 'CustomResourceDefinition':
        found += _crd_causes(obj)
    return found
