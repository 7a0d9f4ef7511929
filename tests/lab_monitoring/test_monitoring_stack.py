"""The monitoring stack against a Proxmox twin, read through the HTTP APIs stage 7 uses (plain requests)."""

import uuid

import pytest

from lab import procs
from monitoring_helpers import descendants, run_lab

from tests.polling import wait_for

NODES = ('pve1', 'pve2', 'pve3')
JOBS = ('pve', 'proxmox-csi-controller', 'proxmox-ccm', 'victoria-metrics', 'vmagent', 'vmalert')
CCM_ERROR_RATIO = ('sum(increase(proxmox_api_request_errors_total{job="proxmox-ccm"}[1m])) / '
                   'sum(increase(proxmox_api_requests_total{job="proxmox-ccm"}[1m]))')


def intervals(stack, count):
    return count * stack.ready['scrape_interval']


def label(labels, name):
    return dict(labels)[name]


def up_by_job(stack):
    return dict((label(labels, 'job'), value) for labels, value in stack.query('up').items())


def pve_up_by_node(stack):
    return dict((label(labels, 'id').split('/', 1)[1], value)
                for labels, value in stack.query('pve_up{id=~"node/.+"}').items())


@pytest.fixture
def twin_fault(twin):
    """Sets twin faults with `python -m lab fault`; clears them all after the test."""
    state_dir, _settings = twin
    yield lambda spec: run_lab('fault', spec, '--state-dir', state_dir)
    run_lab('fault', '--clear', '--state-dir', state_dir)


@pytest.fixture
def all_nodes_up(stack):
    """The stack once pve_up of every node has been scraped as 1."""
    wait_for('pve_up 1 for every node', lambda: pve_up_by_node(stack),
             done=lambda nodes: nodes == dict.fromkeys(NODES, 1.0), seconds=intervals(stack, 3))
    return stack


# --------------------------------------------------------------------- metrics

def test_up_answers_through_the_query_api_for_every_job(stack):
    jobs = wait_for('up of every scrape job', lambda: up_by_job(stack), done=lambda jobs: set(jobs) >= set(JOBS),
                    seconds=intervals(stack, 3))
    assert jobs == dict.fromkeys(JOBS, 1.0)


def test_targets_list_the_exporter_up_and_pointed_at_the_twin(stack, twin):
    _state_dir, settings = twin
    target = wait_for('the exporter scraped once', lambda: stack.targets().get('pve'),
                      done=lambda target: target and target['health'] != 'unknown', seconds=intervals(stack, 3))
    assert (target['health'], target['lastError']) == ('up', '')
    assert 'target={0}%3A{1}'.format(settings['PROXMOX_HOST'], settings['PROXMOX_PORT']) in target['scrapeUrl']


def test_pve_up_is_one_for_every_twin_node(all_nodes_up):
    assert pve_up_by_node(all_nodes_up) == dict.fromkeys(NODES, 1.0)


def test_offline_twin_node_shows_pve_up_zero_within_two_scrape_intervals(all_nodes_up, twin_fault):
    twin_fault('pve-node-offline=pve2')
    nodes = wait_for('pve_up of pve2 to drop to 0', lambda: pve_up_by_node(all_nodes_up),
                     done=lambda nodes: nodes.get('pve2') == 0, seconds=intervals(all_nodes_up, 2))
    assert nodes == {'pve1': 1.0, 'pve2': 0.0, 'pve3': 1.0}


def test_csi_and_ccm_api_series_are_scraped(stack):
    requests_by_job = wait_for('proxmox_api_requests_total of the CSI and the CCM', lambda: dict(
        (label(labels, 'job'), value) for labels, value in stack.query(
            'sum by (job) (proxmox_api_requests_total)').items()), done=lambda jobs: len(jobs) == 2,
        seconds=intervals(stack, 3))
    assert sorted(requests_by_job) == ['proxmox-ccm', 'proxmox-csi-controller']
    assert min(requests_by_job.values()) > 0, requests_by_job
    buckets = stack.query('count by (job) (proxmox_api_request_duration_seconds_bucket{le="+Inf"})')
    assert len(buckets) == 2, buckets


def test_calls_a_controller_posts_appear_in_the_series(stack):
    calls = [{'request': 'createVolume', 'method': 'POST', 'seconds': 1.4},
             {'request': 'createVolume', 'method': 'POST', 'seconds': 0.3, 'error': True}]
    answer = stack.control('POST', '/api-calls', {'component': 'csi', 'calls': calls})
    assert (answer.status_code, answer.json()) == (200, {'recorded': 2})
    selector = '{job="proxmox-csi-controller",request="createVolume",method="POST"}'
    total = wait_for('the posted calls scraped', lambda: stack.value('proxmox_api_requests_total' + selector),
                     done=lambda total: total == 2, seconds=intervals(stack, 3))
    assert (total, stack.value('proxmox_api_request_errors_total' + selector)) == (2, 1)
    assert stack.value('proxmox_api_request_duration_seconds_bucket{0}'.format(
        selector[:-1] + ',le="1"}')) == 1


def test_calls_with_an_unknown_component_are_refused(stack):
    answer = stack.control('POST', '/api-calls', {'component': 'capmox', 'calls': []})
    assert answer.status_code == 400
    assert 'csi, ccm' in answer.json()['error']


def test_token_secret_is_in_no_file_and_on_no_command_line(all_nodes_up, twin):
    state_dir, settings = twin
    secret = settings['PROXMOX_TOKEN_SECRET']
    work = state_dir / 'monitoring'
    leaking = [str(path) for path in work.rglob('*') if path.is_file() and secret in path.read_text(errors='replace')]
    assert leaking == []
    assert not (work / 'pve.yml').exists(), 'the exporter config with the secret outlived the exporter start'
    pids = [all_nodes_up.process.pid] + descendants(all_nodes_up.process.pid)
    assert [pid for pid in pids if any(secret in arg for arg in procs.command_line(pid))] == []


# ---------------------------------------------------------- alerting, logs, Grafana

def test_vmalert_lists_the_lab_rule_groups_all_healthy(stack):
    rules = stack.rules()
    assert rules['ProxmoxNodeDown']['group'] == 'proxmox'
    assert 'pve_up' in rules['ProxmoxNodeDown']['query']
    assert {'ProxmoxApiErrorRate', 'ProxmoxExporterDown', 'TargetDown'} <= set(rules)
    assert dict((name, rule['health']) for name, rule in rules.items()) == dict.fromkeys(rules, 'ok')


def test_ingested_log_line_is_found_by_logsql(stack):
    marker = 'qa-marker-' + uuid.uuid4().hex[:8]
    stack.ingest({'_msg': 'probe wrote ' + marker,
                  'kubernetes': {'namespace_name': 'proxqa', 'pod_name': 'probe-1', 'container_name': 'probe'}})
    found = stack.logs('_time:5m kubernetes.pod_name:probe-1 "{0}"'.format(marker), limit='10')
    assert [entry['_msg'] for entry in found] == ['probe wrote ' + marker]
    assert found[0]['_stream'] == '{kubernetes.namespace_name="proxqa",kubernetes.pod_name="probe-1"}'
    assert found[0]['kubernetes.container_name'] == 'probe'
    assert len(stack.logs('{kubernetes.pod_name="probe-1"} ' + marker)) == 1
    assert stack.logs('kubernetes.pod_name:probe-2 ' + marker) == []


def test_logsql_outside_the_served_subset_is_refused(stack):
    answer = stack.get('logs_url', '/select/logsql/query', query='error OR warning')
    assert answer.status_code == 400
    assert 'outside the LogsQL subset' in answer.text


def test_grafana_is_healthy_and_lists_dashboards(stack):
    health = stack.get('grafana_url', '/api/health')
    assert (health.status_code, health.json()['database']) == (200, 'ok')
    dashboards = stack.get('grafana_url', '/api/search', type='dash-db').json()
    assert 'Proxmox via Prometheus' in [hit['title'] for hit in dashboards]
    assert set(hit['type'] for hit in dashboards) == {'dash-db'}


# ---------------------------------------------------------------------- faults

def test_faults_are_listed_and_unknown_ones_refused(faulty_stack):
    listed = faulty_stack.control('GET', '/faults').json()
    assert [fault['name'] for fault in listed['known']] == [
        'exporter-down', 'vmalert-rule-error', 'logs-not-ingested', 'grafana-down', 'pve-api-errors']
    unknown = faulty_stack.control('PUT', '/faults/prometheus-down')
    assert (unknown.status_code, 'known: exporter-down' in unknown.json()['error']) == (400, True)
    bad_value = faulty_stack.control('PUT', '/faults/pve-api-errors', {'value': '150'})
    assert (bad_value.status_code, 'at most 100' in bad_value.json()['error']) == (400, True)


def test_exporter_down_takes_its_target_down_until_cleared(faulty_stack):
    faulty_stack.set_fault('exporter-down')
    assert faulty_stack.control('GET', '/health').json()['components']['pve-exporter'] == 'stopped'
    target = wait_for('the exporter target down', lambda: faulty_stack.targets()['pve'],
                      done=lambda target: target['health'] == 'down', seconds=intervals(faulty_stack, 2) + 1)
    assert 'connection refused' in target['lastError']
    wait_for('pve_up to go stale', lambda: faulty_stack.query('pve_up'), done=lambda series: series == {},
             seconds=intervals(faulty_stack, 2))
    faulty_stack.clear_faults()
    wait_for('the exporter target up again', lambda: faulty_stack.targets()['pve']['health'],
             done=lambda health: health == 'up', seconds=intervals(faulty_stack, 2) + 1)


def test_vmalert_rule_error_puts_a_rule_in_error(faulty_stack):
    faulty_stack.set_fault('vmalert-rule-error')
    rule = wait_for('a rule in error', lambda: faulty_stack.rules().get('ProxmoxNodeDownByName'),
                    done=lambda rule: rule and rule['health'] == 'err', seconds=intervals(faulty_stack, 3))
    assert 'cannot compile regex' in rule['lastError']
    faulty_stack.clear_faults()
    wait_for('the broken rule unloaded', faulty_stack.rules, done=lambda rules: 'ProxmoxNodeDownByName' not in rules,
             seconds=intervals(faulty_stack, 1))


def test_logs_not_ingested_accepts_lines_and_drops_them(faulty_stack):
    faulty_stack.set_fault('logs-not-ingested')
    marker = 'qa-dropped-' + uuid.uuid4().hex[:8]
    faulty_stack.ingest({'_msg': marker, 'kubernetes': {'namespace_name': 'proxqa', 'pod_name': 'probe-2'}})
    assert faulty_stack.logs(marker) == []


def test_grafana_down_fails_health_and_search(faulty_stack):
    faulty_stack.set_fault('grafana-down')
    health = faulty_stack.get('grafana_url', '/api/health')
    assert (health.status_code, health.json()['database']) == (503, 'failing')
    assert faulty_stack.get('grafana_url', '/api/search', type='dash-db').status_code == 500


def test_pve_api_errors_lift_the_error_rate_above_one_percent(faulty_stack):
    before = wait_for('a CCM error ratio', lambda: faulty_stack.value(CCM_ERROR_RATIO),
                      done=lambda ratio: ratio is not None, seconds=intervals(faulty_stack, 3))
    assert before < 0.01
    faulty_stack.set_fault('pve-api-errors')
    wait_for('the CCM error ratio above 1 %', lambda: faulty_stack.value(CCM_ERROR_RATIO),
             done=lambda ratio: ratio > 0.01, seconds=intervals(faulty_stack, 3))
