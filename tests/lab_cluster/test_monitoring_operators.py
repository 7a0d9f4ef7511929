"""The monitoring operators of the management cluster (system.py) and the fault monitoring-operator-down."""

from kubernetes import client

from cluster_helpers import wait_for

OPERATORS = {'victoria-metrics-operator': ('cozy-victoria-metrics-operator', 'operator',
                                           'victoriametrics/operator:v0.68.4'),
             'grafana-operator': ('cozy-grafana-operator', 'grafana-operator',
                                  'ghcr.io/grafana/grafana-operator:v5.18.0')}
VM_OPERATOR_PODS = 'app.kubernetes.io/name=victoria-metrics-operator'


def available(apps, name, namespace):
    return apps.read_namespaced_deployment(name, namespace).status.available_replicas


def test_the_management_cluster_runs_both_operators_and_the_tenant_none(lab, mgmt):
    for name, (namespace, container, image) in OPERATORS.items():
        wait_for('{0} available'.format(name), lambda: available(mgmt.apps, name, namespace),
                 lambda replicas: replicas == 1)
        [pod] = mgmt.core.list_namespaced_pod(namespace, label_selector='app.kubernetes.io/name=' + name).items
        assert [(status.name, status.image, status.ready) for status in pod.status.container_statuses] == [
            (container, image, True)]
    tenant = client.AppsV1Api(lab.tenant).list_deployment_for_all_namespaces().items
    assert not [item.metadata.name for item in tenant if item.metadata.name in OPERATORS]


def test_monitoring_operator_down_crash_loops_the_vm_operator_until_cleared(lab, mgmt):
    namespace = OPERATORS['victoria-metrics-operator'][0]

    def statuses():
        return [(status.restart_count, status.ready, status.state.waiting and status.state.waiting.reason)
                for pod in mgmt.core.list_namespaced_pod(namespace, label_selector=VM_OPERATOR_PODS).items
                for status in pod.status.container_statuses or ()]
    lab.set_fault('monitoring-operator-down')
    try:
        wait_for('the operator crash-loops', statuses, lambda found: found == [(7, False, 'CrashLoopBackOff')])
        wait_for('the Deployment unavailable', lambda: available(mgmt.apps, 'victoria-metrics-operator', namespace),
                 lambda replicas: replicas is None)
        assert available(mgmt.apps, 'grafana-operator', 'cozy-grafana-operator') == 1
    finally:
        lab.clear_faults()
    wait_for('a fresh operator pod', statuses, lambda found: found == [(0, True, None)])
    assert available(mgmt.apps, 'victoria-metrics-operator', namespace) == 1
