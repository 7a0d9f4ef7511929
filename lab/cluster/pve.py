"""PveClient: the Proxmox VE API over HTTPS with an API token, as CAPMOX and the kubelet reach the twin.

The base URL is what a credentials Secret says (`https://host:8006`); the client appends `/api2/json` itself,
as CAPMOX does, so a URL that already ends in `/api2/json` makes every call fail. The token secret never
appears in a message or repr.
"""

import asyncio
import json
import logging
import secrets

import aiohttp

API_PREFIX = '/api2/json'
REQUEST_TIMEOUT = 30.0
log = logging.getLogger('lab.cluster.pve')


class PveError(Exception):
    """A failed call: HTTP status (None when the server was not reached) and the server's message."""

    def __init__(self, method, path, status, message):
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(str(self))

    def __str__(self):
        if self.status is None:
            return '{0} {1}: {2}'.format(self.method, self.path, self.message)
        return '{0} {1}: {2} {3}'.format(self.method, self.path, self.status, self.message)

    @property
    def missing(self):
        """True when the error says the VM (or object) does not exist."""
        return self.status == 404 or 'does not exist' in self.message


def task_node(upid):
    """The node a task runs on: UPID:<node>:..."""
    parts = upid.split(':')
    if len(parts) < 3 or parts[0] != 'UPID':
        raise ValueError('not a Proxmox task id: {0!r}'.format(upid))
    return parts[1]


class PveClient(object):
    """Calls of one token against one Proxmox URL, on a shared aiohttp session (with the lab's CA)."""

    def __init__(self, session, url, token_id, token_secret):
        self._session = session
        self.url = url.rstrip('/')
        self.token_id = token_id
        self._auth = 'PVEAPIToken={0}={1}'.format(token_id, token_secret)

    def __repr__(self):
        return '<PveClient {0} as {1}>'.format(self.url, self.token_id)

    async def call(self, method, path, data=None, params=None, content_type=None):
        """The `data` of the answer; PveError with the status and message otherwise."""
        headers = {'Authorization': self._auth}
        if content_type:
            headers['Content-Type'] = content_type
        try:
            async with self._session.request(method, self.url + API_PREFIX + path, data=data, params=params,
                                             headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as response:
                text = await response.text()
                if response.status != 200:
                    raise PveError(method, path, response.status, _message(response.reason, text))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise PveError(method, path, None, 'cannot reach {0}: {1}'.format(
                self.url, str(err) or type(err).__name__)) from None
        try:
            return json.loads(text)['data']
        except (ValueError, KeyError, TypeError):
            raise PveError(method, path, response.status, 'answer is not PVE JSON: {0!r}'.format(text[:200])) from None

    async def get(self, path, **params):
        return await self.call('GET', path, params=params or None)

    async def post(self, path, **data):
        return await self.call('POST', path, data=data)

    async def put(self, path, **data):
        return await self.call('PUT', path, data=data)

    async def delete(self, path, **params):
        return await self.call('DELETE', path, params=params or None)

    async def task(self, upid):
        """(running, exit status) of a task."""
        status = await self.get('/nodes/{0}/tasks/{1}/status'.format(task_node(upid), upid))
        return status.get('status') == 'running', status.get('exitstatus')

    async def wait(self, upid, pause, timeout=REQUEST_TIMEOUT):
        """The exit status of a task, waited for (a short task such as an upload); PveError after `timeout` s."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            running, exit_status = await self.task(upid)
            if not running:
                return exit_status
            if asyncio.get_running_loop().time() > deadline:
                raise PveError('GET', '/nodes/{0}/tasks/{1}/status'.format(task_node(upid), upid), None,
                               'task still running after {0:g} s'.format(timeout))
            await asyncio.sleep(pause)

    async def upload_iso(self, node, storage, filename, content):
        """POST .../upload of an ISO image (multipart/form-data, as the web UI sends it); the task's UPID."""
        boundary = 'proxqa-' + secrets.token_hex(12)
        body = ('--{0}\r\nContent-Disposition: form-data; name="content"\r\n\r\niso\r\n'
                '--{0}\r\nContent-Disposition: form-data; name="filename"; filename="{1}"\r\n'
                'Content-Type: application/octet-stream\r\n\r\n').format(boundary, filename).encode()
        body += content + '\r\n--{0}--\r\n'.format(boundary).encode()
        return await self.call('POST', '/nodes/{0}/storage/{1}/upload'.format(node, storage), data=body,
                               content_type='multipart/form-data; boundary=' + boundary)


def _message(reason, text):
    """PVE's own message from an error body ({"message": ..., "errors": {...}}), else the HTTP reason."""
    try:
        body = json.loads(text)
    except ValueError:
        return reason
    if not isinstance(body, dict):
        return reason
    message = (body.get('message') or reason).strip()
    details = body.get('errors')
    if isinstance(details, dict) and details:
        message += ' ' + '; '.join('{0}: {1}'.format(key, value.strip()) for key, value in sorted(details.items()))
    return message
