"""The HTTP face of a Store: Kubernetes REST paths, content negotiation, watch streams, Status errors.

Everything about objects is the store's business; this module only translates requests and answers.
"""

import asyncio
import base64
import hmac
import json
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from . import discovery, errors, protobuf, tables
from lab.request_log import RequestLog

log = logging.getLogger('lab.kube')

KUBERNETES_VERSION = 'v1.36.0'
PUBLIC_PATHS = ('/healthz', '/livez', '/readyz', '/version')     # readable anonymously, as on a real cluster
LAB_PREFIX = '/lab/'            # the lab's own paths (the request log), for the suite's tests; never logged
BOOKMARK_INTERVAL = 10.0        # seconds between bookmarks on a quiet watch that asked for them
WATCH_TIMEOUT = 1800            # seconds a watch lasts when the client sets no timeoutSeconds
LOG_POLL = 0.2                  # seconds between looks at a followed log
MAX_BODY = 3 * 1024 * 1024      # the API server's request size limit
PATCH_TYPES = {'application/merge-patch+json': 'merge', 'application/json-patch+json': 'json',
               'application/strategic-merge-patch+json': 'strategic', 'application/apply-patch+yaml': 'apply'}
TABLE_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io'
PROTOBUF_TYPE = 'application/vnd.kubernetes.protobuf'
TERMINAL_PHASES = ('Succeeded', 'Failed')
COLLECTION_METHODS = ('GET', 'POST', 'DELETE')
OBJECT_METHODS = ('GET', 'PUT', 'PATCH', 'DELETE')


def dumps(value):
    return json.dumps(value, separators=(',', ':'))


def json_response(body, status=200, content_type='application/json'):
    return web.Response(body=dumps(body).encode(), status=status, headers={'Content-Type': content_type})


def _flag(value):
    return str(value).lower() in ('true', '1')


def _count(query, name, default=None):
    """A non-negative integer query parameter; 400 when it is something else."""
    text = query.get(name)
    if text in (None, ''):
        return default
    if not text.isdigit():
        raise errors.bad_request('{0} must be a non-negative integer, not {1!r}'.format(name, text))
    return int(text)


def _media_types(accept):
    """[(type, {param: value})] of an Accept header, in the order given."""
    found = []
    for entry in (accept or '').split(','):
        parts = [part.strip() for part in entry.split(';')]
        params = dict(part.split('=', 1) for part in parts[1:] if '=' in part)
        found.append((parts[0].lower(), dict((key.strip(), value.strip()) for key, value in params.items())))
    return found


def representation(request):
    """'json', 'table' or 'partial' (PartialObjectMetadata): the first of the Accept header we can give."""
    accept = request.headers.get('Accept')
    if not accept:
        return 'json'
    for media, params in _media_types(accept):
        if media not in ('application/json', '*/*', 'application/*'):
            continue
        wanted = params.get('as')
        if wanted == 'Table' and params.get('g') == 'meta.k8s.io':
            return 'table'
        if wanted in ('PartialObjectMetadata', 'PartialObjectMetadataList') and params.get('g') == 'meta.k8s.io':
            return 'partial'
        if wanted is None:
            return 'json'
    raise errors.ApiError(406, 'only the following media types are accepted: application/json, {0}'.format(TABLE_TYPE))


def aggregated_version(request):
    """The aggregated discovery version (v2, v2beta1) the Accept header asks for first, or None."""
    for media, params in _media_types(request.headers.get('Accept')):
        if media == 'application/json' and params.get('as') == 'APIGroupDiscoveryList' \
                and params.get('g') == 'apidiscovery.k8s.io' and params.get('v') in discovery.AGGREGATED_VERSIONS:
            return params['v']
        if media == 'application/json' and 'as' not in params:
            return None
    return None


@dataclass(frozen=True)
class Target:
    """What a resource path names."""
    rtype: object
    namespace: str
    name: str
    subresource: str
    legacy_watch: bool


def not_found_path():
    return errors.ApiError(404, 'the server could not find the requested resource')


def resolve(catalog, group, version, path):
    """The Target of the part of a path after /api/<v> or /apis/<g>/<v>; 404 when nothing is served there."""
    segments = [segment for segment in path.split('/') if segment]
    legacy_watch = bool(segments) and segments[0] == 'watch'
    if legacy_watch:
        segments = segments[1:]
    namespace = None
    if len(segments) >= 3 and segments[0] == 'namespaces':
        inner = catalog.lookup(group, version, segments[2])
        if inner is not None and inner.namespaced:
            namespace, segments = segments[1], segments[2:]
    if not segments or len(segments) > 3:
        raise not_found_path()
    rtype = catalog.lookup(group, version, segments[0])
    name = segments[1] if len(segments) > 1 else None
    subresource = segments[2] if len(segments) > 2 else None
    if rtype is None or (rtype.namespaced and name and namespace is None):
        raise not_found_path()
    if subresource and subresource not in dict(rtype.subresources()):
        raise not_found_path()
    return Target(rtype, namespace, name, subresource, legacy_watch)


class ApiServer(object):
    """The aiohttp application serving store, for clients presenting token."""

    def __init__(self, store, token, server_address, bookmark_interval=BOOKMARK_INTERVAL):
        self.store = store
        self._token = token.encode()
        self._server_address = server_address
        self._bookmark_interval = bookmark_interval
        self.request_log = RequestLog()

    def app(self):
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        get = app.router.add_get
        for path in ('/healthz', '/livez', '/readyz'):
            get(path, self._health)
        get('/version', self._version)
        get('/version/', self._version)
        for slash in ('', '/'):
            get('/api' + slash, self._core_discovery)
            get('/apis' + slash, self._groups_discovery)
            get('/apis/{group}' + slash, self._group_discovery)
        get('/openapi/v3', self._openapi_index)
        get(LAB_PREFIX + 'requests', self._requests)
        app.router.add_delete(LAB_PREFIX + 'requests', self._clear_requests)
        get('/openapi/v3/{path:.+}', self._openapi_document)
        app.router.add_route('*', '/api/{version}', self._versioned)
        app.router.add_route('*', '/api/{version}/{path:.*}', self._versioned)
        app.router.add_route('*', '/apis/{group}/{version}', self._versioned)
        app.router.add_route('*', '/apis/{group}/{version}/{path:.*}', self._versioned)
        return app

    # --------------------------------------------------------------- plumbing

    @web.middleware
    async def _middleware(self, request, handler):
        started, status = time.time(), None     # None: the client went away before an answer
        try:
            response = await self._answer(request, handler)
            status = response.status
            return response
        finally:
            if not request.path.startswith(LAB_PREFIX):
                # Controllers in this process use the store directly: only clients' requests are logged.
                self.request_log.add({'time': started, 'method': request.method, 'path': request.path,
                                      'status': status, 'seconds': round(time.time() - started, 4),
                                      'user_agent': request.headers.get('User-Agent', '')})

    async def _answer(self, request, handler):
        try:
            if request.path.rstrip('/') not in PUBLIC_PATHS and not self._authorized(request):
                raise errors.ApiError(401, 'Unauthorized')
            return await handler(request)
        except errors.ApiError as err:
            return json_response(err.status(), err.code)
        except web.HTTPNotFound:
            return json_response(not_found_path().status(), 404)
        except web.HTTPMethodNotAllowed as err:
            failure = errors.ApiError(405, 'the server does not allow this method ({0}) on the requested resource'
                                      .format(err.method))
            return json_response(failure.status(), 405)
        except ConnectionResetError:
            raise
        except Exception as err:    # a bug must still answer as the API server would, with a Status
            log.exception('%s %s failed', request.method, request.path)
            failure = errors.ApiError(500, 'internal error: {0}: {1}'.format(type(err).__name__, err))
            return json_response(failure.status(), 500)

    def _authorized(self, request):
        scheme, _space, token = request.headers.get('Authorization', '').partition(' ')
        return scheme.lower() == 'bearer' and hmac.compare_digest(token.strip().encode(), self._token)

    @staticmethod
    async def _body(request):
        """The request body as JSON values: JSON (any patch type too) or client-go's protobuf."""
        media = request.content_type
        raw = await request.read()
        if media == PROTOBUF_TYPE:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as err:
                raise errors.ApiError(415, str(err)) from None
        if request.method != 'PATCH' and media not in ('application/json', 'application/octet-stream'):
            raise errors.ApiError(415, 'the body of the request was in an unknown format {0!r} - accepted media types '
                                       'include: application/json, {1}'.format(media, PROTOBUF_TYPE))
        try:
            return json.loads(raw)
        except ValueError as err:
            if media == 'application/apply-patch+yaml':
                raise errors.ApiError(415, 'this server reads apply patches as JSON only ({0})'.format(err)) from None
            raise errors.bad_request('the body is not valid JSON: {0}'.format(err)) from None

    # -------------------------------------------------------------- discovery

    async def _health(self, request):
        return web.Response(text='ok')

    async def _version(self, request):
        major, minor = KUBERNETES_VERSION[1:].split('.')[:2]
        return json_response({'major': major, 'minor': minor, 'gitVersion': KUBERNETES_VERSION,
                              'gitCommit': 'proxqa-lab', 'gitTreeState': 'clean', 'buildDate': '2026-01-01T00:00:00Z',
                              'goVersion': 'go1.25', 'compiler': 'gc', 'platform': 'linux/amd64'})

    def _aggregated(self, request, core):
        version = aggregated_version(request)
        if version is None:
            return None
        return json_response(discovery.aggregated(self.store.catalog, core, version),
                             content_type='application/json;g=apidiscovery.k8s.io;v={0};as=APIGroupDiscoveryList'
                             .format(version))

    async def _core_discovery(self, request):
        return self._aggregated(request, True) or json_response(discovery.api_versions(self._server_address))

    async def _groups_discovery(self, request):
        return self._aggregated(request, False) or json_response(discovery.group_list(self.store.catalog))

    async def _group_discovery(self, request):
        found = discovery.api_group(self.store.catalog, request.match_info['group'])
        if found is None:
            raise not_found_path()
        return json_response(found)

    async def _openapi_index(self, request):
        return json_response(discovery.openapi_index(self.store.catalog))

    async def _openapi_document(self, request):
        parts = request.match_info['path'].split('/')
        if parts[0] == 'api' and len(parts) == 2:
            found = discovery.openapi_document(self.store.catalog, '', parts[1])
        elif parts[0] == 'apis' and len(parts) == 3:
            found = discovery.openapi_document(self.store.catalog, parts[1], parts[2])
        else:
            found = None
        if found is None:
            raise not_found_path()
        return json_response(found)

    # ------------------------------------------------------------ request log

    async def _requests(self, request):
        """GET /lab/requests?since=INDEX: the requests answered from that index on, and the next index."""
        since = _count(request.query, 'since', 0)
        return json_response({'requests': self.request_log.since(since), 'next': self.request_log.next_index})

    async def _clear_requests(self, request):
        self.request_log.clear()
        return json_response({'next': self.request_log.next_index})

    # -------------------------------------------------------------- resources

    async def _versioned(self, request):
        group = request.match_info.get('group', '')
        version = request.match_info['version']
        path = request.match_info.get('path', '')
        if not path.strip('/'):
            if request.method != 'GET':
                raise errors.ApiError(405, 'only GET is allowed on a discovery document')
            found = discovery.resource_list(self.store.catalog, group, version)
            if found is None:
                raise not_found_path()
            return json_response(found)
        target = resolve(self.store.catalog, group, version, path)
        query = request.query
        if request.method == 'GET' and target.subresource == 'log':
            return await self._log(request, target)
        if request.method == 'GET' and target.name is None:
            if target.legacy_watch or _flag(query.get('watch', '')):
                return await self._watch(request, target)
            return self._list(request, target)
        if request.method not in (COLLECTION_METHODS if target.name is None else OBJECT_METHODS):
            raise errors.ApiError(405, 'the server does not allow this method ({0}) on the requested resource'.format(
                request.method))
        handler = {'GET': self._get, 'POST': self._create, 'PUT': self._update, 'PATCH': self._patch,
                   'DELETE': self._delete}[request.method]
        return await handler(request, target)

    def _object_response(self, request, target, obj, status=200):
        """obj as the request asked for it: under the requested version, as a Table or metadata only."""
        obj['apiVersion'] = target.rtype.api_version
        wanted = representation(request)
        if wanted == 'table':
            include = request.query.get('includeObject', 'Metadata')
            return json_response(tables.table(target.rtype, [obj], obj['metadata'].get('resourceVersion', ''), include),
                                 status, TABLE_TYPE)
        if wanted == 'partial':
            return json_response({'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1',
                                  'metadata': obj['metadata']}, status)
        return json_response(obj, status)

    async def _get(self, request, target):
        if target.subresource == 'scale':
            return json_response(self.store.scale(target.rtype, target.name, target.namespace))
        return self._object_response(request, target, self.store.get(target.rtype, target.name, target.namespace))

    def _list(self, request, target):
        query = request.query
        items, version = self.store.list(target.rtype, target.namespace, query.get('labelSelector', ''),
                                         query.get('fieldSelector', ''))
        items, meta = _page(items, version, _count(query, 'limit'), query.get('continue'))
        for item in items:
            item['apiVersion'] = target.rtype.api_version
        wanted = representation(request)
        if wanted == 'table':
            body = tables.table(target.rtype, items, version, query.get('includeObject', 'Metadata'))
            body['metadata'] = meta
            return json_response(body, content_type=TABLE_TYPE)
        if wanted == 'partial':
            return json_response({'kind': 'PartialObjectMetadataList', 'apiVersion': 'meta.k8s.io/v1',
                                  'metadata': meta, 'items': [{'kind': 'PartialObjectMetadata',
                                                               'apiVersion': 'meta.k8s.io/v1',
                                                               'metadata': item['metadata']} for item in items]})
        return json_response({'kind': target.rtype.list_kind, 'apiVersion': target.rtype.api_version,
                              'metadata': meta, 'items': items})

    async def _create(self, request, target):
        obj = self.store.create(target.rtype, await self._body(request), target.namespace,
                                dry_run=_dry_run(request))
        return self._object_response(request, target, obj, 201)

    async def _update(self, request, target):
        body = await self._body(request)
        if target.subresource == 'scale':
            return json_response(self.store.update_scale(target.rtype, target.name, body, target.namespace,
                                                         _dry_run(request)))
        obj = self.store.update(target.rtype, body, target.namespace, target.subresource, _dry_run(request),
                                target.name)
        return self._object_response(request, target, obj)

    async def _patch(self, request, target):
        patch_type = PATCH_TYPES.get(request.content_type)
        if patch_type is None:
            raise errors.ApiError(415, 'the body of the request was in an unknown format {0!r} - accepted media types '
                                       'include: {1}'.format(request.content_type, ', '.join(PATCH_TYPES)))
        body = await self._body(request)
        if patch_type == 'apply' and target.subresource is None:
            obj, created = self.store.apply(target.rtype, target.name, body, target.namespace, _dry_run(request))
            return self._object_response(request, target, obj, 201 if created else 200)
        if patch_type == 'apply':
            patch_type = 'merge'
        obj = self.store.patch(target.rtype, target.name, body, patch_type, target.namespace, target.subresource,
                               _dry_run(request))
        if target.subresource == 'scale':
            return json_response(obj)
        return self._object_response(request, target, obj)

    async def _delete(self, request, target):
        options = await self._delete_options(request)
        query = request.query
        propagation = options.get('propagationPolicy') or query.get('propagationPolicy')
        if propagation is None and _flag(options.get('orphanDependents', query.get('orphanDependents', ''))):
            propagation = 'Orphan'
        dry_run = _dry_run(request) or 'All' in (options.get('dryRun') or ())
        if target.name is None:
            items = self.store.delete_collection(target.rtype, target.namespace, query.get('labelSelector', ''),
                                                 query.get('fieldSelector', ''), propagation, dry_run)
            return json_response({'kind': target.rtype.list_kind, 'apiVersion': target.rtype.api_version,
                                  'metadata': {'resourceVersion': self.store.resource_version}, 'items': items})
        obj, gone = self.store.delete(target.rtype, target.name, target.namespace, propagation,
                                      options.get('preconditions'), dry_run)
        return self._object_response(request, target, obj, 200 if gone else 202)

    async def _delete_options(self, request):
        if not request.can_read_body or not (await request.read()).strip():
            return {}
        options = await self._body(request)
        if not isinstance(options, dict):
            raise errors.bad_request('the DeleteOptions body must be a JSON object')
        return options

    # ------------------------------------------------------------------ watch

    async def _watch(self, request, target):
        query = request.query
        timeout = _count(query, 'timeoutSeconds') or WATCH_TIMEOUT
        bookmarks = _flag(query.get('allowWatchBookmarks', ''))
        wanted = representation(request)
        response = web.StreamResponse(headers={'Content-Type': TABLE_TYPE if wanted == 'table' else 'application/json'})
        response.enable_chunked_encoding()
        try:
            watch = self.store.watch(target.rtype, target.namespace, query.get('labelSelector', ''),
                                     query.get('fieldSelector', ''), query.get('resourceVersion'),
                                     _flag(query.get('sendInitialEvents', '')))
        except errors.ApiError as err:
            if err.code != 410:
                raise
            await response.prepare(request)
            await response.write((dumps({'type': 'ERROR', 'object': err.status()}) + '\n').encode())
            return response
        await response.prepare(request)
        stream = _WatchStream(response, target.rtype, wanted, query.get('includeObject', 'Metadata'))
        try:
            await self._pump(watch, stream, timeout, bookmarks)
        except ConnectionError:
            pass    # the client went away
        finally:
            watch.close()
        return response

    async def _pump(self, watch, stream, timeout, bookmarks):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_bookmark = loop.time()
        while True:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                event = await watch.next(min(left, self._bookmark_interval))
            except StopAsyncIteration:
                return
            if event is None:
                if bookmarks and loop.time() - last_bookmark >= self._bookmark_interval:
                    await stream.bookmark(self.store.bookmark(watch.rtype))
                    last_bookmark = loop.time()
            elif event.type != 'BOOKMARK' or bookmarks:
                await stream.send(event)
        if bookmarks:
            await stream.bookmark(self.store.bookmark(watch.rtype))

    # -------------------------------------------------------------------- log

    async def _log(self, request, target):
        query = request.query
        container = query.get('container') or None
        text = _tail(self.store.read_log(target.namespace, target.name, container), query)
        if not _flag(query.get('follow', '')):
            return web.Response(text=text, content_type='text/plain')
        response = web.StreamResponse(headers={'Content-Type': 'text/plain'})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(text.encode())
        sent = len(self.store.read_log(target.namespace, target.name, container))
        while True:
            await asyncio.sleep(LOG_POLL)
            try:
                pod = self.store.get(target.rtype, target.name, target.namespace)
                text = self.store.read_log(target.namespace, target.name, container)
            except errors.ApiError:
                break
            if len(text) > sent:
                await response.write(text[sent:].encode())
                sent = len(text)
            if (pod.get('status') or {}).get('phase') in TERMINAL_PHASES:
                break
        return response


class _WatchStream(object):
    """Writes watch events as newline-delimited JSON in the representation the client asked for."""

    def __init__(self, response, rtype, wanted, include):
        self._response = response
        self._rtype = rtype
        self._wanted = wanted
        self._include = include
        self._headers_sent = False

    async def send(self, event):
        obj = event.object
        obj['apiVersion'] = self._rtype.api_version
        if event.type == 'BOOKMARK':
            shown = obj
        elif self._wanted == 'table':
            shown = tables.table(self._rtype, [obj], obj['metadata'].get('resourceVersion', ''), self._include,
                                 headers=not self._headers_sent)
            self._headers_sent = True
        elif self._wanted == 'partial':
            shown = {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1', 'metadata': obj['metadata']}
        else:
            shown = obj
        await self._response.write((dumps({'type': event.type, 'object': shown}) + '\n').encode())

    async def bookmark(self, obj):
        await self._response.write((dumps({'type': 'BOOKMARK', 'object': obj}) + '\n').encode())


def _dry_run(request):
    return 'All' in request.query.getall('dryRun', [])


def _page(items, version, limit, token):
    """(the items of one page, the list metadata) for limit and continue; a token is the last key sent."""
    start = 0
    if token:
        try:
            after = tuple(json.loads(base64.urlsafe_b64decode(token.encode())))
            start = next((index for index, item in enumerate(items) if _item_key(item) > after), len(items))
        except (ValueError, TypeError):
            raise errors.bad_request('invalid continue token {0!r}'.format(token)) from None
    meta = {'resourceVersion': version}
    if not limit:
        return items[start:], meta
    end = start + limit
    if end < len(items):
        meta['continue'] = base64.urlsafe_b64encode(json.dumps(_item_key(items[end - 1])).encode()).decode()
        meta['remainingItemCount'] = len(items) - end
    return items[start:end], meta


def _item_key(item):
    return (item['metadata'].get('namespace', ''), item['metadata']['name'])


def _tail(text, query):
    lines = _count(query, 'tailLines')
    if lines is not None:
        kept = text.splitlines(keepends=True)
        text = ''.join(kept[len(kept) - lines:]) if lines else ''
    limit = _count(query, 'limitBytes')
    return text if limit is None else text[:limit]
