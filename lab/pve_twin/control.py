"""The lab's control API: plain HTTP and JSON on the twin's loopback address, for the suite's own tests
and for people; stage tests never use it.

    GET    /health                  the twin runs; where it listens; its seed
    GET    /faults                  the known faults (name, value format, description), the active ones, and
                                    the names their values take on this lab's seed
    PUT    /faults/{name}           set a fault; body {"value": "..."} or nothing
    DELETE /faults/{name}           clear one fault
    DELETE /faults                  clear every fault
    GET    /requests?since=INDEX    the request log from that index on, and the next index
    DELETE /requests                empty the request log
    GET    /inventory               nodes, storages, VMs, bridges, vnets, identities (never a secret)

Errors are {"error": message} with status 400 (bad fault or value) or 404.
"""

import json
import time

from aiohttp import web

from lab.control_http import answer, error_middleware

from .faults import FaultError, value_names


class BadRequest(ValueError):
    """A request the control API cannot take; the message says what it takes."""


class ControlApi(object):
    def __init__(self, twin):
        self.twin = twin
        self.started = time.time()

    def app(self):
        app = web.Application(middlewares=[error_middleware((FaultError, BadRequest))])
        r = app.router
        r.add_get('/health', self.health)
        r.add_get('/faults', self.faults)
        r.add_put('/faults/{name}', self.set_fault)
        r.add_delete('/faults/{name}', self.clear_fault)
        r.add_delete('/faults', self.clear_faults)
        r.add_get('/requests', self.requests)
        r.add_delete('/requests', self.clear_requests)
        r.add_get('/inventory', self.inventory)
        return app

    async def health(self, request):
        twin = self.twin
        return answer({'status': 'ok', 'pve_url': twin.url, 'pve_listening': twin.listening, 'seed': twin.seed.name,
                       'uptime': round(time.time() - self.started, 1)})

    def _active(self):
        return answer({'active': self.twin.active_faults()})

    async def faults(self, request):
        twin = self.twin
        known = [{'name': fault.name, 'value_format': fault.syntax or None, 'description': fault.description}
                 for fault in twin.faults.values()]
        return answer({'known': known, 'active': twin.active_faults(), 'seed': twin.seed.name,
                       'value_names': value_names(twin.seed)})

    async def set_fault(self, request):
        body = await request.read()
        try:
            value = json.loads(body).get('value') if body.strip() else None
        except (ValueError, AttributeError):
            raise BadRequest('the body must be a JSON object like {"value": "pve1"}, or empty') from None
        if value is not None and not isinstance(value, (str, int, float)):
            raise BadRequest('"value" must be a string; got {0}'.format(json.dumps(value)))
        await self.twin.set_fault(request.match_info['name'], '' if value is None else str(value))
        return self._active()

    async def clear_fault(self, request):
        await self.twin.clear_fault(request.match_info['name'])
        return self._active()

    async def clear_faults(self, request):
        await self.twin.clear_faults()
        return self._active()

    async def requests(self, request):
        since = request.query.get('since', '0')
        if not since.isdigit():
            raise BadRequest('since must be a request index (a whole number >= 0); got {0!r}'.format(since))
        log = self.twin.request_log
        return answer({'requests': log.since(int(since)), 'next': log.next_index})

    async def clear_requests(self, request):
        self.twin.request_log.clear()
        return answer({'next': self.twin.request_log.next_index})

    async def inventory(self, request):
        return answer(self.twin.inventory())


async def start_control(twin, host, port):
    """Serve the control API on http://host:port; returns the runner to clean up."""
    runner = web.AppRunner(ControlApi(twin).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
