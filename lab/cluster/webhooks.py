"""CAPMOX's validation of ProxmoxMachines and ProxmoxMachineTemplates, as the API server applies it: `format` is
only valid for a full clone (the CRD rule "Must set full=true when specifying format"). With the fault
`capmox-webhook-broken` nothing is checked.
"""

from lab.kube.errors import ApiError

from .crds import INFRA

FULL_CLONE_RULE = 'Must set full=true when specifying format'


def capmox_validator(faults):
    """A Store validator (rtype, obj) that refuses a linked clone with a format, with 422 Invalid."""
    def check(rtype, obj):
        if rtype.group != INFRA or faults.active('capmox-webhook-broken'):
            return
        if rtype.kind == 'ProxmoxMachine':
            spec, field = obj.get('spec') or {}, 'spec'
        elif rtype.kind == 'ProxmoxMachineTemplate':
            spec, field = ((obj.get('spec') or {}).get('template') or {}).get('spec') or {}, 'spec.template.spec'
        else:
            return
        if spec.get('format') and spec.get('full') is False:
            raise invalid(rtype, obj['metadata'].get('name', ''), field, FULL_CLONE_RULE)
    return check


def invalid(rtype, name, field, rule):
    """The API server's 422 for a failed CRD validation rule."""
    cause = 'Invalid value: "object": {0}'.format(rule)
    return ApiError(422, '{0}.{1} "{2}" is invalid: {3}: {4}'.format(rtype.kind, rtype.group, name, field, cause),
                    details={'name': name, 'group': rtype.group, 'kind': rtype.kind,
                             'causes': [{'reason': 'FieldValueInvalid', 'message': cause, 'field': field}]})
