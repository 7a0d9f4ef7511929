"""KubeServer: a Store served over HTTPS on one loopback address, with a kubeconfig written for clients."""

import ipaddress
import os
import secrets
import socket
import ssl

from aiohttp import web

from .api import ApiServer
from .credentials import kubeconfig_text, make_tls, write_kubeconfig

SHUTDOWN_GRACE = 2.0    # seconds open requests (a followed log) get to finish when the server stops


def check_loopback(host):
    """host if it is an IPv4 loopback address (127.0.0.x); ValueError otherwise."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError('the API server binds loopback addresses only (127.0.0.x), not {0!r}'.format(host))
    return host


class KubeServer(object):
    """Serves store at https://host:port (port 0: any free port) until stop().

    start() writes into state_dir: <name>-ca.crt, the server's certificate and key, and <name>.kubeconfig
    holding a bearer token made for this run. Controllers in the same process use `store` directly.
    """

    def __init__(self, store, host, port, state_dir, name='mgmt'):
        self.store = store
        self.host = check_loopback(host)
        self.port = port
        self.state_dir = state_dir
        self.name = name
        self.url = None
        self.kubeconfig = os.path.join(state_dir, name + '.kubeconfig')
        self._token = secrets.token_urlsafe(32)
        self._runner = None
        self.request_log = None     # the clients' requests (lab.request_log.RequestLog), once started

    def __repr__(self):
        return '<KubeServer {0} {1}>'.format(self.name, self.url or 'stopped')

    async def start(self):
        """Listen; OSError (EADDRINUSE) when the address is taken."""
        ca_pem, cert_path, key_path = make_tls(self.state_dir, self.host, self.name)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        context.set_alpn_protocols(['http/1.1'])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self.url = 'https://{0}:{1}'.format(self.host, self.port)
        api = ApiServer(self.store, self._token, '{0}:{1}'.format(self.host, self.port))
        self.request_log = api.request_log
        self._runner = web.AppRunner(api.app(), access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
        await self._runner.setup()
        await web.SockSite(self._runner, listener, ssl_context=context).start()
        write_kubeconfig(self.kubeconfig, self.kubeconfig_text())
        return self.url

    def kubeconfig_text(self, namespace='default'):
        """The kubeconfig of this server (what CozyStack's admin kubeconfig Secret holds for a tenant)."""
        with open(os.path.join(self.state_dir, self.name + '-ca.crt'), 'rb') as ca:
            return kubeconfig_text(self.name, self.url, ca.read(), self._token, namespace)

    async def stop(self):
        """End open watches, then close the listener and connections."""
        self.store.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
