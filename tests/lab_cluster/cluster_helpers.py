"""Helpers of the lab.cluster tests: start a twin (`python -m lab up`) and `python -m lab.cluster` against it, and
drive them only with real clients: the `kubernetes` package, kubectl, and proxmoxer."""

import json
import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client, config
from proxmoxer import ProxmoxAPI

from tests import polling

REPO = Path(__file__).resolve().parents[2]
LAB_PYTHON = REPO / '.venv-lab' / 'bin' / 'python'
KUBECTL = Path(sys.executable).parent / 'kubectl'
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
WAIT = 30.0                # seconds a change may take at time scale 0 (polls have floors of up to 1 s)
CAPI = ('cluster.x-k8s.io', 'v1beta1')
INFRA = ('infrastructure.cluster.x-k8s.io', 'v1alpha1')
IPAM = ('ipam.cluster.x-k8s.io', 'v1beta1')
POOL_RANGE = '192.0.2.200-192.0.2.239'     # outside the standard seed's guest DHCP range (.100-.199)
GATEWAY = '192.0.2.1'


def wait_for(what, probe, done, seconds=WAIT, pause=0.05):
    """tests.polling.wait_for with this folder's defaults: the lab cluster answers within WAIT, polled finely."""
    __tracebackhide__ = True
    return polling.wait_for(what, probe, done, seconds, pause)


def condition(obj, kind):
    """The condition of that type in obj's status, or {}."""
    return next((item for item in ((obj or {}).get('status') or {}).get('conditions') or ()
                 if item.get('type') == kind), {})


# ---------------------------------------------------------------------------------------------------- twin

def run_lab(*args):
    done = subprocess.run([sys.executable, '-m', 'lab', *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, 'python -m lab {0} failed ({1}): {2}'.format(' '.join(map(str, args)),
                                                                           done.returncode, done.stderr)
    return done


@dataclass(frozen=True)
class Twin:
    settings: dict
    state_dir: Path

    @property
    def url(self):
        return 'https://{0}:{1}'.format(self.settings['PROXMOX_HOST'], self.settings['PROXMOX_PORT'])

    def api(self, prefix='PROXMOX_CAPMOX'):
        """proxmoxer with the token PREFIX_TOKEN_ID / _SECRET (PROXMOX: the suite's auditor token)."""
        user, _, name = self.settings[prefix + '_TOKEN_ID'].partition('!')
        return ProxmoxAPI(self.settings['PROXMOX_HOST'], port=int(self.settings['PROXMOX_PORT']), user=user,
                          token_name=name, token_value=self.settings[prefix + '_TOKEN_SECRET'],
                          verify_ssl=self.settings['PROXMOX_CA_BUNDLE'])

    def vms(self):
        """vmid -> the /cluster/resources record of every VM but templates, as the suite's token sees them."""
        return dict((vm['vmid'], vm) for vm in self.api('PROXMOX').cluster.resources.get(type='vm')
                    if not vm.get('template'))

    def template(self):
        """(node, vmid) of the seed's cloud-init template."""
        name = self.settings['TEST_VM_TEMPLATE']
        found = next(vm for vm in self.api('PROXMOX').cluster.resources.get(type='vm') if vm['name'] == name)
        return found['node'], found['vmid']

    def isos(self, node):
        storage = self.settings['TEST_ISO_STORAGE']
        return [item['volid'] for item in self.api('PROXMOX').nodes(node).storage(storage).content.get()]

    def tokens(self):
        """The JSON lab.cluster reads on stdin."""
        return json.dumps(dict((role, {'token_id': self.settings['PROXMOX_{0}_TOKEN_ID'.format(role.upper())],
                                       'token_secret': self.settings['PROXMOX_{0}_TOKEN_SECRET'.format(role.upper())]})
                               for role in ('capmox', 'ccm', 'csi')))


def start_twin(state_dir, *extra):
    done = run_lab('up', '--json', '--state-dir', state_dir, '--watch-pid', os.getpid(), *extra)
    return Twin(json.loads(done.stdout)['settings'], Path(state_dir))


# ------------------------------------------------------------------------------------------- lab.cluster

@dataclass
class ClusterLab:
    """A running `python -m lab.cluster` and real clients of its two clusters."""
    process: subprocess.Popen
    ready: dict
    state_dir: Path
    twin: Twin

    def __post_init__(self):
        self.mgmt = config.new_client_from_config(config_file=self.ready['mgmt_kubeconfig'])
        self.tenant = config.new_client_from_config(config_file=self.ready['tenant_kubeconfig'])
        self.custom = client.CustomObjectsApi(self.mgmt)
        self.core = client.CoreV1Api(self.mgmt)
        self.apps = client.AppsV1Api(self.mgmt)
        self.apiextensions = client.ApiextensionsV1Api(self.mgmt)
        self.tenant_core = client.CoreV1Api(self.tenant)
        self.tenant_leases = client.CoordinationV1Api(self.tenant)
        self.kubectl = Kubectl(Path(self.ready['mgmt_kubeconfig']), self.state_dir / 'kubectl-cache')

    def get(self, api, plural, namespace, name):
        """A custom object (api: CAPI, INFRA or IPAM), or None when it does not exist."""
        try:
            return self.custom.get_namespaced_custom_object(*api, namespace, plural, name)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise

    def items(self, api, plural, namespace):
        return self.custom.list_namespaced_custom_object(*api, namespace, plural)['items']

    def node(self, name):
        try:
            return self.tenant_core.read_node(name).to_dict()
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise

    def control(self, method, path, body=None):
        return requests.request(method, self.ready['control_url'] + path, json=body, timeout=10)

    def set_fault(self, name):
        answer = self.control('PUT', '/faults/' + name)
        assert answer.status_code == 200, 'setting {0}: {1} {2}'.format(name, answer.status_code, answer.text)

    def clear_faults(self):
        answer = self.control('DELETE', '/faults')
        assert answer.status_code == 200, answer.text

    def close(self):
        self.mgmt.close()
        self.tenant.close()


def cluster_command(state_dir, twin, *extra, watch_pid=None):
    return [str(LAB_PYTHON), '-m', 'lab.cluster', '--host', twin.settings['PROXMOX_HOST'], '--mgmt-port', '0',
            '--tenant-port', '0', '--state-dir', str(state_dir), '--pve-url', twin.url,
            '--pve-ca', twin.settings['PROXMOX_CA_BUNDLE'], '--watch-pid', str(watch_pid or os.getpid()), *extra]


def start_cluster(state_dir, twin, *extra, watch_pid=None):
    """`python -m lab.cluster` against the twin (tokens on stdin); fails with its log when it does not print its
    ready line."""
    __tracebackhide__ = True
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / 'cluster.log', 'wb') as log:
        process = subprocess.Popen(cluster_command(state_dir, twin, *extra, watch_pid=watch_pid), cwd=REPO,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    process.stdin.write(twin.tokens().encode())
    process.stdin.close()
    readable, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline().decode() if readable else ''
    if not line.startswith('ready '):
        stop_cluster(process)
        pytest.fail('lab.cluster did not print its ready line within {0:g} s (got {1!r}); its log:\n{2}'.format(
            START_TIMEOUT, line, (state_dir / 'cluster.log').read_text(errors='replace')[-3000:]))
    return ClusterLab(process, json.loads(line[len('ready '):]), state_dir, twin)


def stop_cluster(process, sig=signal.SIGTERM):
    """Signal it and wait; its exit status. One that does not stop is killed, and that is an error."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError('lab.cluster did not stop within {0:g} s of signal {1}; killed it'.format(
            STOP_TIMEOUT, sig)) from None
    finally:
        process.stdout.close()


@dataclass(frozen=True)
class Kubectl:
    kubeconfig: Path
    cache_dir: Path

    def run(self, *args, stdin=None, expect=0):
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('KUBE'))
        done = subprocess.run([str(KUBECTL), '--kubeconfig', str(self.kubeconfig), '--cache-dir', str(self.cache_dir),
                               *args], input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, env=env)
        assert done.returncode == expect, 'kubectl {0} exited {1}, expected {2}\nstdout: {3}\nstderr: {4}'.format(
            ' '.join(args), done.returncode, expect, done.stdout, done.stderr)
        return done


# ------------------------------------------------------------------------------------------------ the chain

@dataclass(frozen=True)
class Chain:
    """The names of one Cluster -> ProxmoxCluster -> MachineDeployment -> ProxmoxMachineTemplate chain."""
    namespace: str
    name: str

    @property
    def workers(self):
        return self.name + '-workers'


def chain_manifest(chain, twin, replicas=1, template_id=None, cores=4, memory=4096, disk_gb=40, health_check=False,
                   dns_servers=(GATEWAY,), pool_range=POOL_RANGE):
    """The YAML a user applies for a worker pool on Proxmox (CAPI v1beta1, CAPMOX v1alpha1), with the twin's
    names; a MachineHealthCheck on Ready Unknown/False for 300 s when asked for."""
    node, template = twin.template()
    settings = twin.settings
    documents = [
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': chain.namespace}},
        {'apiVersion': 'cluster.x-k8s.io/v1beta1', 'kind': 'Cluster',
         'metadata': {'name': chain.name, 'namespace': chain.namespace},
         'spec': {'clusterNetwork': {'pods': {'cidrBlocks': ['10.244.0.0/16']}},
                  'infrastructureRef': {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1',
                                        'kind': 'ProxmoxCluster', 'name': chain.name}}},
        {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1', 'kind': 'ProxmoxCluster',
         'metadata': {'name': chain.name, 'namespace': chain.namespace},
         'spec': {'controlPlaneEndpoint': {'host': '192.0.2.250', 'port': 6443},
                  'ipv4Config': {'addresses': [pool_range], 'prefix': 24, 'gateway': GATEWAY},
                  'dnsServers': list(dns_servers), 'allowedNodes': settings['PROXMOX_NODES'].split(',')}},
        {'apiVersion': 'bootstrap.cluster.x-k8s.io/v1beta1', 'kind': 'KubeadmConfigTemplate',
         'metadata': {'name': chain.workers, 'namespace': chain.namespace},
         'spec': {'template': {'spec': {'joinConfiguration': {'nodeRegistration': {'kubeletExtraArgs': {
             'provider-id': "proxmox://'{{ ds.meta_data.instance_id }}'"}}}}}}},
        {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1', 'kind': 'ProxmoxMachineTemplate',
         'metadata': {'name': chain.workers, 'namespace': chain.namespace},
         'spec': {'template': {'spec': {
             'sourceNode': node, 'templateID': template if template_id is None else template_id, 'full': True,
             'format': 'raw', 'storage': settings['TEST_STORAGE_POOL'], 'numSockets': 1, 'numCores': cores,
             'memoryMiB': memory, 'disks': {'bootVolume': {'disk': 'scsi0', 'sizeGb': disk_gb}},
             'network': {'default': {'bridge': settings['TEST_NETWORK_BRIDGE'], 'model': 'virtio'}}}}}},
        {'apiVersion': 'cluster.x-k8s.io/v1beta1', 'kind': 'MachineDeployment',
         'metadata': {'name': chain.workers, 'namespace': chain.namespace},
         'spec': {'clusterName': chain.name, 'replicas': replicas, 'selector': {'matchLabels': {}},
                  'template': {'metadata': {'labels': {'pool': chain.workers}}, 'spec': {
                      'clusterName': chain.name, 'version': 'v1.31.4',
                      'bootstrap': {'configRef': {'apiVersion': 'bootstrap.cluster.x-k8s.io/v1beta1',
                                                  'kind': 'KubeadmConfigTemplate', 'name': chain.workers}},
                      'infrastructureRef': {'apiVersion': 'infrastructure.cluster.x-k8s.io/v1alpha1',
                                            'kind': 'ProxmoxMachineTemplate', 'name': chain.workers}}}}},
    ]
    if health_check:
        documents.append({
            'apiVersion': 'cluster.x-k8s.io/v1beta1', 'kind': 'MachineHealthCheck',
            'metadata': {'name': chain.workers, 'namespace': chain.namespace},
            'spec': {'clusterName': chain.name, 'maxUnhealthy': '100%',
                     'selector': {'matchLabels': {'pool': chain.workers}},
                     'unhealthyConditions': [{'type': 'Ready', 'status': 'Unknown', 'timeout': '300s'},
                                             {'type': 'Ready', 'status': 'False', 'timeout': '300s'}]}})
    return yaml.safe_dump_all(documents, sort_keys=False)


class Pool(object):
    """One applied chain, read through the clients."""

    def __init__(self, lab, chain, manifest):
        self.lab = lab
        self.chain = chain
        self.manifest = manifest

    def machine_deployment(self):
        return self.lab.get(CAPI, 'machinedeployments', self.chain.namespace, self.chain.workers)

    def machines(self):
        return self.lab.items(CAPI, 'machines', self.chain.namespace)

    def proxmox_machines(self):
        return self.lab.items(INFRA, 'proxmoxmachines', self.chain.namespace)

    def proxmox_cluster(self):
        return self.lab.get(INFRA, 'proxmoxclusters', self.chain.namespace, self.chain.name)

    def wait_ready(self, replicas=1, seconds=WAIT):
        """The ProxmoxMachines once `replicas` are ready and the MachineDeployment has as many ready replicas."""
        __tracebackhide__ = True
        wait_for('{0} ready replicas of {1}'.format(replicas, self.chain.workers),
                 lambda: ((self.machine_deployment() or {}).get('status') or {}),
                 lambda status: status.get('readyReplicas') == replicas and status.get('replicas') == replicas,
                 seconds)
        machines = [pm for pm in self.proxmox_machines() if not pm['metadata'].get('deletionTimestamp')
                    and any(ref['kind'] == 'Machine' for ref in pm['metadata'].get('ownerReferences') or ())]
        assert [(pm.get('status') or {}).get('ready') for pm in machines] == [True] * replicas, machines
        return machines

    def vmids(self):
        """VMIDs of the twin's VMs named like this chain's machines."""
        return sorted(vmid for vmid, vm in self.lab.twin.vms().items() if vm['name'].startswith(self.chain.workers))
