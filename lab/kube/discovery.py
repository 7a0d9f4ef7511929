"""Discovery documents (/api, /apis, /apis/<g>/<v>, aggregated discovery) and the OpenAPI v3 index.

The OpenAPI v3 documents list one PATCH operation per kind, with the query parameters the server takes
(kubectl reads them to decide it may ask for server-side field validation); they carry no schemas, so
`kubectl explain` has nothing to show and `kubectl apply` merges with its built-in knowledge of the kinds.
"""

import hashlib
import json

from .kinds import SUBRESOURCE_VERBS, VERBS

AGGREGATED_VERSIONS = ('v2', 'v2beta1')
PATCH_PARAMETERS = ('dryRun', 'fieldManager', 'fieldValidation', 'force')


def _group_version(group, version):
    return '{0}/{1}'.format(group, version) if group else version


def api_versions(server_address):
    return {'kind': 'APIVersions', 'versions': ['v1'],
            'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': server_address}]}


def _group(name, versions):
    listed = [{'groupVersion': _group_version(name, version), 'version': version} for version in versions]
    return {'name': name, 'versions': listed, 'preferredVersion': listed[0]}


def group_list(catalog):
    return {'kind': 'APIGroupList', 'apiVersion': 'v1',
            'groups': [_group(name, versions) for name, versions in catalog.groups().items() if name]}


def api_group(catalog, name):
    """The APIGroup document of a group, or None if it is not served."""
    versions = catalog.groups().get(name)
    return dict(kind='APIGroup', apiVersion='v1', **_group(name, versions)) if versions and name else None


def _subresource_verbs(name):
    return ['get'] if name == 'log' else list(SUBRESOURCE_VERBS)


def resource_list(catalog, group, version):
    """The APIResourceList of a group version, or None if it is not served."""
    types = catalog.types(group, version)
    if not types:
        return None
    resources = []
    for rtype in types:
        entry = {'name': rtype.plural, 'singularName': rtype.singular_name, 'namespaced': rtype.namespaced,
                 'kind': rtype.kind, 'verbs': list(VERBS)}
        if rtype.short_names:
            entry['shortNames'] = list(rtype.short_names)
        if rtype.categories:
            entry['categories'] = list(rtype.categories)
        resources.append(entry)
        for name, (sub_group, sub_version, sub_kind) in rtype.subresources():
            entry = {'name': '{0}/{1}'.format(rtype.plural, name), 'singularName': '', 'namespaced': rtype.namespaced,
                     'kind': sub_kind, 'verbs': _subresource_verbs(name)}
            if (sub_group, sub_version) != (group, version):
                entry.update(group=sub_group, version=sub_version)
            resources.append(entry)
    return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': _group_version(group, version),
            'resources': resources}


def _aggregated_resource(rtype):
    entry = {'resource': rtype.plural,
             'responseKind': {'group': rtype.group, 'version': rtype.version, 'kind': rtype.kind},
             'scope': 'Namespaced' if rtype.namespaced else 'Cluster', 'singularResource': rtype.singular_name,
             'verbs': list(VERBS)}
    if rtype.short_names:
        entry['shortNames'] = list(rtype.short_names)
    if rtype.categories:
        entry['categories'] = list(rtype.categories)
    subresources = [{'subresource': name, 'responseKind': {'group': group, 'version': version, 'kind': kind},
                     'verbs': _subresource_verbs(name)}
                    for name, (group, version, kind) in rtype.subresources()]
    if subresources:
        entry['subresources'] = subresources
    return entry


def aggregated(catalog, core, version='v2'):
    """The APIGroupDiscoveryList of the core group (core=True, for /api) or of the named groups (/apis)."""
    items = []
    for name, versions in catalog.groups().items():
        if (name == '') != core:
            continue
        items.append({'metadata': {'name': name},
                      'versions': [{'version': served,
                                    'resources': [_aggregated_resource(rtype) for rtype in catalog.types(name, served)],
                                    'freshness': 'Current'} for served in versions]})
    return {'kind': 'APIGroupDiscoveryList', 'apiVersion': 'apidiscovery.k8s.io/' + version, 'metadata': {},
            'items': items}


def _item_path(rtype):
    root = '/apis/{0}/{1}'.format(rtype.group, rtype.version) if rtype.group else '/api/' + rtype.version
    scope = '/namespaces/{namespace}' if rtype.namespaced else ''
    return '{0}{1}/{2}/{{name}}'.format(root, scope, rtype.plural)


def openapi_document(catalog, group, version):
    """The OpenAPI v3 document of a group version (PATCH operations only), or None if it is not served."""
    types = catalog.types(group, version)
    if not types:
        return None
    paths = {}
    for rtype in types:
        paths[_item_path(rtype)] = {'patch': {
            'operationId': 'patch{0}'.format(rtype.kind),
            'x-kubernetes-action': 'patch',
            'x-kubernetes-group-version-kind': {'group': rtype.group, 'version': rtype.version, 'kind': rtype.kind},
            'parameters': [{'name': name, 'in': 'query', 'schema': {'type': 'string'}} for name in PATCH_PARAMETERS],
            'responses': {'200': {'description': 'OK'}}}}
    return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes', 'version': 'unversioned'}, 'paths': paths,
            'components': {'schemas': {}}}


def openapi_path(group, version):
    return 'apis/{0}/{1}'.format(group, version) if group else 'api/' + version


def openapi_index(catalog):
    """The /openapi/v3 index: each group version's document path with a hash of its content."""
    paths = {}
    for group, versions in catalog.groups().items():
        for version in versions:
            digest = hashlib.sha256(json.dumps(openapi_document(catalog, group, version), sort_keys=True).encode())
            path = openapi_path(group, version)
            paths[path] = {'serverRelativeURL': '/openapi/v3/{0}?hash={1}'.format(path, digest.hexdigest()[:32])}
    return {'paths': paths}
