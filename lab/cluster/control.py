"""The control API of `python -m lab.cluster`: plain HTTP and JSON on loopback, in the twin's shapes.

    GET    /health            the process runs; its API servers
    GET    /faults            the known faults (name, value format, description) and the active ones
    PUT    /faults/{name}     set a fault (body empty, or {"value": ...}; these faults take no value)
    DELETE /faults/{name}     clear one fault
    DELETE /faults            clear every fault

Errors are {"error": message} with status 400 (unknown fault, a value) or 404.
"""

import json

from aiohttp import web

from lab.control_http import answer, error_middleware

from .faults import FaultError


class ControlApi(object):
    def __init__(self, faults, health):
        self.faults = faults
        self._health = health      # () -> dict for /health

    def app(self):
        app = web.Application(middlewares=[error_middleware(FaultError)])
        app.router.add_get('/health', self.health)
        app.router.add_get('/faults', self.list_faults)
        app.router.add_put('/faults/{name}', self.set_fault)
        app.router.add_delete('/faults/{name}', self.clear_fault)
        app.router.add_delete('/faults', self.clear_faults)
        return app

    async def health(self, request):
        return answer(dict(self._health(), status='ok'))

    def _active(self):
        return answer({'active': self.faults.listing()})

    async def list_faults(self, request):
        return answer({'known': self.faults.known(), 'active': self.faults.listing()})

    async def set_fault(self, request):
        body = await request.read()
        try:
            value = json.loads(body).get('value') if body.strip() else None
        except (ValueError, AttributeError):
            raise FaultError('the body must be empty or a JSON object like {"value": "..."}') from None
        self.faults.set(request.match_info['name'], '' if value is None else str(value))
        return self._active()

    async def clear_fault(self, request):
        self.faults.clear(request.match_info['name'])
        return self._active()

    async def clear_faults(self, request):
        self.faults.clear_all()
        return self._active()


async def start_control(api, host):
    """Serve the control API on http://host:<free port>; (runner, url)."""
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, 'http://{0}:{1}'.format(host, port)
