"""The lab's stand-in for Grafana's HTTP API: /api/health and the dashboard search (standard library only).

The dashboards are the ones a CozyStack monitoring install provisions for this stack (by title); only the
search listing is served, not their panels.
"""

import hashlib
import re

GRAFANA_VERSION = '11.3.0'
COMMIT = 'lab'
# (folder title, dashboard title, tags)
DASHBOARDS = (
    ('Proxmox', 'Proxmox via Prometheus', ('proxmox', 'prometheus')),
    ('Monitoring', 'VictoriaMetrics - single-node', ('victoriametrics',)),
    ('Monitoring', 'VictoriaMetrics - vmalert', ('victoriametrics', 'vmalert')),
    ('Monitoring', 'VictoriaMetrics - vmagent', ('victoriametrics', 'vmagent')),
    ('Kubernetes', 'Kubernetes / Views / Global', ('kubernetes',)),
)


def health(database_ok):
    """(HTTP status, body) of GET /api/health."""
    body = {'commit': COMMIT, 'database': 'ok' if database_ok else 'failing', 'version': GRAFANA_VERSION}
    return (200 if database_ok else 503), body


def slug(title):
    return re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')


def uid(title):
    return hashlib.sha1(title.encode()).hexdigest()[:9]


def folders():
    titles = sorted(set(folder for folder, _title, _tags in DASHBOARDS))
    return dict((title, index) for index, title in enumerate(titles, 1))


def folder_hit(title, folder_id):
    return {'id': folder_id, 'uid': uid(title), 'title': title, 'uri': 'db/' + slug(title),
            'url': '/dashboards/f/{0}/{1}'.format(uid(title), slug(title)), 'slug': '', 'type': 'dash-folder',
            'tags': [], 'isStarred': False, 'sortMeta': 0}


def dashboard_hit(index, folder, title, tags, folder_id):
    return {'id': 100 + index, 'uid': uid(title), 'title': title, 'uri': 'db/' + slug(title),
            'url': '/d/{0}/{1}'.format(uid(title), slug(title)), 'slug': '', 'type': 'dash-db', 'tags': list(tags),
            'isStarred': False, 'sortMeta': 0, 'folderId': folder_id, 'folderUid': uid(folder),
            'folderTitle': folder, 'folderUrl': '/dashboards/f/{0}/{1}'.format(uid(folder), slug(folder))}


def search(kind=None, query='', tags=()):
    """GET /api/search: folders and dashboards; kind 'dash-db' or 'dash-folder' narrows, query matches titles
    (case-insensitive substring), every tag given must be on the dashboard."""
    folder_ids = folders()
    hits = [folder_hit(title, folder_id) for title, folder_id in folder_ids.items()] if not tags else []
    hits += [dashboard_hit(index, folder, title, dashboard_tags, folder_ids[folder])
             for index, (folder, title, dashboard_tags) in enumerate(DASHBOARDS)
             if set(tags) <= set(dashboard_tags)]
    return [hit for hit in hits
            if (not kind or hit['type'] == kind) and query.lower() in hit['title'].lower()]
