"""`python -m lab.cluster` as a process: its input, faults given at start, and how it stops."""

import json
import signal
import subprocess

from cluster_helpers import (COMMAND_TIMEOUT, REPO, STOP_TIMEOUT, Chain, chain_manifest, cluster_command, condition,
                             start_cluster, stop_cluster)


def test_tokens_missing_on_stdin_stop_it_without_showing_a_secret(twin, tmp_path):
    done = subprocess.run(cluster_command(tmp_path, twin), cwd=REPO, capture_output=True, text=True,
                          input=json.dumps({'capmox': {'token_secret': 'do-not-print-me'}}), timeout=COMMAND_TIMEOUT)
    assert done.returncode == 2, done.stderr
    assert '"capmox" must be an object with non-empty "token_id" and "token_secret"' in done.stderr
    assert 'do-not-print-me' not in done.stderr + done.stdout


def test_a_fault_given_at_start_is_active_from_the_start(twin, tmp_path):
    lab = start_cluster(tmp_path, twin, '--fault', 'capmox-down')
    try:
        assert lab.control('GET', '/faults').json()['active'] == [{'name': 'capmox-down', 'value': None}]
        deployment = lab.apps.read_namespaced_deployment('capmox-controller-manager', 'cozy-cluster-api')
        assert condition(deployment.to_dict(), 'Available')['reason'] == 'MinimumReplicasUnavailable'
    finally:
        lab.close()
        assert stop_cluster(lab.process, signal.SIGINT) == 0


def test_it_stops_once_the_watched_process_is_gone(twin, tmp_path):
    watched = subprocess.Popen(['sleep', '600'])
    lab = start_cluster(tmp_path, twin, watch_pid=watched.pid)
    lab.close()
    watched.kill()
    watched.wait()
    assert lab.process.wait(STOP_TIMEOUT) == 0
    lab.process.stdout.close()


def test_sigterm_stops_it_while_machines_are_being_reconciled(twin, tmp_path):
    """Stopping while controllers are busy (a pool being cloned, one retrying a missing template) ends the process.
    Repeated, because a lost cancellation hung it only now and then."""
    for attempt in range(4):
        lab = start_cluster(tmp_path / str(attempt), twin)
        for name, template in (('busy', None), ('failing', 9999)):
            chain = Chain('qa-{0}-{1}'.format(name, attempt), name)
            lab.kubectl.run('apply', '-f', '-', stdin=chain_manifest(chain, twin, replicas=3, template_id=template))
        lab.close()
        assert stop_cluster(lab.process) == 0, 'attempt {0}: see {1}'.format(attempt, tmp_path / str(attempt))
