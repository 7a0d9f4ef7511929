"""At a time scale above 0 (a twin and lab.cluster at 0.05: a 30 s clone takes 1.5 s) the phases of a machine
and of its node can be watched one after the other."""

import threading

import pytest
from kubernetes import watch
from urllib3.exceptions import ProtocolError

from cluster_helpers import CAPI, INFRA, Chain, Pool, chain_manifest, run_lab, start_cluster, start_twin, stop_cluster

SCALE = '0.05'
WATCH_SECONDS = 60


@pytest.fixture(scope='module')
def slow_lab(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp('slow-twin')
    twin = start_twin(state_dir, '--time-scale', SCALE)
    lab = start_cluster(tmp_path_factory.mktemp('slow-cluster'), twin, '--time-scale', SCALE)
    yield lab
    lab.close()
    status = stop_cluster(lab.process)
    run_lab('down', '--state-dir', state_dir)
    assert status == 0


class Recorder(object):
    """Records, from a watch in a thread, what `seen(object)` says about each change (repeats collapsed)."""

    def __init__(self, list_call, seen, *args):
        self.seen = seen
        self.changes = []
        self._stopping = False
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(list_call, args), daemon=True)
        self._thread.start()

    def _run(self, list_call, args):
        try:
            for event in self._watch.stream(list_call, *args, timeout_seconds=WATCH_SECONDS):
                found = event['object']
                value = self.seen(found if isinstance(found, dict) else found.to_dict())
                if value is not None and (not self.changes or self.changes[-1] != value):
                    self.changes.append(value)
        except ProtocolError:
            if not self._stopping:      # the server ended the stream while the test still watched
                raise

    def stop(self):
        """Stop at the next event (or when the server ends the stream) and wait for that."""
        self._stopping = True
        self._watch.stop()
        self._thread.join(WATCH_SECONDS)


@pytest.fixture
def recorders():
    made = []

    def record(list_call, seen, *args):
        made.append(Recorder(list_call, seen, *args))
        return made[-1]
    yield record
    for recorder in made:
        recorder._stopping = True
        recorder._watch.stop()


def provisioned(namespace):
    def reason(pm):
        if pm['metadata']['namespace'] != namespace:
            return None
        found = next((item for item in (pm.get('status') or {}).get('conditions') or ()
                      if item['type'] == 'VMProvisioned'), None)
        return found and (found.get('reason') or found['status'])
    return reason


def machine_phase(namespace):
    def phase(machine):
        return (machine.get('status') or {}).get('phase') if machine['metadata']['namespace'] == namespace else None
    return phase


def readiness(node):
    ready = next(item for item in node['status']['conditions'] if item['type'] == 'Ready')
    return ready['status'], sorted(taint['key'] for taint in node['spec']['taints'] or ())


def test_the_phases_of_a_machine_and_its_node_follow_each_other(slow_lab, recorders):
    chain = Chain('qa-slow', 'slow')
    machines = recorders(slow_lab.custom.list_cluster_custom_object, provisioned(chain.namespace), *INFRA,
                         'proxmoxmachines')
    nodes = recorders(slow_lab.tenant_core.list_node, readiness)
    phases = recorders(slow_lab.custom.list_cluster_custom_object, machine_phase(chain.namespace), *CAPI, 'machines')
    manifest = chain_manifest(chain, slow_lab.twin)
    slow_lab.kubectl.run('apply', '-f', '-', stdin=manifest)
    Pool(slow_lab, chain, manifest).wait_ready(seconds=WATCH_SECONDS)
    slow_lab.kubectl.run('delete', '-f', '-', '--ignore-not-found', '--wait=true', '--timeout=60s', stdin=manifest)
    machines.stop()
    nodes.stop()
    phases.stop()
    assert phases.changes == ['Pending', 'Provisioning', 'Provisioned', 'Running', 'Deleting']
    waiting = ('WaitingForClusterInfrastructure', 'WaitingForBootstrapData')
    assert [reason for reason in machines.changes if reason not in waiting] == [
        'Cloning', 'WaitingForDiskReconcilation', 'WaitingForStaticIPAllocation', 'WaitingForBootstrapReady',
        'WaitingForVMPowerUp', 'PoweringOn', 'True', 'VMTerminated']
    # The CNI clears the taint and the kubelet reports Ready in two writes, in either order.
    assert (nodes.changes[0], nodes.changes[-1]) == (
        ('False', ['node.cilium.io/agent-not-ready', 'node.cloudprovider.kubernetes.io/uninitialized']), ('True', []))
