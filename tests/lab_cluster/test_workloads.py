"""The scheduler, the kubelets' pod runtime and the workload controllers of lab.cluster, seen through the real
`kubernetes` client and kubectl: Deployments, DaemonSets, StatefulSets with volumes, Jobs, scheduling failures
in kube-scheduler's words, the system components of both clusters, and the faults about them."""

import ipaddress

import pytest

from cluster_helpers import WAIT, condition, wait_for
from workload_helpers import BUSYBOX, Cluster, new_space, pod_condition, ready

SELECTED_NODE = 'volume.kubernetes.io/selected-node'


def test_the_network_system_components_run_on_every_management_node(mgmt):
    cilium = wait_for('DaemonSet cilium is ready on the three nodes', lambda: mgmt.apps.read_namespaced_daemon_set(
        'cilium', 'cozy-cilium').status, lambda status: status is not None and status.number_ready == 3)
    assert (cilium.desired_number_scheduled, cilium.current_number_scheduled, cilium.number_available) == (3, 3, 3)
    agent = mgmt.apps.read_namespaced_daemon_set('cilium', 'cozy-cilium').spec.template.spec.containers[0]
    assert (agent.name, agent.image.startswith('quay.io/cilium/cilium:v1.16.')) == ('cilium-agent', True)
    for name in ('kube-ovn-cni', 'ovs-ovn'):
        wait_for(name + ' ready', lambda: mgmt.apps.read_namespaced_daemon_set(name, 'cozy-kubeovn').status,
                 lambda status: status is not None and status.number_ready == status.desired_number_scheduled == 3)
    for namespace, name, replicas in (('cozy-cilium', 'cilium-operator', 1), ('cozy-kubeovn', 'kube-ovn-controller', 1),
                                      ('kube-system', 'coredns', 2)):
        wait_for(name + ' available', lambda: mgmt.apps.read_namespaced_deployment(name, namespace).status,
                 lambda status: status is not None and status.available_replicas == replicas)
    dns = mgmt.core.read_namespaced_service('kube-dns', 'kube-system')
    assert (dns.spec.cluster_ip, [(port.name, port.port, port.protocol) for port in dns.spec.ports][:2]) == (
        '10.96.0.10', [('dns', 53, 'UDP'), ('dns-tcp', 53, 'TCP')])
    [pod] = mgmt.core.list_namespaced_pod('cozy-cilium', field_selector='spec.nodeName=srv1',
                                          label_selector='k8s-app=cilium').items
    assert (pod.status.host_ip, pod.status.pod_ip) == ('192.168.100.11', '192.168.100.11')


def test_a_deployment_runs_ready_pods_through_a_replica_set_and_rolls_out_a_new_template(space, lab):
    space.deployment('web', {'app': 'web'}, replicas=3)
    status = space.wait_deployment('web', 3)
    assert (status.replicas, status.updated_replicas, status.unavailable_replicas) == (3, 3, None)
    [replica_set] = space.cluster.apps.list_namespaced_replica_set(space.name).items
    template_hash = replica_set.metadata.labels['pod-template-hash']
    assert replica_set.metadata.name == 'web-' + template_hash
    assert replica_set.metadata.owner_references[0].kind == 'Deployment'
    pods = space.pods('app=web')
    assert all(pod['metadata']['name'].startswith('web-' + template_hash + '-') for pod in pods), pods
    assert all(ready(pod) and pod['status']['phase'] == 'Running' for pod in pods), pods
    assert all(ipaddress.ip_address(pod['status']['podIP']) in ipaddress.ip_network('10.244.0.0/16') for pod in pods)
    assert len(set(pod['status']['podIP'] for pod in pods)) == 3
    assert sorted(pod['spec']['nodeName'] for pod in pods) == ['srv1', 'srv2', 'srv3'], 'spread over the nodes'
    name = pods[0]['metadata']['name']
    reasons = [reason for _type, reason, _message, _source in space.events(name)]
    assert {'Scheduled', 'Pulling', 'Pulled', 'Created', 'Started'} <= set(reasons), reasons
    assert ('Normal', 'Scheduled', 'Successfully assigned {0}/{1} to {2}'.format(
        space.name, name, pods[0]['spec']['nodeName']), 'default-scheduler') in space.events(name)
    lab.kubectl.run('-n', space.name, 'set', 'image', 'deployment/web', 'main=nginx:1.28')
    wait_for('the rollout replaces every pod', lambda: space.pods('app=web'), lambda found: len(found) == 3 and all(
        pod['spec']['containers'][0]['image'] == 'nginx:1.28' and ready(pod) for pod in found))
    deployment = space.cluster.apps.read_namespaced_deployment('web', space.name)
    assert deployment.metadata.annotations['deployment.kubernetes.io/revision'] == '2'
    done = lab.kubectl.run('-n', space.name, 'rollout', 'status', 'deployment/web', '--timeout=30s')
    assert 'successfully rolled out' in done.stdout
    lab.kubectl.run('-n', space.name, 'scale', 'deployment/web', '--replicas=1')
    space.wait_deployment('web', 1)
    wait_for('scaled down to one pod', lambda: space.pods('app=web'), lambda found: len(found) == 1)


def test_a_pod_asking_for_more_cpu_than_any_node_has_stays_pending_with_the_schedulers_reason(space):
    space.pod('big', {'containers': [{'name': 'main', 'image': 'nginx:1.27', 'resources': {
        'requests': {'cpu': '64', 'memory': '64Mi'}}}]})
    pod = space.wait_pod('big', lambda found: pod_condition(found, 'PodScheduled').get('reason') == 'Unschedulable',
                         'unschedulable')
    message = ('0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption '
               'victims found for incoming pod.')
    assert (pod['status']['phase'], pod['spec'].get('nodeName'), pod_condition(pod, 'PodScheduled')['message']) == (
        'Pending', None, message)
    assert ('Warning', 'FailedScheduling', message, 'default-scheduler') in space.events('big')


def test_taints_and_node_selectors_decide_where_a_pod_may_run(space, mgmt):
    taint = {'key': 'example.com/dedicated', 'value': 'qa', 'effect': 'NoSchedule'}
    mgmt.core.patch_node('srv3', {'spec': {'taints': [taint]}})
    try:
        space.pod('pinned', {'nodeSelector': {'kubernetes.io/hostname': 'srv3'},
                             'containers': [{'name': 'main', 'image': 'nginx:1.27'}]})
        pod = space.wait_pod('pinned', lambda found: pod_condition(found, 'PodScheduled').get('status') == 'False',
                             'unschedulable')
        assert pod_condition(pod, 'PodScheduled')['message'] == (
            "0/3 nodes are available: 1 node(s) had untolerated taint {example.com/dedicated: qa}, 2 node(s) didn't "
            "match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
            "for scheduling.")
        space.pod('tolerant', {'nodeSelector': {'kubernetes.io/hostname': 'srv3'},
                               'tolerations': [{'key': 'example.com/dedicated', 'operator': 'Equal', 'value': 'qa',
                                                'effect': 'NoSchedule'}],
                               'containers': [{'name': 'main', 'image': 'nginx:1.27'}]})
        assert space.wait_pod('tolerant', ready, 'ready')['spec']['nodeName'] == 'srv3'
    finally:
        mgmt.core.patch_node('srv3', {'spec': {'taints': None}})
    assert space.wait_pod('pinned', ready, 'scheduled once the taint is gone')['spec']['nodeName'] == 'srv3'


def test_a_daemon_set_puts_one_pod_on_every_node(space):
    space.cluster.apps.create_namespaced_daemon_set(space.name, {'metadata': {'name': 'agent'}, 'spec': {
        'selector': {'matchLabels': {'app': 'agent'}}, 'template': {'metadata': {'labels': {'app': 'agent'}}, 'spec': {
            'containers': [{'name': 'main', 'image': BUSYBOX, 'command': ['sleep', '3600']}]}}}})
    status = wait_for('three ready daemon pods', lambda: space.cluster.apps.read_namespaced_daemon_set(
        'agent', space.name).status, lambda found: found is not None and found.number_ready == 3)
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_available,
            status.updated_number_scheduled, status.number_unavailable) == (3, 3, 3, 3, None)
    pods = space.pods('app=agent')
    assert sorted(pod['spec']['nodeName'] for pod in pods) == ['srv1', 'srv2', 'srv3']
    tolerated = [toleration['key'] for toleration in pods[0]['spec']['tolerations']]
    assert 'node.kubernetes.io/unreachable' in tolerated and 'node.kubernetes.io/not-ready' in tolerated


def test_a_job_completes_or_fails_after_its_backoff_limit_with_its_pods_logs(space, lab):
    succeeded, log = space.probe('echo hello from the probe; echo written > /tmp/out; cat /tmp/out')
    assert (succeeded, log) == (True, 'hello from the probe\nwritten\n')
    lab.kubectl.run('-n', space.name, 'create', 'job', 'broken', '--image=' + BUSYBOX, '--', 'sh', '-c',
                    'echo failing; exit 3')
    space.cluster.batch.patch_namespaced_job('broken', space.name, {'spec': {'backoffLimit': 1}})
    job = wait_for('the job fails', lambda: space.cluster.json(space.cluster.batch.read_namespaced_job(
        'broken', space.name)), lambda found: condition(found, 'Failed').get('status') == 'True', WAIT * 2)
    assert (condition(job, 'Failed')['reason'], job['status']['failed']) == ('BackoffLimitExceeded', 2)
    pods = space.pods('job-name=broken')
    assert [pod['status']['phase'] for pod in pods] == ['Failed', 'Failed']
    terminated = pods[0]['status']['containerStatuses'][0]['state']['terminated']
    assert (terminated['exitCode'], terminated['reason']) == (3, 'Error')
    assert space.cluster.core.read_namespaced_pod_log(pods[0]['metadata']['name'], space.name) == 'failing\n'
    done = lab.kubectl.run('-n', space.name, 'logs', 'job/broken')
    assert done.stdout == 'failing\n'


def test_a_pod_with_a_missing_or_immediately_unbound_claim_is_unschedulable(space, mgmt):
    space.pod('orphan', {'containers': [{'name': 'main', 'image': 'nginx:1.27'}],
                         'volumes': [{'name': 'data', 'persistentVolumeClaim': {'claimName': 'nothing'}}]})
    pod = space.wait_pod('orphan', lambda found: pod_condition(found, 'PodScheduled').get('status') == 'False',
                         'unschedulable')
    assert 'persistentvolumeclaim "nothing" not found' in pod_condition(pod, 'PodScheduled')['message']
    space.cluster.core.create_namespaced_persistent_volume_claim(space.name, {
        'metadata': {'name': 'immediate'}, 'spec': {'accessModes': ['ReadWriteOnce'], 'storageClassName': '',
                                                    'resources': {'requests': {'storage': '1Gi'}}}})
    space.pod('waiting', {'containers': [{'name': 'main', 'image': 'nginx:1.27'}],
                          'volumes': [{'name': 'data', 'persistentVolumeClaim': {'claimName': 'immediate'}}]})
    pod = space.wait_pod('waiting', lambda found: pod_condition(found, 'PodScheduled').get('status') == 'False',
                         'unschedulable')
    assert pod_condition(pod, 'PodScheduled')['message'] == (
        '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are '
        'available: 3 Preemption is not helpful for scheduling.')


class Provisioner(object):
    """Plays the CSI driver's side of the contract for a WaitForFirstConsumer class: a PV for the selected node,
    the claim bound, the volume attached."""

    def __init__(self, cluster, space):
        self.cluster = cluster
        self.space = space
        self.made = []

    def provision(self, claim_name):
        claim = self.cluster.core.read_namespaced_persistent_volume_claim(claim_name, self.space.name)
        node = claim.metadata.annotations[SELECTED_NODE]
        name = 'pvc-' + claim.metadata.uid
        self.cluster.core.create_persistent_volume({'metadata': {'name': name}, 'spec': {
            'capacity': {'storage': '1Gi'}, 'accessModes': ['ReadWriteOnce'], 'storageClassName': 'qa-wffc',
            'claimRef': {'namespace': self.space.name, 'name': claim_name, 'uid': claim.metadata.uid},
            'csi': {'driver': 'qa.example.com', 'volumeHandle': 'qa/' + name},
            'nodeAffinity': {'required': {'nodeSelectorTerms': [{'matchExpressions': [
                {'key': 'kubernetes.io/hostname', 'operator': 'In', 'values': [node]}]}]}}}})
        self.made.append(name)
        self.cluster.core.patch_namespaced_persistent_volume_claim(claim_name, self.space.name,
                                                                   {'spec': {'volumeName': name}})
        self.cluster.core.patch_namespaced_persistent_volume_claim_status(claim_name, self.space.name,
                                                                          {'status': {'phase': 'Bound'}})
        attachment = self.cluster.storage.create_volume_attachment({'metadata': {'name': 'csi-' + name}, 'spec': {
            'attacher': 'qa.example.com', 'nodeName': node, 'source': {'persistentVolumeName': name}}})
        self.made.append(attachment.metadata.name)
        return node, name

    def attach(self, attachment):
        self.cluster.storage.patch_volume_attachment_status(attachment, {'status': {'attached': True}})

    def remove(self):
        for name in self.made:
            if name.startswith('csi-'):
                self.cluster.storage.delete_volume_attachment(name)
            else:
                self.cluster.core.delete_persistent_volume(name)


@pytest.fixture
def provisioner(mgmt, space):
    mgmt.storage.create_storage_class({'metadata': {'name': 'qa-wffc'}, 'provisioner': 'qa.example.com',
                                       'volumeBindingMode': 'WaitForFirstConsumer'})
    made = Provisioner(mgmt, space)
    yield made
    made.remove()
    mgmt.storage.delete_storage_class('qa-wffc')


def test_a_stateful_set_waits_for_its_volume_and_keeps_its_data_across_pod_restarts(space, provisioner):
    script = 'test -f /data/first || echo "$HOSTNAME" > /data/first; cat /data/first; sleep 3600'
    space.cluster.apps.create_namespaced_stateful_set(space.name, {'metadata': {'name': 'db'}, 'spec': {
        'serviceName': 'db', 'replicas': 1, 'selector': {'matchLabels': {'app': 'db'}},
        'template': {'metadata': {'labels': {'app': 'db'}}, 'spec': {'containers': [{
            'name': 'main', 'image': BUSYBOX, 'command': ['sh', '-c', script],
            'volumeMounts': [{'name': 'data', 'mountPath': '/data'}]}]}},
        'volumeClaimTemplates': [{'metadata': {'name': 'data'}, 'spec': {
            'accessModes': ['ReadWriteOnce'], 'storageClassName': 'qa-wffc',
            'resources': {'requests': {'storage': '1Gi'}}}}]}})
    claim = wait_for('the scheduler selects a node for claim data-db-0', lambda: [
        item.metadata.annotations or {} for item in space.cluster.core.list_namespaced_persistent_volume_claim(
            space.name).items if item.metadata.name == 'data-db-0'],
        lambda found: SELECTED_NODE in (found or [{}])[0])[0]
    assert space.read_pod('db-0')['spec'].get('nodeName') is None, 'bound only once the claim is'
    node, volume = provisioner.provision('data-db-0')
    pod = space.wait_pod('db-0', lambda found: found['spec'].get('nodeName') == node
                         and found['status'].get('containerStatuses'), 'bound to the selected node')
    waiting = pod['status']['containerStatuses'][0]['state'].get('waiting', {})
    assert (claim[SELECTED_NODE], waiting.get('reason')) == (node, 'ContainerCreating'), 'waits for the attachment'
    provisioner.attach('csi-' + volume)
    space.wait_pod('db-0', ready, 'ready')
    assert space.cluster.core.read_namespaced_pod_log('db-0', space.name) == 'db-0\n'
    space.cluster.core.delete_namespaced_pod('db-0', space.name)
    wait_for('db-0 comes back and reads what it wrote', lambda: [
        (pod['metadata']['uid'], ready(pod)) for pod in space.pods('app=db')],
        lambda found: len(found) == 1 and found[0][0] != pod['metadata']['uid'] and found[0][1])
    assert space.cluster.core.read_namespaced_pod_log('db-0', space.name) == 'db-0\n'
    status = space.cluster.apps.read_namespaced_stateful_set('db', space.name).status
    assert (status.replicas, status.ready_replicas, status.current_revision == status.update_revision) == (1, 1, True)
    space.cluster.apps.patch_namespaced_stateful_set_scale('db', space.name, {'spec': {'replicas': 0}})
    wait_for('scaled to zero', lambda: space.pods('app=db'), lambda found: found == [])
    assert space.cluster.core.read_namespaced_persistent_volume_claim('data-db-0', space.name), 'claims are kept'


def test_scheduler_ignores_resources_places_an_oversized_pod_which_its_kubelet_rejects(space, lab):
    lab.set_fault('scheduler-ignores-resources')
    space.pod('big', {'containers': [{'name': 'main', 'image': 'nginx:1.27', 'resources': {
        'requests': {'cpu': '64'}}}]})
    pod = space.wait_pod('big', lambda found: found['status'].get('phase') == 'Failed', 'rejected by its kubelet')
    assert pod['spec']['nodeName'] in ('srv1', 'srv2', 'srv3')
    assert (pod['status']['reason'], pod['status']['message'].startswith(
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 64000, used: ")) == ('OutOfcpu', True)


def test_the_seeded_cluster_api_deployments_keep_their_pods(mgmt):
    for deployment in mgmt.apps.list_namespaced_deployment('cozy-cluster-api').items:
        assert deployment.status.available_replicas == 1, deployment.metadata.name
    pods = mgmt.core.list_namespaced_pod('cozy-cluster-api').items
    assert len(pods) == 5 and all(pod.status.phase == 'Running' for pod in pods), [pod.metadata.name for pod in pods]


def test_a_tenant_node_gets_its_network_agents_and_worker_image_pull_backoff_stops_new_pods(lab, pools):
    pool = pools.apply()
    pool.wait_ready()
    tenant = Cluster(lab.tenant)
    [node] = [item.metadata.name for item in tenant.core.list_node().items
              if item.metadata.name.startswith(pool.chain.workers)]
    for namespace, selector in (('cozy-cilium', 'k8s-app=cilium'), ('cozy-kubeovn', 'app=kube-ovn-cni'),
                                ('cozy-kubeovn', 'app=ovs')):
        wait_for('the {0} pod on {1} is ready'.format(selector, node), lambda: [
            ready(tenant.json(pod)) for pod in tenant.core.list_namespaced_pod(
                namespace, label_selector=selector, field_selector='spec.nodeName=' + node).items],
            lambda found: found == [True])
    wait_for('CoreDNS runs in the tenant cluster', lambda: tenant.apps.read_namespaced_deployment(
        'coredns', 'kube-system').status.available_replicas, lambda available: available == 2)
    space = new_space(tenant)
    try:
        space.pod('fine', {'nodeName': node, 'containers': [{'name': 'main', 'image': 'nginx:1.27'}]})
        pod = space.wait_pod('fine', ready, 'ready')
        assert ipaddress.ip_address(pod['status']['podIP']) in ipaddress.ip_network('10.243.0.0/16')
        lab.set_fault('worker-image-pull-backoff')
        space.pod('stuck', {'nodeName': node, 'containers': [{'name': 'main', 'image': 'nginx:1.27'}]})
        pod = space.wait_pod('stuck', lambda found: ((found['status'].get('containerStatuses') or [{}])[0].get(
            'state') or {}).get('waiting', {}).get('reason') == 'ImagePullBackOff', 'ImagePullBackOff')
        assert (pod['status']['phase'], ready(pod)) == ('Pending', False)
        messages = [message for _type, reason, message, _source in space.events('stuck') if reason == 'Failed']
        assert any(message.startswith('Failed to pull image "nginx:1.27": ') for message in messages), messages
        assert ready(space.read_pod('fine')), 'running pods keep running'
        lab.clear_faults()
        space.wait_pod('stuck', ready, 'pulled once the registry is reachable again')
    finally:
        space.delete()
