"""What the lab's control APIs share: JSON answers, and errors as {"error": message} with their status."""

import json

from aiohttp import web


def answer(data, status=200):
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, sort_keys=True))


def error_middleware(client_errors):
    """A middleware answering the client_errors (exception classes) with 400 and HTTP errors with their status."""
    @web.middleware
    async def errors(request, handler):
        try:
            return await handler(request)
        except client_errors as err:
            return answer({'error': str(err)}, 400)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return answer({'error': '{0} {1}'.format(exc.status, exc.reason)}, exc.status)
    return errors
