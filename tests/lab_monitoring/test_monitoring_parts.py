"""The plain parts of lab.monitoring, without processes: the LogsQL subset, the log store, the API call series,
fault values, the Grafana search and the generated configs."""

import json

import pytest

from lab.monitoring import configs, grafana
from lab.monitoring.api_calls import ApiCalls, BackgroundTraffic, parse_calls
from lab.monitoring.faults import FaultError, lookup
from lab.monitoring.logsql import LogsQLError, parse_duration
from lab.monitoring.logstore import MISSING_MSG, IngestError, LogStore, parse_bound, public

NOW = 1_800_000_000.0


def store_with(*records, stream_fields=('kubernetes.pod_name',)):
    store = LogStore(clock=lambda: NOW)
    store.ingest(''.join(json.dumps(record) + '\n' for record in records).encode(), stream_fields=stream_fields)
    return store


def messages(store, query, **options):
    return [entry['_msg'] for entry in store.query(query, **options)]


# ------------------------------------------------------------------- LogsQL

@pytest.fixture
def store():
    return store_with(
        {'_msg': 'probe qa-run1-gw0-x1 wrote its marker', 'kubernetes': {'pod_name': 'probe-a'}, '_time': NOW - 30},
        {'_msg': 'connection error: timeout', 'kubernetes': {'pod_name': 'csi-node-1'}, '_time': NOW - 600},
        {'_msg': 'errors are fine here', 'kubernetes': {'pod_name': 'probe-b'}, '_time': NOW - 10})


@pytest.mark.parametrize('query, expected', [
    ('*', ['connection error: timeout', 'probe qa-run1-gw0-x1 wrote its marker', 'errors are fine here']),
    ('error', ['connection error: timeout']),                              # a word, not a part of "errors"
    ('err*', ['connection error: timeout', 'errors are fine here']),
    ('"wrote its marker"', ['probe qa-run1-gw0-x1 wrote its marker']),
    ('qa-run1-gw0-x1', ['probe qa-run1-gw0-x1 wrote its marker']),
    ('qa-run1-gw', []),                                                    # stops inside a word
    ('_time:5m', ['probe qa-run1-gw0-x1 wrote its marker', 'errors are fine here']),
    ('_time:1h error', ['connection error: timeout']),
    ('kubernetes.pod_name:probe-a', ['probe qa-run1-gw0-x1 wrote its marker']),
    ('kubernetes.pod_name:probe*', ['probe qa-run1-gw0-x1 wrote its marker', 'errors are fine here']),
    ('kubernetes.pod_name:=probe', []),
    ('{kubernetes.pod_name="probe-b"} AND errors', ['errors are fine here']),
    ('_stream:{kubernetes.pod_name="csi-node-1"}', ['connection error: timeout']),
    ('Error', []),                                                         # case-sensitive, as LogsQL
])
def test_logsql_filters(store, query, expected):
    assert messages(store, query) == expected


@pytest.mark.parametrize('query, complaint', [
    ('error OR warning', 'outside the LogsQL subset'),
    ('-error', 'outside the LogsQL subset'),
    ('(error)', 'outside the LogsQL subset'),
    ('_time:5minutes', 'cannot parse duration'),
    ('{pod=~"x.*"}', 'only name="value" pairs'),
    ('', 'missing query'),
])
def test_logsql_outside_the_subset_is_refused(store, query, complaint):
    with pytest.raises(LogsQLError, match=complaint):
        store.query(query)


def test_limit_keeps_the_newest_and_start_cuts_the_oldest(store):
    assert messages(store, '*', limit=1) == ['errors are fine here']
    assert len(messages(store, '*', start=NOW - 60)) == 2


def test_durations_combine_units():
    assert (parse_duration('1h30m'), parse_duration('500ms')) == (5400, 0.5)


# ---------------------------------------------------------------- log store

def test_ingested_entries_are_flat_strings_with_stream_and_time():
    entry = public(store_with({'_msg': 'hi', 'kubernetes': {'pod_name': 'p'}, 'code': 7,
                               '_time': '2027-01-15T08:00:00Z'}).query('*')[0])
    assert entry == {'_msg': 'hi', '_time': '2027-01-15T08:00:00.000000Z', '_stream': '{kubernetes.pod_name="p"}',
                     'kubernetes.pod_name': 'p', 'code': '7'}


def test_a_line_without_message_or_time_gets_the_marker_text_and_now():
    entry = store_with({'level': 'info'}, stream_fields=()).query('*')[0]
    assert (entry['_msg'], entry['_timestamp'], entry['_stream']) == (MISSING_MSG, NOW, '{}')


def test_unix_times_in_milliseconds_and_nanoseconds_are_read():
    store = store_with({'_msg': 'ms', '_time': 1_700_000_000_123}, {'_msg': 'ns', '_time': 1_700_000_000_500_000_000})
    assert [entry['_timestamp'] for entry in store.query('*')] == pytest.approx([1_700_000_000.123, 1_700_000_000.5])


@pytest.mark.parametrize('body, complaint', [
    (b'{"_msg": "ok"}\nnot json\n', 'line 2 is not JSON'),
    (b'["a"]\n', 'line 1 is not a JSON object'),
    (b'{"_msg": "x", "_time": "yesterday"}\n', "cannot parse time 'yesterday'"),
])
def test_bad_lines_are_refused_naming_the_line(body, complaint):
    store = LogStore()
    with pytest.raises(IngestError, match=complaint):
        store.ingest(body)
    assert store.query('*') == []


def test_query_bounds_take_rfc3339_unix_time_or_a_duration_ago():
    assert parse_bound('2023-11-14T22:13:20Z', NOW) == 1_700_000_000.0
    assert parse_bound('1700000000', NOW) == 1_700_000_000.0
    assert parse_bound('5m', NOW) == NOW - 300
    assert parse_bound('', NOW) is None
    with pytest.raises(ValueError, match="cannot parse 'soon'"):
        parse_bound('soon', NOW)


# ---------------------------------------------------------------- API calls

def test_series_are_a_histogram_and_two_counters_per_request_and_method():
    calls = ApiCalls()
    calls.record('createVolume', 'POST', 0.3, failed=False)
    calls.record('createVolume', 'POST', 12.0, failed=True)
    lines = calls.exposition().splitlines()
    labels = 'request="createVolume",method="POST"'
    assert 'proxmox_api_request_duration_seconds_bucket{%s,le="0.5"} 1' % labels in lines
    assert 'proxmox_api_request_duration_seconds_bucket{%s,le="30"} 2' % labels in lines
    assert 'proxmox_api_request_duration_seconds_bucket{%s,le="+Inf"} 2' % labels in lines
    assert 'proxmox_api_request_duration_seconds_sum{%s} 12.3' % labels in lines
    assert 'proxmox_api_requests_total{%s} 2' % labels in lines
    assert 'proxmox_api_request_errors_total{%s} 1' % labels in lines
    assert '# TYPE proxmox_api_request_duration_seconds histogram' in lines


@pytest.mark.parametrize('share, failures', [(0.001, 0), (0.25, 150)])
def test_background_traffic_fails_the_given_share_of_calls(share, failures):
    calls = {'csi': ApiCalls(), 'ccm': ApiCalls()}
    traffic = BackgroundTraffic(calls, lambda: share)
    for _second in range(100):
        traffic.tick()
    text = calls['csi'].exposition() + calls['ccm'].exposition()
    totals = [int(line.rsplit(' ', 1)[1]) for line in text.splitlines() if line.startswith('proxmox_api_request')
              and '_total{' in line and 'errors' in line]
    assert sum(totals) == failures    # 6 calls a second for 100 s


@pytest.mark.parametrize('body, complaint', [
    ({'component': 'capmox', 'calls': []}, 'one of csi, ccm'),
    ({'component': 'csi', 'calls': {}}, '"calls" must be a list'),
    ({'component': 'csi', 'calls': [{'request': 'x', 'seconds': -1}]}, 'call 0: "seconds" must be a number >= 0'),
    ({'component': 'csi', 'calls': [{'method': 'GET', 'seconds': 1}]}, 'call 0: "request" and "method"'),
])
def test_posted_calls_are_checked(body, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_calls(body)


def test_posted_calls_default_to_get_and_success():
    assert parse_calls({'component': 'ccm', 'calls': [{'request': 'getVM', 'seconds': 0.2}]}) == (
        'ccm', [('getVM', 'GET', 0.2, False)])


# ------------------------------------------------------- faults, Grafana, configs

@pytest.mark.parametrize('name, value, parsed', [
    ('pve-api-errors', '', 25.0), ('pve-api-errors', '5%', 5.0), ('exporter-down', '', True)])
def test_fault_values(name, value, parsed):
    assert lookup(name).parse(value) == parsed


@pytest.mark.parametrize('name, value, complaint', [
    ('pve-api-errors', '0', 'above 0 and at most 100'), ('grafana-down', 'yes', "takes no value: got 'yes'"),
    ('vm-down', '', "unknown monitoring fault 'vm-down'")])
def test_bad_fault_values_are_refused(name, value, complaint):
    with pytest.raises(FaultError, match=complaint):
        lookup(name).parse(value)


def test_grafana_search_narrows_by_type_query_and_tag():
    assert [hit['title'] for hit in grafana.search(kind='dash-db', query='vmal')] == ['VictoriaMetrics - vmalert']
    assert [hit['title'] for hit in grafana.search(tags=['proxmox'])] == ['Proxmox via Prometheus']
    assert set(hit['type'] for hit in grafana.search(kind='dash-folder')) == {'dash-folder'}
    assert grafana.health(database_ok=False) == (503, {'commit': 'lab', 'database': 'failing', 'version': '11.3.0'})


def test_exporter_job_scrapes_cluster_collectors_of_the_twin_without_keepalive():
    addresses = dict.fromkeys(('pve-exporter', 'control', 'victoria-metrics', 'vmagent', 'vmalert'), '127.0.0.9:1')
    job = configs.scrape_config(5.0, addresses, '127.0.0.7:8006')['scrape_configs'][0]
    assert (job['job_name'], job['metrics_path'], job['disable_keepalive']) == ('pve', '/pve', True)
    assert job['params'] == {'module': ['default'], 'cluster': ['1'], 'node': ['0'], 'target': ['127.0.0.7:8006']}


def test_exporter_config_verifies_against_the_lab_ca():
    assert configs.exporter_config('qa@pve!suite', 's3cret', '/lab/ca.pem') == {'default': {
        'user': 'qa@pve', 'token_name': 'suite', 'token_value': 's3cret', 'verify_ssl': '/lab/ca.pem'}}


def test_private_config_files_are_readable_by_their_owner_only(tmp_path):
    configs.write(tmp_path / 'pve.yml', {'default': {}}, private=True)
    assert (tmp_path / 'pve.yml').stat().st_mode & 0o777 == 0o600
