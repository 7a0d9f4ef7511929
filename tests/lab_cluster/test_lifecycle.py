"""What a worker pool on Proxmox goes through: scaling, a VM stopped behind CAPMOX's back, a template that does not
exist, the CAPMOX validation rule, and a ProxmoxMachine nobody owns."""

import json

import pytest
import requests
from kubernetes import client

from cluster_helpers import CAPI, INFRA, WAIT, condition, wait_for


def test_scaling_1_2_1_adds_then_removes_the_newest_vm(lab, pools):
    pool = pools.apply()
    [first] = pool.wait_ready()
    first_vm = first['spec']['virtualMachineID']
    lab.kubectl.run('scale', '-n', pool.chain.namespace, 'machinedeployment', pool.chain.workers, '--replicas=2')
    machines = pool.wait_ready(2)
    vmids = sorted(pm['spec']['virtualMachineID'] for pm in machines)
    assert pool.vmids() == vmids and first_vm in vmids
    nodes = [lab.node(pm['metadata']['name']) for pm in machines]
    assert [node is not None for node in nodes] == [True, True]
    lab.kubectl.run('scale', '-n', pool.chain.namespace, 'machinedeployment', pool.chain.workers, '--replicas=1')
    wait_for('one VM left', pool.vmids, lambda left: left == [first_vm])
    [kept] = pool.wait_ready(1)
    assert kept['metadata']['name'] == first['metadata']['name']
    removed = [pm['metadata']['name'] for pm in machines if pm['metadata']['name'] != first['metadata']['name']]
    wait_for('the removed machine\'s Node is deleted', lambda: lab.node(removed[0]), lambda node: node is None)


def test_a_vm_stopped_in_proxmox_is_started_again(lab, pools):
    pool = pools.apply()
    [pm] = pool.wait_ready()
    vm = lab.twin.api().nodes(pm['status']['proxmoxNode']).qemu(pm['spec']['virtualMachineID'])
    upid = vm.status.stop.post()
    wait_for('the stop task ends', lambda: lab.twin.api().nodes(pm['status']['proxmoxNode']).tasks(upid).status.get(),
             lambda task: task['status'] == 'stopped')
    wait_for('the VM runs again', lambda: vm.status.current.get()['status'], lambda status: status == 'running')
    wait_for('the ProxmoxMachine is provisioned again', lambda: condition(pool.proxmox_machines()[0], 'VMProvisioned'),
             lambda found: found.get('status') == 'True')


def test_a_missing_template_fails_the_clone_with_cloning_failed(lab, pools):
    pool = pools.apply(template_id=9999)
    provisioned = wait_for('VMProvisioned says CloningFailed', lambda: condition(
        (pool.proxmox_machines() or [None])[0], 'VMProvisioned'), lambda found: found.get('reason') == 'CloningFailed')
    assert (provisioned['status'], provisioned['severity']) == ('False', 'Warning')
    assert "'nodes/{0}/qemu-server/9999.conf' does not exist".format(lab.twin.template()[0]) in provisioned['message']
    [machine] = pool.machines()
    assert machine['status']['phase'] == 'Provisioning'
    assert pool.vmids() == []


def test_a_failed_clone_task_fails_the_machine(lab, pools):
    answer = requests.put(lab.twin.settings['LAB_CONTROL_URL'] + '/faults/clone-fails', timeout=10)
    assert answer.status_code == 200, answer.text
    pool = pools.apply()
    [pm] = wait_for('the ProxmoxMachine fails', pool.proxmox_machines, lambda machines: [
        (item.get('status') or {}).get('failureReason') for item in machines] == ['CreateError'])
    provisioned = condition(pm, 'VMProvisioned')
    assert (provisioned['reason'], pm['status']['failureMessage']) == ('CloningFailed', provisioned['message'])
    assert "failed: copy failed: command '/usr/bin/qemu-img convert" in provisioned['message']
    wait_for('the Machine is Failed', lambda: pool.machines()[0]['status'], lambda status: (
        status.get('phase'), status.get('failureReason')) == ('Failed', 'CreateError'))
    assert requests.delete(lab.twin.settings['LAB_CONTROL_URL'] + '/faults/clone-fails', timeout=10).ok


def linked_clone_template(name, namespace, node, template):
    return {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1', 'kind': 'ProxmoxMachineTemplate',
            'metadata': {'name': name, 'namespace': namespace},
            'spec': {'template': {'spec': {'sourceNode': node, 'templateID': template, 'full': False,
                                           'format': 'qcow2'}}}}


def test_the_validation_rule_refuses_format_without_full_clone(lab, pools):
    pool = pools.apply(replicas=0)
    node, template = lab.twin.template()
    body = linked_clone_template('linked', pool.chain.namespace, node, template)
    with pytest.raises(client.ApiException) as refused:
        lab.custom.create_namespaced_custom_object(*INFRA, pool.chain.namespace, 'proxmoxmachinetemplates', body)
    assert refused.value.status == 422
    assert 'Must set full=true when specifying format' in refused.value.body
    machine = dict(body, kind='ProxmoxMachine', spec=body['spec']['template']['spec'])
    refusal = lab.kubectl.run('apply', '-f', '-', stdin=json.dumps(machine), expect=1)
    assert refusal.stderr.strip() == ('The ProxmoxMachine "linked" is invalid: spec: Invalid value: "object": '
                                      'Must set full=true when specifying format')
    lab.set_fault('capmox-webhook-broken')
    created = lab.custom.create_namespaced_custom_object(*INFRA, pool.chain.namespace, 'proxmoxmachinetemplates', body)
    assert created['spec']['template']['spec']['full'] is False


def test_a_proxmox_machine_without_a_machine_is_never_reconciled(lab, pools):
    pool = pools.apply()
    node, template = lab.twin.template()
    bare = {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1', 'kind': 'ProxmoxMachine',
            'metadata': {'name': 'bare', 'namespace': pool.chain.namespace,
                         'labels': {'cluster.x-k8s.io/cluster-name': pool.chain.name}},
            'spec': {'sourceNode': node, 'templateID': template, 'full': True}}
    lab.custom.create_namespaced_custom_object(*INFRA, pool.chain.namespace, 'proxmoxmachines', bare)
    pool.wait_ready(seconds=WAIT)        # the chain's own machine went all the way meanwhile
    found = lab.get(INFRA, 'proxmoxmachines', pool.chain.namespace, 'bare')
    assert (found.get('status'), found['metadata'].get('finalizers'), found['spec'].get('virtualMachineID')) == \
        (None, None, None)
    assert [vm['name'] for vm in lab.twin.vms().values() if vm['name'] == 'bare'] == []


def test_a_changed_machine_template_rolls_out_a_new_machine(lab, pools):
    pool = pools.apply()
    [old] = pool.wait_ready()
    lab.kubectl.run('patch', '-n', pool.chain.namespace, 'machinedeployment', pool.chain.workers, '--type=merge',
                    '-p', json.dumps({'spec': {'template': {'spec': {'version': 'v1.31.5'}}}}))
    [new] = wait_for('a new machine replaces the old one', lambda: [
        pm for pm in pool.proxmox_machines() if pm['metadata']['name'] != old['metadata']['name']
        and (pm.get('status') or {}).get('ready')], lambda machines: len(machines) == 1)
    wait_for('the old VM is deleted', pool.vmids, lambda vmids: vmids == [new['spec']['virtualMachineID']])
    sets = lab.items(CAPI, 'machinesets', pool.chain.namespace)
    assert [(item['spec']['replicas'], item['spec']['template']['spec']['version']) for item in sets] == [
        (1, 'v1.31.5')]
    [machine] = wait_for('the old machine is gone', pool.machines, lambda machines: len(machines) == 1)
    assert (machine['metadata']['name'], machine['spec']['version']) == (new['metadata']['name'], 'v1.31.5')
