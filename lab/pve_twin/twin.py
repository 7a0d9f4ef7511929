"""PveTwin: fakepve's FakePve seeded as a lab cluster (seed.py), with what stages 1 and 2 read, the VM life
cycle controllers drive (vms.py) and the lab's faults.

Added routes go through fakepve's `_routes_*` tables, so the schema's parameter and permission checks
apply to them as to fakepve's own. Faults are set by name (faults.py); each one either changes the
twin's state through `_sync_<area>` (which rebuilds that state from the seed and the active faults, so
clearing a fault restores the seed exactly) or is read when a request is answered.
"""

import asyncio
import json
import logging
import random
import re
import secrets
import ssl
import time
from dataclasses import replace

from aiohttp import web
from fakepve import FakePve
from fakepve.model import PveError
from fakepve.routing import die, sha1
from fakepve.server import API, EXTJS, USER, error, ok, params
from lab.request_log import RequestLog

from . import seed, views
from .backups import VmBackups
from .faults import catalogue, lookup
from .vms import VmLifecycle

log = logging.getLogger('lab.pve_twin')

FORGED_TICKET = re.compile(r'^PVE:[^:\s]+@[^:\s]+:[0-9A-F]{8}::\S+$')
# The paths GET /access/permissions reports besides those with ACL rows (PVE's top-level paths).
TOP_PATHS = ('/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms')
# Node load figures the node faults replace: fault name -> field of seed.Load.
LOAD_FAULTS = (('node-cpu-hot', 'cpu'), ('node-memory-full', 'memory'), ('node-net-saturated', 'network'))


def api_path(path):
    """The path after /api2/json or /api2/extjs, without a trailing slash; None for other paths."""
    for prefix in (API, EXTJS):
        if path.startswith(prefix + '/'):
            return path[len(prefix):].rstrip('/') or '/'
    return None


def held_privileges(rows, path):
    """The privileges ACL rows give on path: a row on a path covers everything below it (propagate)."""
    held = set()
    for granted, privs in rows:
        if granted == '/' or path == granted or path.startswith(granted + '/'):
            held |= privs
    return held


class PveTwin(VmBackups, VmLifecycle, FakePve):
    """The lab's Proxmox VE 9 cluster, started from the seed of that name (seed.SEEDS).

    credentials: identity role (Seed.logins) -> password or token secret.
    """

    def __init__(self, host, port, credentials, time_scale=0.0, seed_name='standard'):
        if seed_name not in seed.SEEDS:
            raise ValueError('unknown seed {0!r}; known seeds: {1}'.format(seed_name, ', '.join(seed.SEEDS)))
        self.seed = seed.SEEDS[seed_name]
        missing = [ident.role for ident in self.seed.identities if not credentials.get(ident.role)]
        if missing:
            raise ValueError('no secret given for the identities {0}'.format(', '.join(missing)))
        # root@pam gets a password nobody is told: the lab's logins are the seed identities.
        super().__init__(user='root@pam', password=secrets.token_urlsafe(24), host=host, port=port)
        self.time_scale = time_scale
        self.cluster_name = self.seed.cluster_name
        self.faults = dict((fault.name, fault) for fault in catalogue(self.seed))
        # The parts of the state faults change, in the order they are rebuilt: the certificate before the listener.
        self.areas = tuple(dict.fromkeys(fault.area for fault in self.faults.values() if fault.area))
        self.seed_nodes = dict((node.name, node) for node in self.seed.nodes)
        self.credentials = dict(credentials)
        self.booted = time.time()
        self.active = {}            # fault name -> (value as given or None, value as parsed)
        self.request_log = RequestLog()
        self.tls = None
        self._ssl = None
        self._site = None
        self._withheld = {}         # storage -> bytes of its avail that storage-full holds back
        self._seed()

    def __repr__(self):
        return '<PveTwin {0} seed={1} faults={2}>'.format(self.url, self.seed.name, sorted(self.active))

    @property
    def password_user(self):
        return next(ident.id for ident in self.seed.identities if not ident.token)

    def _seed(self):
        self.nodes = dict((node.name, {'online': True}) for node in self.seed.nodes)
        self.storages = dict((store.name, dict(store.options, active=1, files=set(), volumes={}, total=store.total,
                                               avail=int(store.total * (1 - store.used))))
                             for store in self.seed.storages)
        template = self.seed.template
        self._template = self.add_vm(template.vmid, template.name, node=template.node, template=True,
                                     config=self.seed.template_config())
        for vm in self.seed.management_vms:
            self.add_vm(vm.vmid, vm.name, node=vm.node, status='running', config=self.seed.management_vm_config(vm))
        self.users[self.password_user] = self.credentials['user']

    # ------------------------------------------------------------- lifecycle

    async def start_lab(self, tls):
        """Serve https://host:port with the lab's certificates (a tls.LabTls)."""
        self.tls = tls
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.runner = web.AppRunner(self._build_app(), access_log=None)
        await self.runner.setup()
        for area in self.areas:
            await self._sync(area)

    @property
    def listening(self):
        return self._site is not None

    def _build_app(self):
        app = super()._build_app()
        app.middlewares.insert(0, self._lab_middleware)
        return app

    def _drop_connections(self):
        """Close open keep-alive connections, so the next request connects and handshakes anew."""
        for handler in self.runner.server.connections:
            handler.force_close()

    # ---------------------------------------------------------------- faults

    def fault(self, name):
        """The parsed value of the fault if it is active, else None."""
        entry = self.active.get(name)
        return entry[1] if entry else None

    def active_faults(self):
        return [{'name': name, 'value': value} for name, (value, _parsed) in self.active.items()]

    def lookup(self, name):
        """The fault of that name, or FaultError listing the known ones."""
        return lookup(self.faults, name)

    async def set_fault(self, name, value=''):
        """Set (or change) a fault; FaultError for an unknown name or a bad value."""
        fault = self.lookup(name)
        parsed = fault.parse(value)
        self.active[name] = (value or None, parsed)
        await self._sync(fault.area)
        log.info('fault set: %s%s', name, '=' + value if value else '')

    async def clear_fault(self, name):
        fault = self.lookup(name)
        if self.active.pop(name, None) is not None:
            await self._sync(fault.area)
            log.info('fault cleared: %s', name)

    async def clear_faults(self):
        self.active.clear()
        for area in self.areas:
            await self._sync(area)
        log.info('all faults cleared')

    async def _sync(self, area):
        if area:
            await getattr(self, '_sync_' + area)()

    async def _sync_version(self):
        self.version, self.release_version = self.fault('pve-version') or (seed.PVE_VERSION, seed.PVE_RELEASE)

    async def _sync_cluster(self):
        offline = self.fault('pve-node-offline')
        for node in self.seed.nodes:
            self.nodes[node.name]['online'] = node.name != offline
        self.quorate = not self.fault('quorum-lost')

    async def _sync_auth(self):
        rejected = self.fault('token-rejected')
        for ident in self.seed.identities:
            if ident.token:
                # A secret nobody has: the token answers 401 as with a regenerated secret.
                self.apitokens[ident.id] = secrets.token_hex(16) if ident.id == rejected \
                    else self.credentials[ident.role]

    async def _sync_acl(self):
        missing = self.fault('token-missing-privilege')
        excess = self.fault('token-excess-privilege')
        acl = {}
        for ident in self.seed.identities:
            rows = [(path, set(privs)) for path, privs in ident.acl]
            if missing and missing[0] == ident.role:
                for _path, privs in rows:
                    privs.discard(missing[1])
            if excess and excess[0] == ident.role:
                rows.append(('/', {excess[1]}))
            acl[ident.id] = rows
        self.acl = acl

    async def _sync_storage(self):
        disabled = self.fault('storage-disabled')
        no_images = self.fault('storage-no-images')
        no_iso = self.fault('iso-storage-missing')
        no_backup = self.fault('backup-storage-missing')
        full = self.fault('storage-full')
        for spec in self.seed.storages:
            store = self.storages.get(spec.name)
            if store is None:  # deleted through the API
                continue
            lost = {'images'} if spec.name == no_images else set()
            lost |= {'iso'} if no_iso else set()
            lost |= {'backup'} if no_backup else set()
            store['content'] = ','.join(c for c in spec.options['content'].split(',') if c not in lost) or 'none'
            if spec.name == disabled:
                store['disable'] = 1
            else:
                store.pop('disable', None)
            # Give back what a previous storage-full held back, then hold back what this one needs.
            avail = store['avail'] + self._withheld.pop(spec.name, 0)
            if full and full[0] == spec.name:
                self._withheld[spec.name] = max(0, avail - int(store['total'] * (1 - full[1] / 100)))
                avail -= self._withheld[spec.name]
            store['avail'] = avail

    async def _sync_template(self):
        vm = self._template
        config = self.seed.template_config()
        if self.fault('template-not-template'):
            del config['template']
        if self.fault('template-no-agent'):
            config['agent'] = '0'
        if self.fault('template-no-cloudinit'):
            del config[seed.TEMPLATE_CLOUDINIT]
        if self.fault('template-no-disk'):
            del config[seed.TEMPLATE_DISK]
        vm.config = config
        vm.template = 'template' in config
        listed = vm in self.vms
        if self.fault('template-missing') and listed:
            self.vms.remove(vm)
        elif not self.fault('template-missing') and not listed:
            self.vms.append(vm)

    async def _sync_tls(self):
        if self._ssl is None:  # not started yet: start_lab syncs again
            return
        kind = 'untrusted' if self.fault('tls-untrusted') else 'expired' if self.fault('tls-expired') else 'valid'
        # A live SSLContext hands its new certificate to every later handshake.
        self._ssl.load_cert_chain(*self.tls.files(kind))
        self._drop_connections()

    async def _sync_listener(self):
        if self.runner is None:
            return
        down = bool(self.fault('pve-down'))
        if down and self._site:
            await self._site.stop()
            self._site = None
            self._drop_connections()
        elif not down and not self._site:
            site = web.TCPSite(self.runner, self.host, self.port, ssl_context=self._ssl)
            await site.start()
            self._site = site

    # ------------------------------------------------------- request handling

    @web.middleware
    async def _lab_middleware(self, request, handler):
        """Outermost: the latency and error faults, then the request log."""
        started = time.time()
        path = api_path(request.path)
        status = None
        try:
            latency = self.fault('pve-latency')
            if latency and latency[0] in (None, path):
                await asyncio.sleep(latency[1])
            errors = self.fault('pve-http-errors')
            if errors and errors[0] == path and random.random() < errors[1]:
                response = error(500, 'Internal Server Error')
            elif path and path.startswith((API + '/', EXTJS + '/')):
                # A doubled prefix (a client appending /api2/json to a URL that has it): PVE knows no such method.
                response = error(501, "Method '{0} {1}' not implemented".format(request.method, path))
            else:
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            identity, authenticated = await self._identity(request, path, status)
            self.request_log.add({'time': started, 'method': request.method, 'path': request.path,
                                  'identity': identity, 'authenticated': authenticated, 'status': status,
                                  'seconds': round(time.time() - started, 4),
                                  'user_agent': request.headers.get('User-Agent', '')})

    async def _identity(self, request, path, status):
        """(who, authenticated) for the log: the authenticated user or token id, else the one claimed."""
        user = request.get(USER)
        if user:
            return user, True
        if path == '/access/ticket':
            try:
                return (await params(request)).get('username'), status == 200
            except PveError:
                return None, False
        auth = request.headers.get('Authorization', '')
        if auth.startswith('PVEAPIToken='):
            return auth[len('PVEAPIToken='):].partition('=')[0], False
        ticket = request.cookies.get('PVEAuthCookie', '')
        return (ticket.split(':')[1] if ticket.count(':') > 1 else None), False

    def _authenticate(self, request):
        if api_path(request.path) != '/access/ticket':
            auth = request.headers.get('Authorization', '')
            ticket = request.cookies.get('PVEAuthCookie')
            if auth.startswith('PVEAPIToken='):
                tokenid = auth[len('PVEAPIToken='):].partition('=')[0]
                if self.fault('auth-accepts-bad-credentials') and tokenid in self.apitokens:
                    return tokenid
            elif ticket and self.fault('ticket-rejected'):
                raise PveError(401, 'permission denied - invalid PVE ticket')
            elif ticket and self.fault('auth-accepts-forged-ticket') and ticket not in self.tickets \
                    and FORGED_TICKET.match(ticket):
                return self.password_user
        return super()._authenticate(request)

    def check_password(self, user, password):
        return bool(self.fault('auth-accepts-bad-credentials')) or super().check_password(user, password)

    # ------------------------------------------------------------ permissions

    def allowed(self, user, path, priv):
        """Tokens are privilege-separated: a token holds exactly its own ACL rows, not its owner's."""
        if self.acl is None or '!' not in user or user.startswith('root@pam!'):
            return super().allowed(user, path, priv)
        return priv in held_privileges(self.acl.get(user, []), path)

    async def _permissions(self, v, user):
        """GET /access/permissions as PVE answers it: the privileges held on the asked path, or on every
        top-level path and every path of the ACL tree where any are held; inherited ones included."""
        who = v.get('userid') or user
        if who != user and who.split('!')[0] != user:
            self.require(user, '/access', 'Sys.Audit')
        if self.acl is None or who.split('!')[0] == 'root@pam':
            return await super()._permissions(v, user)
        rows = self.acl.get(who, [])
        if v.get('path'):
            return {v['path']: dict.fromkeys(sorted(held_privileges(rows, v['path'])), 1)}
        tree = set(path for entries in self.acl.values() for path, _privs in entries)
        held = ((path, held_privileges(rows, path)) for path in sorted(tree.union(TOP_PATHS)))
        return dict((path, dict.fromkeys(sorted(privs), 1)) for path, privs in held if privs)

    # ----------------------------------------------------------------- nodes

    def _routes_lab(self):
        node = '/nodes/{node}'
        return [('GET', node + '/status', self._node_status), ('GET', node + '/rrddata', self._node_rrddata),
                ('GET', node + '/network', self._node_network), ('GET', '/cluster/sdn/zones', self._sdn_zones),
                ('GET', '/cluster/sdn/vnets', self._sdn_vnets)]

    def _load(self, name):
        """The node's load: the seed's, with the node faults that name it."""
        load = self.seed_nodes[name].load
        for fault, field in LOAD_FAULTS:
            value = self.fault(fault)
            if value and value[0] == name:
                load = replace(load, **{field: value[1] / 100})
        return load

    def _node_summary(self, name):
        return views.summary(self.seed_nodes[name], self._load(name), self.booted)

    async def _node_status(self, v, user):
        name = v['node']
        return views.status(self.seed_nodes[name], self._load(name), self.booted, self.version)

    async def _node_rrddata(self, v, user):
        name = v['node']
        return views.rrd_points(self.seed_nodes[name], self._load(name), v['timeframe'], v.get('cf') or 'AVERAGE',
                                self.seed.link_speed_mbit)

    def _bridge_state(self, name):
        """None when the node has no bridge, else {'active': bool, 'vlan_aware': bool}."""
        if self.fault('bridge-missing') == name:
            return None
        return {'active': self.fault('bridge-inactive') != name, 'vlan_aware': not self.fault('bridge-not-vlan-aware')}

    async def _node_network(self, v, user):
        name = v['node']
        kind = v.get('type')
        if kind in ('any_bridge', 'any_local_bridge'):
            wanted = ('bridge', 'OVSBridge')
        elif kind and kind != 'include_sdn':
            wanted = (kind,)
        else:
            wanted = None
        return [item for item in views.interfaces(self.seed, self.seed_nodes[name], self._bridge_state(name))
                if wanted is None or item['type'] in wanted]

    async def _nodes(self, request):
        data = []
        for name, state in sorted(self.nodes.items()):
            online = state.get('online', True)
            item = {'node': name, 'id': 'node/' + name, 'type': 'node', 'status': 'online' if online else 'offline',
                    'level': '', 'ssl_fingerprint': self.tls.fingerprint()}
            if online:
                item.update(self._node_summary(name))
            data.append(item)
        return ok(data)

    async def _resources(self, request):
        """fakepve's answer with the nodes' usage as their status shows it."""
        data = json.loads((await super()._resources(request)).text)['data']
        for item in data:
            if item['type'] == 'node' and item['status'] == 'online' and item['node'] in self.seed_nodes:
                item.update(self._node_summary(item['node']))
        return ok(data)

    async def _version(self, request):
        return ok({'version': self.version, 'release': self.release_version, 'repoid': seed.PVE_REPOID})

    # ------------------------------------------------------------------- SDN

    def _zones(self):
        return [] if self.fault('sdn-missing') else [self.seed.zone_config()]

    def _vnets(self):
        if self.fault('sdn-missing'):
            return []
        vnets = [dict(vnet, type='vnet') for vnet in self.seed.vnet_configs()
                 if vnet['vnet'] != self.fault('vnet-missing')]
        if self.fault('vnet-shared-tag'):
            for vnet in vnets:
                vnet['tag'] = self.seed.vnets[0][1]
        return vnets

    def _sdn_visible(self, user, path):
        """PVE lists only the SDN objects the user may audit or allocate."""
        return self.allowed(user, path, 'SDN.Audit') or self.allowed(user, path, 'SDN.Allocate')

    async def _sdn_zones(self, v, user):
        zones = self._zones()
        digest = sha1(repr(zones))
        return [dict(zone, digest=digest) for zone in zones if v.get('type') in (None, zone['type'])
                and self._sdn_visible(user, '/sdn/zones/' + zone['zone'])]

    async def _sdn_vnets(self, v, user):
        vnets = self._vnets()
        digest = sha1(repr(vnets))
        return [dict(vnet, digest=digest) for vnet in vnets
                if self._sdn_visible(user, '/sdn/zones/{0}/{1}'.format(vnet['zone'], vnet['vnet']))]

    # --------------------------------------------------------------- storage

    def _storage_active(self, name, node):
        inactive = self.fault('storage-inactive')
        hit = inactive and inactive[0] == name and inactive[1] in (None, node)
        return bool(self.storages[name].get('active', 1)) and not hit

    def _space(self, store):
        """(total, used, avail): a seeded storage is `total` large, and what is not available is used."""
        if 'total' in store and 'avail' in store:
            return store['total'], store['total'] - store['avail'], store['avail']
        return super()._space(store)

    def _status_item(self, name, node, formats=False):
        item = super()._status_item(name, node, formats)
        if not self._storage_active(name, node):
            item.update(active=0, total=0, used=0, avail=0)
        return item

    def _active_store(self, name, node):
        store = super()._active_store(name, node)
        if not self._storage_active(name, node):
            raise die("storage '{0}' is not online".format(name))
        return store

    def _storage_resource(self, node, name):
        item = super()._storage_resource(node, name)
        if item is None:
            return None
        active = self._storage_active(name, node)
        total, used, _avail = self._space(self.storages[name])
        item.update(status='available' if active else 'unknown', disk=used if active else 0,
                    maxdisk=total if active else 0)
        return item

    # ------------------------------------------------------------- inventory

    def inventory(self):
        """What the lab holds now, faults applied, and what a healthy lab is configured with. No secrets."""
        names, lab = sorted(self.nodes), self.seed
        return {
            'expected': {
                'seed': lab.name, 'nodes': [node.name for node in lab.nodes], 'template': lab.template.name,
                'template_vmid': lab.template.vmid, 'template_node': lab.template.node,
                'storage_pool': lab.disk_storage.name, 'iso_storage': lab.iso_storage.name, 'bridge': lab.bridge,
                'tenant_vnets': [vnet for vnet, _tag in lab.vnets],
                'link_speed_mbit': lab.link_speed_mbit, 'pve_version': seed.PVE_VERSION,
                'dhcp_range': list(lab.dhcp_range),
            },
            'nodes': [{'node': name, 'online': state.get('online', True)}
                      for name, state in sorted(self.nodes.items())],
            'storages': [self._storage_inventory(name, names) for name in sorted(self.storages)],
            'vms': [{'vmid': vm.vmid, 'name': vm.name, 'node': vm.node, 'status': vm.status, 'lock': vm.lock,
                     'template': 1 if vm.template else 0} for vm in sorted(self.vms, key=lambda vm: vm.vmid)],
            'bridges': [dict(state, node=name, iface=lab.bridge)
                        for name, state in ((name, self._bridge_state(name)) for name in sorted(self.seed_nodes))
                        if state],
            'sdn': {'zones': self._zones(), 'vnets': self._vnets()},
            'identities': [{'role': ident.role, 'id': ident.id, 'kind': 'token' if ident.token else 'password',
                            'acl': [{'path': path, 'privileges': sorted(privs)}
                                    for path, privs in (self.acl or {}).get(ident.id, [])]}
                           for ident in lab.identities],
            'faults': self.active_faults(),
        }

    def _storage_inventory(self, name, nodes):
        store = self.storages[name]
        total, used, avail = self._space(store)
        return {'storage': name, 'type': store.get('type'), 'content': store.get('content'),
                'disabled': bool(store.get('disable')), 'total': total, 'used': used, 'avail': avail,
                'active_on': [node for node in nodes if self._storage_active(name, node)]}
