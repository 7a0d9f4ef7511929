"""The management cluster's log collector (`--logs-url`): container output reaches VictoriaLogs' JSON-lines
ingestion with CozyStack's fluent-bit fields, and a log store that is gone never holds up the pods."""

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from cluster_helpers import start_cluster, stop_cluster, wait_for
from workload_helpers import Cluster, new_space

STREAM_FIELDS = 'log_source,stream,kubernetes_pod_name,kubernetes_container_name,kubernetes_namespace_name'


class LogStore(ThreadingHTTPServer):
    """Takes POST /insert/jsonline as VictoriaLogs does and keeps (query options, entries) of each request."""

    def __init__(self, host):
        self.received = []
        super().__init__((host, 0), Insert)

    @property
    def url(self):
        return 'http://{0}:{1}'.format(*self.server_address)

    def entries(self):
        return [entry for _options, entries in list(self.received) for entry in entries]


class Insert(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        parts = urlsplit(self.path)
        if parts.path == '/insert/jsonline':
            options = dict((key, values[0]) for key, values in parse_qs(parts.query).items())
            self.server.received.append((options, [json.loads(line) for line in body.decode().splitlines()]))
        self.send_response(200 if parts.path == '/insert/jsonline' else 404)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        """Quiet: the test reads what was received."""


@pytest.fixture(scope='module')
def log_store(twin):
    store = LogStore(twin.settings['PROXMOX_HOST'])
    thread = threading.Thread(target=store.serve_forever, daemon=True)
    thread.start()
    yield store
    store.shutdown()
    store.server_close()
    thread.join()


@pytest.fixture(scope='module')
def shipping_lab(twin, log_store, tmp_path_factory):
    started = start_cluster(tmp_path_factory.mktemp('shipping'), twin, '--logs-url', log_store.url)
    yield started
    started.close()
    assert stop_cluster(started.process) == 0


def closed_port_url(host):
    """An http URL on host where nothing listens."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return 'http://{0}:{1}'.format(host, probe.getsockname()[1])


def test_container_output_is_shipped_with_fluent_bits_fields(shipping_lab, log_store):
    space = new_space(Cluster(shipping_lab.mgmt))
    try:
        succeeded, _log = space.probe('echo shipped-marker-1; echo shipped-marker-2')
        assert succeeded
        [pod] = space.pods()
        lines = wait_for('both lines in the log store', lambda: [
            entry for entry in log_store.entries() if entry.get('kubernetes_namespace_name') == space.name],
            lambda found: len(found) == 2)
    finally:
        space.delete()
    assert [line['log'] for line in lines] == ['shipped-marker-1', 'shipped-marker-2']
    assert lines[0]['kubernetes_pod_name'] == pod['metadata']['name']
    assert lines[0]['kubernetes_container_name'] == 'probe'
    assert (lines[0]['log_source'], lines[0]['cluster'], lines[0]['tenant']) == (
        'container_log', 'root-cluster', 'cozy-monitoring')
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', lines[0]['date']), lines[0]['date']
    options = next(options for options, entries in log_store.received if lines[0] in entries)
    assert options == {'_stream_fields': STREAM_FIELDS, '_msg_field': 'log', '_time_field': 'date'}


def test_a_log_store_that_is_gone_does_not_hold_up_pods(twin, tmp_path):
    lab = start_cluster(tmp_path, twin, '--logs-url', closed_port_url(twin.settings['PROXMOX_HOST']))
    space = new_space(Cluster(lab.mgmt))
    try:
        assert space.probe('echo still-logged') == (True, 'still-logged\n')
        wait_for('the dropped lines logged', lambda: (tmp_path / 'cluster.log').read_text(errors='replace'),
                 lambda text: 'did not take the lines, 1 line(s) dropped' in text)
    finally:
        space.delete()
        lab.close()
        assert stop_cluster(lab.process) == 0
