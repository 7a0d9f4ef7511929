"""The management cluster as seeded, and the Cluster -> ProxmoxCluster -> MachineDeployment ->
ProxmoxMachineTemplate chain: a running VM in the twin and a Ready Node in the tenant cluster, then nothing left."""

import base64
import ipaddress

import yaml

from cluster_helpers import CAPI, IPAM, POOL_RANGE, condition, wait_for

CAPI_CRDS = ('clusters', 'machines', 'machinesets', 'machinedeployments', 'machinehealthchecks')
INFRA_CRDS = ('proxmoxclusters', 'proxmoxmachines', 'proxmoxmachinetemplates')
IPAM_CRDS = ('inclusterippools', 'ipaddressclaims', 'ipaddresses')


def in_pool(address):
    first, last = (ipaddress.IPv4Address(end) for end in POOL_RANGE.split('-'))
    return first <= ipaddress.IPv4Address(address) <= last


def test_management_cluster_is_seeded_with_capi_and_capmox(lab):
    crds = set(crd.metadata.name for crd in lab.apiextensions.list_custom_resource_definition().items)
    wanted = ['{0}.cluster.x-k8s.io'.format(name) for name in CAPI_CRDS] + \
        ['{0}.infrastructure.cluster.x-k8s.io'.format(name) for name in INFRA_CRDS] + \
        ['{0}.ipam.cluster.x-k8s.io'.format(name) for name in IPAM_CRDS]
    assert sorted(set(wanted) - crds) == []
    for name in ('capi-operator', 'capmox-controller-manager'):
        deployment = lab.apps.read_namespaced_deployment(name, 'cozy-cluster-api')
        assert deployment.status.available_replicas == 1, deployment.status
    capmox = lab.apps.list_namespaced_deployment('cozy-cluster-api', label_selector='control-plane=controller-manager')
    assert 'capmox-controller-manager' in [item.metadata.name for item in capmox.items]
    pods = lab.core.list_namespaced_pod('cozy-cluster-api').items
    assert [(pod.status.phase, pod.status.container_statuses[0].ready, pod.status.container_statuses[0].restart_count)
            for pod in pods] == [('Running', True, 0)] * len(pods)
    providers = {}
    for plural in ('coreproviders', 'infrastructureproviders'):
        for item in lab.custom.list_namespaced_custom_object('operator.cluster.x-k8s.io', 'v1alpha2',
                                                             'cozy-cluster-api', plural)['items']:
            providers[item['metadata']['name']] = (item['status']['installedVersion'][:6],
                                                   condition(item, 'Ready').get('status'))
    assert providers == {'cluster-api': ('v1.10.', 'True'), 'proxmox': ('v0.7.4', 'True')}
    secret = lab.core.read_namespaced_secret('capmox-manager-credentials', 'cozy-cluster-api')
    assert sorted(secret.data) == ['secret', 'token', 'url']
    assert base64.b64decode(secret.data['url']).decode() == lab.twin.url


def test_chain_gives_a_running_vm_and_a_ready_node(lab, pools):
    pool = pools.apply(cores=4, memory=4096, disk_gb=40)
    [pm] = pool.wait_ready()
    vmid, node = pm['spec']['virtualMachineID'], pm['status']['proxmoxNode']
    vm = lab.twin.vms()[vmid]
    assert (vm['node'] in lab.twin.settings['PROXMOX_NODES'].split(','), vm['status']) == (True, 'running')
    config = lab.twin.api().nodes(node).qemu(vmid).config.get()
    assert (config['cores'], config['memory'], 'bridge=' + lab.twin.settings['TEST_NETWORK_BRIDGE'] in config['net0'],
            'size=40G' in config['scsi0']) == ('4', '4096', True, True), config
    interfaces = lab.twin.api().nodes(node).qemu(vmid).agent('network-get-interfaces').get()['result']
    guest = [address['ip-address'] for interface in interfaces if interface['name'] != 'lo'
             for address in interface['ip-addresses'] if address['ip-address-type'] == 'ipv4']
    assert len(guest) == 1 and in_pool(guest[0]), guest
    assert pm['spec']['providerID'] == 'proxmox://' + config['smbios1'].split('uuid=')[1]
    assert condition(pm, 'VMProvisioned')['status'] == 'True'
    assert {'type': 'InternalIP', 'address': guest[0]} in pm['status']['addresses']
    [machine] = pool.machines()
    assert (machine['status']['phase'], machine['status']['nodeRef']['name']) == (
        'Running', machine['metadata']['name'])
    node_object = lab.node(machine['metadata']['name'])
    labels = node_object['metadata']['labels']
    assert node_object['spec']['provider_id'] == pm['spec']['providerID']
    assert (labels['topology.kubernetes.io/zone'], labels['topology.kubernetes.io/region'],
            'node-role.kubernetes.io/worker' in labels) == (node, pool.chain.name, True)
    assert node_object['spec']['taints'] is None
    ready = next(item for item in node_object['status']['conditions'] if item['type'] == 'Ready')
    assert ready['status'] == 'True'
    assert (node_object['status']['capacity']['cpu'], node_object['status']['capacity']['memory']) == ('4', '4194304Ki')
    assert {'type': 'InternalIP', 'address': guest[0]} in node_object['status']['addresses']
    assert '{0}:iso/user-data-{1}.iso'.format(lab.twin.settings['TEST_ISO_STORAGE'], vmid) in lab.twin.isos(node)
    claims = lab.items(IPAM, 'ipaddressclaims', pool.chain.namespace)
    assert [claim['metadata']['name'] for claim in claims] == [pm['metadata']['name'] + '-net0-inet']
    md_status = pool.machine_deployment()['status']
    assert [md_status[field] for field in ('replicas', 'readyReplicas', 'updatedReplicas', 'availableReplicas')] == [
        1, 1, 1, 1]
    cluster = lab.get(CAPI, 'clusters', pool.chain.namespace, pool.chain.name)
    assert (cluster['status']['phase'], cluster['status']['infrastructureReady']) == ('Provisioned', True)
    kubeconfig = lab.core.read_namespaced_secret(pool.chain.name + '-kubeconfig', pool.chain.namespace)
    tenant = yaml.safe_load(base64.b64decode(kubeconfig.data['value']))
    assert tenant['clusters'][0]['cluster']['server'] == lab.ready['tenant_url']


def test_deleting_the_chain_leaves_nothing(lab, pools):
    pool = pools.apply()
    [pm] = pool.wait_ready()
    vmid, node, name = pm['spec']['virtualMachineID'], pm['status']['proxmoxNode'], pm['metadata']['name']
    lab.kubectl.run('delete', '-f', '-', '--ignore-not-found', '--wait=true', '--timeout=30s', stdin=pool.manifest)
    assert lab.core.list_namespace(field_selector='metadata.name=' + pool.chain.namespace).items == []
    assert pool.vmids() == []
    assert [volid for volid in lab.twin.isos(node) if 'user-data-{0}.iso'.format(vmid) in volid] == []
    assert lab.node(name) is None
    leases = lab.tenant_leases.list_namespaced_lease('kube-node-lease').items
    assert [lease.metadata.name for lease in leases if lease.metadata.name == name] == []


def test_a_proxmox_cluster_without_dns_servers_is_not_ready(lab, pools):
    pool = pools.apply(replicas=0, dns_servers=())
    ready = wait_for('the ProxmoxCluster says why it is not ready', lambda: condition(
        pool.proxmox_cluster(), 'ClusterReady'), lambda found: found.get('status') == 'False')
    assert (ready['reason'], ready['message']) == ('ReconcileError', 'dnsServers: at least one nameserver is required')
    cluster = lab.get(CAPI, 'clusters', pool.chain.namespace, pool.chain.name)
    assert cluster['status']['phase'] == 'Provisioning'


def test_machines_wait_for_an_address_when_the_pool_is_exhausted(lab, pools):
    pool = pools.apply(replicas=2, pool_range='192.0.2.240')
    exhausted = 'no free addresses in InClusterIPPool {0}/{1}-v4-icip'.format(pool.chain.namespace, pool.chain.name)
    found = wait_for('one machine is ready, one waits for an address', lambda: sorted(
        (item.get('reason') or item.get('status'), item.get('message', '')) for item in [
            condition(pm, 'VMProvisioned') for pm in pool.proxmox_machines()]), lambda seen: [
        reason for reason, message in seen if reason == 'True' or exhausted in message] == [
        'True', 'WaitingForStaticIPAllocation'])
    assert found[1][1] == 'IPAddressClaim {0}-net0-inet: {1}'.format(
        [pm['metadata']['name'] for pm in pool.proxmox_machines() if not pm['status'].get('ready')][0], exhausted)
    [ready] = [pm for pm in pool.proxmox_machines() if pm['status'].get('ready')]
    assert ready['status']['ipAddresses']['net0']['ipv4'] == '192.0.2.240'
