"""Helpers of the workload and network tests: namespaces, objects and probe Jobs through the real `kubernetes`
client, against either cluster of a started lab.cluster."""

import secrets
from dataclasses import dataclass

from kubernetes import client

from cluster_helpers import condition, wait_for

BUSYBOX = 'busybox:1.36'
NGINX = 'nginx:1.27'


@dataclass
class Cluster:
    """Typed APIs of one cluster of the lab."""
    api_client: object

    def __post_init__(self):
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.batch = client.BatchV1Api(self.api_client)
        self.networking = client.NetworkingV1Api(self.api_client)
        self.storage = client.StorageV1Api(self.api_client)
        self.discovery = client.DiscoveryV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    def json(self, model):
        """A typed object as the API server's JSON (camelCase keys)."""
        return self.api_client.sanitize_for_serialization(model)


class Space(object):
    """A namespace made for one test, with what the tests create in it."""

    def __init__(self, cluster, name, labels=None):
        self.cluster = cluster
        self.name = name
        cluster.core.create_namespace({'metadata': {'name': name, 'labels': labels or {}}})

    def delete(self):
        self.cluster.core.delete_namespace(self.name)

    # ------------------------------------------------------------------ objects

    def deployment(self, name, labels, replicas=1, image=NGINX, ports=(80,), command=None, **spec):
        container = {'name': 'main', 'image': image, 'ports': [{'containerPort': port} for port in ports]}
        if command:
            container['command'] = command
        body = {'metadata': {'name': name}, 'spec': {
            'replicas': replicas, 'selector': {'matchLabels': dict(labels)},
            'template': {'metadata': {'labels': dict(labels)}, 'spec': dict({'containers': [container]}, **spec)}}}
        return self.cluster.apps.create_namespaced_deployment(self.name, body)

    def service(self, name, selector, port=80, target=None, kind='ClusterIP'):
        body = {'metadata': {'name': name}, 'spec': {'type': kind, 'selector': dict(selector), 'ports': [
            {'name': 'http', 'port': port, 'targetPort': target or port, 'protocol': 'TCP'}]}}
        return self.cluster.core.create_namespaced_service(self.name, body)

    def pod(self, name, spec, labels=None):
        return self.cluster.core.create_namespaced_pod(self.name, {'metadata': {'name': name, 'labels': labels or {}},
                                                                   'spec': spec})

    def policy(self, name, spec):
        return self.cluster.networking.create_namespaced_network_policy(self.name, {'metadata': {'name': name},
                                                                                   'spec': spec})

    def read_pod(self, name):
        return self.cluster.json(self.cluster.core.read_namespaced_pod(name, self.name))

    def pods(self, selector=''):
        return [self.cluster.json(pod) for pod in self.cluster.core.list_namespaced_pod(
            self.name, label_selector=selector).items]

    def events(self, name):
        return [(event.type, event.reason, event.message, event.source.component)
                for event in self.cluster.core.list_namespaced_event(
                    self.name, field_selector='involvedObject.name=' + name).items]

    # ------------------------------------------------------------------ waiting

    def wait_deployment(self, name, replicas):
        __tracebackhide__ = True
        return wait_for('deployment {0} has {1} available replicas'.format(name, replicas),
                        lambda: self.cluster.apps.read_namespaced_deployment(name, self.name).status,
                        lambda status: status is not None and status.available_replicas == (replicas or None)
                        and status.ready_replicas == (replicas or None))

    def wait_pod(self, name, done, what):
        __tracebackhide__ = True
        return wait_for('pod {0}: {1}'.format(name, what), lambda: self.read_pod(name), done)

    def probe(self, script, labels=None, image=BUSYBOX, backoff_limit=0):
        """Run script as a one-pod Job (the suite's probe pattern); (succeeded, log of its pod)."""
        __tracebackhide__ = True
        name = 'probe-' + secrets.token_hex(3)
        self.cluster.batch.create_namespaced_job(self.name, {'metadata': {'name': name}, 'spec': {
            'backoffLimit': backoff_limit, 'template': {
                'metadata': {'labels': dict(labels or {})},
                'spec': {'restartPolicy': 'Never', 'containers': [
                    {'name': 'probe', 'image': image, 'command': ['sh', '-c', script]}]}}}})
        job = wait_for('probe job {0} finishes'.format(name),
                       lambda: self.cluster.json(self.cluster.batch.read_namespaced_job(name, self.name)),
                       lambda found: condition(found, 'Complete').get('status') == 'True'
                       or condition(found, 'Failed').get('status') == 'True')
        [pod] = self.pods('job-name=' + name)[-1:]
        text = self.cluster.core.read_namespaced_pod_log(pod['metadata']['name'], self.name)
        return condition(job, 'Complete').get('status') == 'True', text


def new_space(cluster, labels=None):
    return Space(cluster, 'qa-' + secrets.token_hex(3), labels)


def pod_condition(pod, kind):
    return next((item for item in (pod.get('status') or {}).get('conditions') or () if item['type'] == kind), {})


def ready(pod):
    return pod_condition(pod, 'Ready').get('status') == 'True'
