"""Each fault of lab.cluster shows the real-world symptom, and clearing it lets the chain recover; the
MachineHealthCheck replaces a machine whose VM was destroyed in Proxmox."""

import base64

from proxmoxer.core import ResourceException

from cluster_helpers import CAPI, INFRA, WAIT, condition, wait_for
from lab.cluster.faults import CATALOGUE

FAULTS = sorted(fault.name for fault in CATALOGUE)


def test_the_control_api_lists_its_faults_and_refuses_unknown_ones(lab):
    listed = lab.control('GET', '/faults').json()
    assert (sorted(fault['name'] for fault in listed['known']), listed['active']) == (FAULTS, [])
    unknown = lab.control('PUT', '/faults/pve-down')
    assert (unknown.status_code, 'unknown fault' in unknown.json()['error']) == (400, True)
    valued = lab.control('PUT', '/faults/mhc-disabled', {'value': '1'})
    assert (valued.status_code, 'takes no value' in valued.json()['error']) == (400, True)
    assert lab.control('GET', '/faults').json()['active'] == []


def capmox_pod(lab):
    [pod] = lab.core.list_namespaced_pod('cozy-cluster-api', label_selector='cluster.x-k8s.io/provider='
                                         'infrastructure-proxmox').items
    return pod


def test_capmox_down_crash_loops_and_stops_reconciling(lab, pools):
    lab.set_fault('capmox-down')
    deployment = lab.apps.read_namespaced_deployment('capmox-controller-manager', 'cozy-cluster-api')
    assert (deployment.status.available_replicas, deployment.status.unavailable_replicas) == (None, 1)
    status = capmox_pod(lab).status.container_statuses[0]
    assert (status.ready, status.state.waiting.reason, status.restart_count >= 5) == (False, 'CrashLoopBackOff', True)
    pool = pools.apply()
    wait_for('the kubeadm bootstrap waits for the cluster infrastructure', lambda: [
        condition(item, 'DataSecretAvailable').get('reason') for item in lab.custom.list_namespaced_custom_object(
            'bootstrap.cluster.x-k8s.io', 'v1beta1', pool.chain.namespace, 'kubeadmconfigs')['items']],
        lambda reasons: reasons == ['WaitingForClusterInfrastructure'])
    cluster = pool.proxmox_cluster()
    assert (cluster.get('status'), cluster['metadata'].get('finalizers')) == (None, None)
    assert [pm['metadata'].get('finalizers') for pm in pool.proxmox_machines()] == [None]
    lab.clear_faults()
    pool.wait_ready()
    status = capmox_pod(lab).status.container_statuses[0]
    assert (status.ready, status.restart_count) == (True, 0)


def test_capi_operator_down_makes_its_deployment_unavailable_until_cleared(lab):
    lab.set_fault('capi-operator-down')
    deployment = lab.apps.read_namespaced_deployment('capi-operator', 'cozy-cluster-api')
    assert (deployment.status.available_replicas, deployment.status.unavailable_replicas) == (None, 1)
    lab.clear_faults()
    deployment = lab.apps.read_namespaced_deployment('capi-operator', 'cozy-cluster-api')
    assert deployment.status.available_replicas == 1


def test_capmox_too_new_states_v0_8_until_cleared(lab):
    def version():
        provider = lab.custom.get_namespaced_custom_object('operator.cluster.x-k8s.io', 'v1alpha2', 'cozy-cluster-api',
                                                           'infrastructureproviders', 'proxmox')
        return provider['spec']['version'], provider['status']['installedVersion']
    lab.set_fault('capmox-too-new')
    assert version() == ('v0.8.1', 'v0.8.1')
    lab.clear_faults()
    assert version() == ('v0.7.4', 'v0.7.4')


def test_capmox_url_suffix_makes_every_call_fail(lab, pools):
    lab.set_fault('capmox-url-suffix')
    secret = lab.core.read_namespaced_secret('capmox-manager-credentials', 'cozy-cluster-api')
    assert base64.b64decode(secret.data['url']).decode() == lab.twin.url + '/api2/json'
    pool = pools.apply()
    ready = wait_for('the ProxmoxCluster reports Proxmox unreachable', lambda: condition(
        pool.proxmox_cluster(), 'ClusterReady'), lambda found: found.get('reason') == 'ProxmoxUnreachable')
    assert ready['status'] == 'False'
    assert "501 Method 'GET /api2/json/nodes' not implemented" in ready['message'], ready
    assert pool.proxmox_cluster()['status']['ready'] is False
    lab.clear_faults()
    pool.wait_ready()


def test_ipam_missing_keeps_the_cluster_from_becoming_ready(lab, pools):
    lab.set_fault('ipam-missing')
    crds = lambda: sorted(crd.metadata.name for crd in lab.apiextensions.list_custom_resource_definition().items
                          if crd.metadata.name.endswith('.ipam.cluster.x-k8s.io'))
    wait_for('the IPAM CRDs are gone', crds, lambda names: names == [])
    pool = pools.apply()
    ready = wait_for('the ProxmoxCluster says why it is not ready', lambda: condition(
        pool.proxmox_cluster(), 'ClusterReady'), lambda found: found.get('status') == 'False')
    assert 'no matches for kind "InClusterIPPool" in version "ipam.cluster.x-k8s.io/v1alpha2"' in ready['message']
    lab.clear_faults()
    wait_for('the IPAM CRDs are back', crds, lambda names: len(names) == 4)
    pool.wait_ready()


def test_node_taint_stuck_keeps_the_node_not_ready(lab, pools):
    lab.set_fault('node-taint-stuck')
    pool = pools.apply()
    name = wait_for('a machine', pool.machines, lambda machines: len(machines) == 1)[0]['metadata']['name']
    node = wait_for('the node is initialized by the cloud provider', lambda: lab.node(name), lambda found: found and [
        taint['key'] for taint in found['spec']['taints'] or ()] == ['node.cilium.io/agent-not-ready'])
    ready = next(item for item in node['status']['conditions'] if item['type'] == 'Ready')
    assert (ready['status'], ready['reason']) == ('False', 'KubeletNotReady')
    assert 'cni plugin not initialized' in ready['message']
    assert (pool.machine_deployment()['status'].get('readyReplicas'), pool.machine_deployment()['status']['phase']) == (
        0, 'ScalingUp')
    lab.clear_faults()
    pool.wait_ready()
    assert lab.node(name)['spec']['taints'] is None


def destroy_vm(lab, pm):
    """Stop and delete a machine's VM with the Proxmox API (the CAPMOX token), behind CAPMOX's back. CAPMOX may
    start it again in between (its power reconciliation): then stop it again."""
    node = pm['status']['proxmoxNode']
    api = lab.twin.api()
    vm = api.nodes(node).qemu(pm['spec']['virtualMachineID'])

    def run(call):
        upid = call()
        return wait_for('task {0}'.format(upid), lambda: api.nodes(node).tasks(upid).status.get(),
                        lambda task: task['status'] == 'stopped')

    def stopped_and_deleted():
        run(vm.status.stop.post)
        try:
            return run(lambda: vm.delete(purge=1))['exitstatus'] == 'OK'
        except ResourceException as err:
            if 'is running' not in str(err):
                raise
            return False
    wait_for('VM {0} is deleted'.format(pm['spec']['virtualMachineID']), stopped_and_deleted, lambda done: done)


def test_a_machine_whose_vm_was_destroyed_is_replaced(lab, pools):
    pool = pools.apply(health_check=True)
    [pm] = pool.wait_ready()
    destroy_vm(lab, pm)
    wait_for('a new machine replaces the old one', pool.machines, lambda machines: [
        machine['metadata']['name'] for machine in machines] not in ([], [pm['metadata']['name']]))
    [new] = pool.wait_ready(seconds=WAIT)
    assert (new['metadata']['name'] != pm['metadata']['name'], pool.vmids()) == (
        True, [new['spec']['virtualMachineID']])
    wait_for('the health check sees one healthy machine', lambda: lab.get(
        CAPI, 'machinehealthchecks', pool.chain.namespace, pool.chain.workers)['status'],
        lambda status: (status['expectedMachines'], status['currentHealthy']) == (1, 1))


def test_mhc_disabled_reports_but_does_not_remediate(lab, pools):
    lab.set_fault('mhc-disabled')
    pool = pools.apply(health_check=True)
    [pm] = pool.wait_ready()
    destroy_vm(lab, pm)
    [machine] = wait_for('the machine is reported unhealthy', pool.machines, lambda machines: [
        condition(item, 'HealthCheckSucceeded').get('reason') for item in machines] == ['UnhealthyNode'])
    assert machine['metadata']['name'] == pm['metadata']['name']
    assert condition(machine, 'OwnerRemediated') == {}
    status = lab.get(CAPI, 'machinehealthchecks', pool.chain.namespace, pool.chain.workers)['status']
    assert (status['expectedMachines'], status['currentHealthy']) == (1, 0)
    assert condition(lab.get(INFRA, 'proxmoxmachines', pool.chain.namespace, pm['metadata']['name']),
                     'VMProvisioned')['reason'] == 'NotFound'
    lab.clear_faults()
    [new] = pool.wait_ready()
    assert new['metadata']['name'] != pm['metadata']['name']
