"""The HTTP APIs of the lab's own monitoring service (aiohttp apps, one per port): VictoriaLogs' query and
ingestion API, Grafana's health and search, the control API, and the answer in place of a real component
that is not installed."""

import json
import time

from aiohttp import web

from lab.monitoring import grafana
from lab.monitoring.api_calls import COMPONENTS, parse_calls
from lab.monitoring.faults import FaultError, known
from lab.monitoring.logsql import LogsQLError
from lab.monitoring.logstore import IngestError, parse_bound, public

MAX_BODY = 64 * 1024 * 1024
PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8'


class FaultNotApplied(Exception):
    """A fault's change to a process failed (the exporter did not come back, ...); the message says why."""


# ------------------------------------------------------------------ VictoriaLogs

def logs_app(lab):
    async def query(request):
        params = dict(request.query)
        if request.method == 'POST':
            params.update(await request.post())
        try:
            limit = int(params['limit']) if params.get('limit') else None
            now = time.time()
            start, end = parse_bound(params.get('start'), now), parse_bound(params.get('end'), now)
            entries = lab.logs.query(params.get('query', ''), limit=limit, start=start, end=end)
        except (ValueError, LogsQLError) as err:
            return web.Response(status=400, text='cannot execute query [{0}]: {1}\n'.format(params.get('query'), err))
        body = ''.join(json.dumps(public(entry)) + '\n' for entry in entries)
        return web.Response(text=body, content_type='application/stream+json')

    async def insert(request):
        def option(name, default):
            header = 'VL-' + name.strip('_').replace('_', '-').title()
            return request.query.get(name) or request.headers.get(header) or default
        fields = [name.strip() for name in option('_stream_fields', '').split(',') if name.strip()]
        try:
            lab.ingest_logs(await request.read(), stream_fields=fields, msg_field=option('_msg_field', '_msg'),
                            time_field=option('_time_field', '_time'))
        except IngestError as err:
            return web.Response(status=400, text='cannot read the JSON lines: {0}\n'.format(err))
        return web.Response()

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route('GET', '/select/logsql/query', query)
    app.router.add_route('POST', '/select/logsql/query', query)
    app.router.add_post('/insert/jsonline', insert)
    app.router.add_get('/health', ok)
    return app


async def ok(request):
    return web.Response(text='OK')


# ----------------------------------------------------------------------- Grafana

def grafana_app(lab):
    async def health(request):
        status, body = grafana.health(database_ok=not lab.has_fault('grafana-down'))
        return web.json_response(body, status=status)

    async def search(request):
        if lab.has_fault('grafana-down'):
            return web.json_response({'message': 'Search failed'}, status=500)
        hits = grafana.search(kind=request.query.get('type'), query=request.query.get('query', ''),
                              tags=request.query.getall('tag', []))
        return web.json_response(hits)

    app = web.Application()
    app.router.add_get('/api/health', health)
    app.router.add_get('/api/search', search)
    return app


# ------------------------------------------------------------------- control API

def control_app(lab, component_status):
    """component_status() -> {component: "running" | "stopped" | "unavailable"}."""
    async def health(request):
        return web.json_response({'status': 'ok', 'components': component_status()})

    async def faults(request):
        return web.json_response({'known': known(), 'active': lab.active_faults()})

    async def set_fault(request):
        body = await read_json(request, default={})
        value = body.get('value', '') if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise bad_request('the body must be {"value": "..."} or empty')
        return await change(lambda: lab.set_fault(request.match_info['name'], value))

    async def clear_fault(request):
        return await change(lambda: lab.clear_fault(request.match_info['name']))

    async def clear_all(request):
        return await change(lab.clear_all)

    async def change(action):
        try:
            await action()
        except FaultError as err:
            raise bad_request(str(err))
        except FaultNotApplied as err:
            return web.json_response({'error': str(err), 'active': lab.active_faults()}, status=500)
        return web.json_response({'active': lab.active_faults()})

    async def api_calls(request):
        try:
            component, calls = parse_calls(await read_json(request))
        except ValueError as err:
            raise bad_request(str(err))
        for call in calls:
            lab.calls[component].record(*call)
        return web.json_response({'recorded': len(calls)})

    async def metrics(request):
        component = request.match_info['component']
        if component not in COMPONENTS:
            raise web.HTTPNotFound(text='no metrics for {0!r}; components: {1}\n'.format(
                component, ', '.join(COMPONENTS)))
        return web.Response(body=lab.calls[component].exposition().encode(), headers={'Content-Type': PROMETHEUS_TEXT})

    async def receive_alerts(request):
        alerts = await read_json(request)
        if not isinstance(alerts, list):
            raise bad_request('the body must be a list of alerts')
        lab.receive_alerts(alerts)
        return web.Response()

    async def alerts(request):
        return web.json_response({'alerts': lab.alerts})

    app = web.Application()
    app.router.add_get('/health', health)
    app.router.add_get('/faults', faults)
    app.router.add_put('/faults/{name}', set_fault)
    app.router.add_delete('/faults/{name}', clear_fault)
    app.router.add_delete('/faults', clear_all)
    app.router.add_post('/api-calls', api_calls)
    app.router.add_get('/metrics/{component}', metrics)
    # vmalert's notifier: the Alertmanager v2 API it posts to, and what it posted.
    app.router.add_post('/alertmanager/api/v2/alerts', receive_alerts)
    app.router.add_get('/alerts', alerts)
    return app


async def read_json(request, default=None):
    if not request.can_read_body:
        if default is None:
            raise bad_request('the body must be JSON')
        return default
    try:
        return json.loads(await request.text())
    except ValueError:
        raise bad_request('the body is not JSON') from None


def bad_request(message):
    return web.HTTPBadRequest(text=json.dumps({'error': message}), content_type='application/json')


# ---------------------------------------------------- a component not installed

def unavailable_app(reasons):
    """Every path answers 503 naming what is missing: a check against it fails, it never passes."""
    message = 'monitoring backend unavailable: ' + '; '.join(reasons)

    async def unavailable(request):
        return web.json_response({'status': 'error', 'errorType': 'unavailable', 'error': message}, status=503)

    app = web.Application()
    app.router.add_route('*', '/{path:.*}', unavailable)
    return app
