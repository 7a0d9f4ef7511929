"""Cluster API core (v1.10, v1beta1) and its kubeadm bootstrap provider, as far as worker machines on Proxmox
need them: Cluster, MachineDeployment -> MachineSet -> Machine, KubeadmConfig.

Each reconciler has `primary` (the kind it owns), `related` ((store, kind, mapper) watches that requeue it) and
`reconcile(key)`. They only touch the stores: everything on the Proxmox side is CAPMOX's (capmox.py).
"""

import copy
import json
import logging
from itertools import count

from . import conditions
from .kinds import (CLONED_FROM_KIND, CLONED_FROM_NAME, CLUSTER, CLUSTER_FINALIZER, CLUSTER_NAME_LABEL,
                    DELETE_MACHINE_ANNOTATION, DEPLOYMENT_NAME_LABEL, KUBEADM_CONFIG, LEASE, MACHINE,
                    MACHINE_DEPLOYMENT, MACHINE_FINALIZER, MACHINE_SET, NODE, SECRET, SET_NAME_LABEL,
                    TEMPLATE_HASH_LABEL, rtype)
from .runtime import (add_finalizer, delete_if_present, deleting, find, key_of, owned_by, owner_of,
                      owner_reference, patch_status, remove_finalizer)
from .seed import b64, suffix

log = logging.getLogger('lab.cluster.capi')
TEMPLATE_RETRY = 10.0        # realistic seconds before a MachineSet retries a template it could not read
SECRET_TYPE = 'cluster.x-k8s.io/secret'


def labelled(store, ref, namespace, labels):
    """Objects of ref in namespace carrying every label of the dict."""
    return store.list(rtype(store, ref), namespace, labels=selector_text(labels))[0]


def cluster_members(store, ref):
    """A watch mapper: a Cluster -> the keys of the objects of ref labelled with its name."""
    def keys(cluster):
        meta = cluster['metadata']
        return [key_of(obj) for obj in labelled(store, ref, meta['namespace'], {CLUSTER_NAME_LABEL: meta['name']})]
    return keys


def cluster_of(obj):
    """A watch mapper: an object labelled with a cluster name -> that Cluster's key."""
    name = (obj['metadata'].get('labels') or {}).get(CLUSTER_NAME_LABEL)
    return [(obj['metadata']['namespace'], name)] if name else []


def referenced(store, reference, namespace):
    """(ResourceType, object or None) of an object reference {apiVersion, kind, name}; KeyError if not served."""
    kind = store.kind(reference['apiVersion'], reference['kind'])
    return kind, find(store, kind, reference['name'], reference.get('namespace') or namespace)


def owned_objects(objects, owner):
    """The objects whose ownerReferences name owner (by uid)."""
    uid = owner['metadata']['uid']
    return [obj for obj in objects
            if any(ref.get('uid') == uid for ref in obj['metadata'].get('ownerReferences') or ())]


def selector_text(match_labels):
    return ','.join('{0}={1}'.format(key, value) for key, value in sorted(match_labels.items()))


def ensure_labels(store, kind, obj, labels):
    """obj with these labels added (written only when one was missing or different)."""
    current = obj['metadata'].get('labels') or {}
    if all(current.get(key) == value for key, value in labels.items()):
        return obj
    return store.patch(kind, obj['metadata']['name'], {'metadata': {'labels': labels}}, 'merge',
                       obj['metadata'].get('namespace'))


def ensure_owner(store, kind, obj, owner):
    """obj with an ownerReference to owner (added when missing)."""
    refs = obj['metadata'].get('ownerReferences') or []
    if any(ref.get('uid') == owner['metadata']['uid'] for ref in refs):
        return obj
    return store.patch(kind, obj['metadata']['name'], {'metadata': {'ownerReferences': refs + [
        owner_reference(owner)]}}, 'merge', obj['metadata'].get('namespace'))


# ---------------------------------------------------------------------------------------------------- Cluster

class ClusterReconciler(object):
    """Cluster: owns its infrastructure cluster, reports its phase, writes `<name>-kubeconfig`, and on deletion
    removes its machine deployments, machines and infrastructure before it goes."""

    name = 'cluster'
    primary = CLUSTER

    def __init__(self, mgmt, tenant_kubeconfig):
        self.mgmt = mgmt
        self._tenant_kubeconfig = tenant_kubeconfig     # () -> the tenant cluster's kubeconfig text
        self.related = [(mgmt, MACHINE, cluster_of)]

    def watch_infrastructure(self, ref):
        self.related.append((self.mgmt, ref, self._referencing))

    def _referencing(self, infra):
        """A watch mapper: an infrastructure cluster -> the Clusters whose infrastructureRef names it."""
        meta = infra['metadata']
        return [key_of(cluster) for cluster in self.mgmt.list(rtype(self.mgmt, CLUSTER), meta['namespace'])[0]
                if (cluster['spec'].get('infrastructureRef') or {}).get('kind') == infra['kind']
                and cluster['spec']['infrastructureRef'].get('name') == meta['name']]

    async def reconcile(self, key):
        clusters = rtype(self.mgmt, CLUSTER)
        cluster = find(self.mgmt, clusters, key[1], key[0])
        if cluster is None:
            return None
        if deleting(cluster):
            return self._delete(clusters, cluster)
        cluster = add_finalizer(self.mgmt, clusters, cluster, CLUSTER_FINALIZER)
        infra = self._infrastructure(cluster)
        endpoint = (cluster['spec'].get('controlPlaneEndpoint') or {})
        infra_endpoint = ((infra or {}).get('spec') or {}).get('controlPlaneEndpoint') or {}
        if not endpoint.get('host') and infra_endpoint.get('host'):
            endpoint = infra_endpoint
            cluster = self.mgmt.patch(clusters, key[1], {'spec': {'controlPlaneEndpoint': endpoint}}, 'merge', key[0])
        self._status(clusters, cluster, infra, bool(endpoint.get('host')))
        return None

    def _infrastructure(self, cluster):
        """The infrastructure cluster, owned by and labelled with the Cluster; None while it does not exist."""
        reference = cluster['spec'].get('infrastructureRef')
        if not reference:
            return None
        try:
            kind, infra = referenced(self.mgmt, reference, cluster['metadata']['namespace'])
        except KeyError:
            return None
        if infra is None:
            return None
        infra = ensure_labels(self.mgmt, kind, infra, {CLUSTER_NAME_LABEL: cluster['metadata']['name']})
        return ensure_owner(self.mgmt, kind, infra, cluster)

    def _status(self, clusters, cluster, infra, has_endpoint):
        infra_ready = bool(((infra or {}).get('status') or {}).get('ready'))
        items = (cluster.get('status') or {}).get('conditions') or []
        if infra_ready:
            items = conditions.with_condition(items, 'InfrastructureReady', 'True')
        else:
            items = conditions.with_condition(items, 'InfrastructureReady', 'False', 'WaitingForInfrastructure')
        ready = infra_ready and has_endpoint
        items = conditions.with_condition(items, 'Ready', 'True') if ready else conditions.with_condition(
            items, 'Ready', 'False', 'WaitingForInfrastructure')
        if ready:
            phase = 'Provisioned'
            self._kubeconfig_secret(cluster)
        else:
            phase = 'Provisioning' if cluster['spec'].get('infrastructureRef') else 'Pending'
        patch_status(self.mgmt, clusters, cluster, {
            'phase': phase, 'infrastructureReady': infra_ready, 'conditions': items,
            'observedGeneration': cluster['metadata'].get('generation')})

    def _kubeconfig_secret(self, cluster):
        """Secret <cluster>-kubeconfig (key `value`), where Cluster API keeps a workload cluster's admin kubeconfig."""
        secrets = rtype(self.mgmt, SECRET)
        meta = cluster['metadata']
        name = meta['name'] + '-kubeconfig'
        if find(self.mgmt, secrets, name, meta['namespace']) is None:
            self.mgmt.create(secrets, {
                'metadata': {'name': name, 'namespace': meta['namespace'], 'labels': {CLUSTER_NAME_LABEL: meta['name']},
                             'ownerReferences': [owner_reference(cluster)]},
                'type': SECRET_TYPE, 'data': {'value': b64(self._tenant_kubeconfig())}})

    def _delete(self, clusters, cluster):
        """Delete the cluster's machine deployments, sets and machines, then its infrastructure, then let it go."""
        meta = cluster['metadata']
        patch_status(self.mgmt, clusters, cluster, {'phase': 'Deleting'})
        members = {CLUSTER_NAME_LABEL: meta['name']}
        for ref in (MACHINE_DEPLOYMENT, MACHINE_SET, MACHINE):
            for obj in labelled(self.mgmt, ref, meta['namespace'], members):
                delete_if_present(self.mgmt, rtype(self.mgmt, ref), obj['metadata']['name'], meta['namespace'])
        if labelled(self.mgmt, MACHINE, meta['namespace'], members):
            return None         # the machines' deletion requeues the cluster
        reference = cluster['spec'].get('infrastructureRef')
        if reference:
            try:
                kind, infra = referenced(self.mgmt, reference, meta['namespace'])
            except KeyError:
                kind, infra = None, None
            if infra is not None:
                delete_if_present(self.mgmt, kind, infra['metadata']['name'], meta['namespace'])
                return None     # its deletion event requeues the cluster
        remove_finalizer(self.mgmt, clusters, cluster, CLUSTER_FINALIZER)
        return None


# ------------------------------------------------------------------------------------------ MachineDeployment

def template_hash(template):
    """A short, stable hash of a machine template (the machine-template-hash label)."""
    return suffix(json.dumps(template, sort_keys=True), 5)


def replicas_of(obj):
    replicas = obj['spec'].get('replicas')
    return 1 if replicas is None else replicas


class MachineDeploymentReconciler(object):
    """A MachineSet per machine template; a changed template rolls out a new one, and the old ones are scaled to
    zero once the new one is ready. Status sums its MachineSets."""

    name = 'machinedeployment'
    primary = MACHINE_DEPLOYMENT

    def __init__(self, mgmt):
        self.mgmt = mgmt
        self.related = [(mgmt, MACHINE_SET, owned_by('MachineDeployment'))]

    async def reconcile(self, key):
        deployments = rtype(self.mgmt, MACHINE_DEPLOYMENT)
        md = find(self.mgmt, deployments, key[1], key[0])
        if md is None or deleting(md):
            return None
        cluster_name = md['spec'].get('clusterName', '')
        md = ensure_labels(self.mgmt, deployments, md, {CLUSTER_NAME_LABEL: cluster_name})
        cluster = find(self.mgmt, rtype(self.mgmt, CLUSTER), cluster_name, key[0])
        if cluster is not None:
            md = ensure_owner(self.mgmt, deployments, md, cluster)
        sets = rtype(self.mgmt, MACHINE_SET)
        owned = owned_objects(labelled(self.mgmt, MACHINE_SET, key[0], {DEPLOYMENT_NAME_LABEL: key[1]}), md)
        wanted = template_hash(md['spec'].get('template') or {})
        desired = replicas_of(md)
        current = next((ms for ms in owned if ms['metadata']['labels'].get(TEMPLATE_HASH_LABEL) == wanted), None)
        if current is None:
            current = self.mgmt.create(sets, self._machine_set(md, wanted, desired))
        elif replicas_of(current) != desired:
            self.mgmt.update_scale(sets, current['metadata']['name'], {'spec': {'replicas': desired}}, key[0])
            current = self.mgmt.get(sets, current['metadata']['name'], key[0])
        old = [ms for ms in owned if ms['metadata']['uid'] != current['metadata']['uid']]
        self._retire(sets, old, current, desired)
        self._status(deployments, md, current, [current] + old, desired)
        return None

    def _machine_set(self, md, hash_, replicas):
        meta, template = md['metadata'], copy.deepcopy(md['spec'].get('template') or {})
        cluster_name = md['spec'].get('clusterName', '')
        selector = {CLUSTER_NAME_LABEL: cluster_name, DEPLOYMENT_NAME_LABEL: meta['name'], TEMPLATE_HASH_LABEL: hash_}
        template_meta = template.setdefault('metadata', {})
        template_meta['labels'] = dict(template_meta.get('labels') or {}, **selector)
        strategy = (md['spec'].get('strategy') or {}).get('rollingUpdate') or {}
        return {'metadata': {'name': '{0}-{1}'.format(meta['name'], hash_), 'namespace': meta['namespace'],
                             'labels': dict(selector), 'ownerReferences': [owner_reference(md)]},
                'spec': {'clusterName': cluster_name, 'replicas': replicas,
                         'deletePolicy': strategy.get('deletePolicy', 'Newest'),
                         'selector': {'matchLabels': selector}, 'template': template}}

    def _retire(self, sets, old, current, desired):
        """Scale old MachineSets to zero once the current one is ready; delete them once they are empty."""
        ready = (current.get('status') or {}).get('readyReplicas') or 0
        for ms in old:
            name, namespace = ms['metadata']['name'], ms['metadata']['namespace']
            if replicas_of(ms) and ready >= desired:
                self.mgmt.update_scale(sets, name, {'spec': {'replicas': 0}}, namespace)
            elif not replicas_of(ms) and not (ms.get('status') or {}).get('replicas'):
                delete_if_present(self.mgmt, sets, name, namespace)

    def _status(self, deployments, md, current, sets, desired):
        totals = dict.fromkeys(('replicas', 'readyReplicas', 'availableReplicas'), 0)
        for ms in sets:
            for field in totals:
                totals[field] += (ms.get('status') or {}).get(field) or 0
        if totals['replicas'] > desired:
            phase = 'ScalingDown'
        elif totals['replicas'] < desired or totals['readyReplicas'] < desired:
            phase = 'ScalingUp'
        else:
            phase = 'Running'
        available = totals['availableReplicas'] >= desired
        items = (md.get('status') or {}).get('conditions') or []
        if available:
            items = conditions.with_condition(items, 'Available', 'True')
            items = conditions.with_condition(items, 'Ready', 'True')
        else:
            message = 'Minimum availability requires {0} replicas, current {1} available'.format(
                desired, totals['availableReplicas'])
            items = conditions.with_condition(items, 'Available', 'False', 'WaitingForAvailableMachines', message,
                                              'Warning')
            items = conditions.with_condition(items, 'Ready', 'False', 'WaitingForAvailableMachines', message,
                                              'Warning')
        meta = md['metadata']
        selector = {CLUSTER_NAME_LABEL: md['spec'].get('clusterName', ''), DEPLOYMENT_NAME_LABEL: meta['name']}
        patch_status(self.mgmt, deployments, md, dict(
            totals, updatedReplicas=(current.get('status') or {}).get('replicas') or 0,
            unavailableReplicas=max(desired - totals['availableReplicas'], 0), phase=phase,
            selector=selector_text(selector), observedGeneration=meta.get('generation'), conditions=items))


# ------------------------------------------------------------------------------------------------ MachineSet

def has_condition(obj, kind, status):
    found = conditions.get((obj.get('status') or {}).get('conditions'), kind)
    return bool(found) and found.get('status') == status


def must_delete(machine):
    """Marked for deletion: by annotation, by a MachineHealthCheck, or failed."""
    status = machine.get('status') or {}
    return (DELETE_MACHINE_ANNOTATION in (machine['metadata'].get('annotations') or {})
            or has_condition(machine, 'OwnerRemediated', 'False') or bool(status.get('failureReason')))


class MachineSetReconciler(object):
    """Machines from the template (each with its ProxmoxMachine and KubeadmConfig cloned from their templates),
    as many as spec.replicas; scaling down deletes marked and unready machines first, then by deletePolicy
    (Newest unless Oldest). Machines a MachineHealthCheck marked are deleted, and replaced."""

    name = 'machineset'
    primary = MACHINE_SET

    def __init__(self, mgmt, timing):
        self.mgmt = mgmt
        self.timing = timing
        self.related = [(mgmt, MACHINE, owned_by('MachineSet'))]
        self._sequence = count(1)
        self._created = {}       # machine uid -> creation order, which a creationTimestamp (seconds) cannot tell

    async def reconcile(self, key):
        sets = rtype(self.mgmt, MACHINE_SET)
        ms = find(self.mgmt, sets, key[1], key[0])
        if ms is None or deleting(ms):
            return None
        machines = rtype(self.mgmt, MACHINE)
        owned = self._machines(machines, ms)
        for machine in owned:
            if has_condition(machine, 'OwnerRemediated', 'False') and not deleting(machine):
                log.info('machineset %s: remediating machine %s', key[1], machine['metadata']['name'])
                self.mgmt.delete(machines, machine['metadata']['name'], key[0])
        active = [m for m in owned if not deleting(m) and not has_condition(m, 'OwnerRemediated', 'False')]
        missing = replicas_of(ms) - len(active)
        problem = None
        if missing > 0:
            problem = self._create(ms, missing)
        elif missing < 0:
            for machine in self._doomed(active, -missing, ms['spec'].get('deletePolicy')):
                self.mgmt.delete(machines, machine['metadata']['name'], key[0])
        active = [m for m in self._machines(machines, ms) if not deleting(m)]
        self._status(sets, ms, active, problem)
        return self.timing.poll(TEMPLATE_RETRY) if problem else None

    def _machines(self, machines, ms):
        selector = selector_text(ms['spec']['selector'].get('matchLabels') or {})
        return owned_objects(self.mgmt.list(machines, ms['metadata']['namespace'], labels=selector)[0], ms)

    def _create(self, ms, number):
        """Create machines; None, or why the templates could not be cloned."""
        namespace = ms['metadata']['namespace']
        spec = ms['spec']['template'].get('spec') or {}
        try:
            infra_kind, infra_template = self._template(spec.get('infrastructureRef'), namespace)
            config_ref = (spec.get('bootstrap') or {}).get('configRef')
            config_kind, config_template = self._template(config_ref, namespace) if config_ref else (None, None)
        except LookupError as err:
            return 'InfrastructureTemplateCloningFailed', str(err)
        for _ in range(number):
            self._create_machine(ms, (infra_kind, infra_template), (config_kind, config_template))
        return None

    def _template(self, reference, namespace):
        """(ResourceType of what it makes, template); LookupError naming what is missing."""
        if not reference:
            raise LookupError('the machine template has no infrastructureRef')
        try:
            kind, template = referenced(self.mgmt, reference, namespace)
            made = self.mgmt.kind(reference['apiVersion'], reference['kind'][:-len('Template')])
        except KeyError as err:
            raise LookupError('failed to retrieve {0} {1}/{2}: {3}'.format(
                reference.get('kind'), namespace, reference.get('name'), err.args[0])) from None
        if template is None:
            raise LookupError('failed to retrieve {0} {1}/{2}: {3}.{4} "{2}" not found'.format(
                reference['kind'], namespace, reference['name'], kind.plural, kind.group))
        return made, template

    def _create_machine(self, ms, infra, bootstrap):
        meta, template = ms['metadata'], ms['spec']['template']
        labels = dict((template.get('metadata') or {}).get('labels') or {}, **{SET_NAME_LABEL: meta['name']})
        spec = copy.deepcopy(template.get('spec') or {})
        spec['clusterName'] = ms['spec']['clusterName']
        machines = rtype(self.mgmt, MACHINE)
        machine = self.mgmt.create(machines, {
            'metadata': {'generateName': meta['name'] + '-', 'namespace': meta['namespace'], 'labels': labels,
                         'annotations': dict((template.get('metadata') or {}).get('annotations') or {}),
                         'ownerReferences': [owner_reference(ms)], 'finalizers': [MACHINE_FINALIZER]},
            'spec': spec})
        self._created[machine['metadata']['uid']] = next(self._sequence)
        refs = {'infrastructureRef': self._clone(machine, *infra, labels)}
        if bootstrap[1] is not None:
            refs['bootstrap'] = {'configRef': self._clone(machine, *bootstrap, labels)}
        self.mgmt.patch(machines, machine['metadata']['name'], {'spec': refs}, 'merge', meta['namespace'])
        log.info('machineset %s: created machine %s', meta['name'], machine['metadata']['name'])

    def _clone(self, machine, kind, template, labels):
        """Create the machine's own object from a template (named as the machine); its object reference."""
        inner = template['spec'].get('template') or {}
        meta = machine['metadata']
        annotations = dict((inner.get('metadata') or {}).get('annotations') or {}, **{
            CLONED_FROM_NAME: template['metadata']['name'],
            CLONED_FROM_KIND: '{0}.{1}'.format(template['kind'], kind.group)})
        obj = self.mgmt.create(kind, {
            'metadata': {'name': meta['name'], 'namespace': meta['namespace'],
                         'labels': dict((inner.get('metadata') or {}).get('labels') or {}, **labels),
                         'annotations': annotations, 'ownerReferences': [owner_reference(machine)]},
            'spec': copy.deepcopy(inner.get('spec') or {})})
        return {'apiVersion': obj['apiVersion'], 'kind': obj['kind'], 'name': meta['name'],
                'namespace': meta['namespace']}

    def _doomed(self, machines, number, policy):
        """The machines to delete when scaling down by number."""
        def order(machine):
            return machine['metadata']['creationTimestamp'], self._created.get(machine['metadata']['uid'], 0)
        by_age = sorted(machines, key=order)
        age = dict((machine['metadata']['uid'], index) for index, machine in enumerate(by_age))

        def rank(machine):
            unready = not (machine.get('status') or {}).get('nodeRef')
            seniority = age[machine['metadata']['uid']]
            return must_delete(machine), unready, -seniority if policy == 'Oldest' else seniority
        return sorted(machines, key=rank, reverse=True)[:number]

    def _status(self, sets, ms, machines, problem):
        ready = sum(1 for m in machines if has_condition(m, 'NodeHealthy', 'True'))
        items = (ms.get('status') or {}).get('conditions') or []
        if problem:
            items = conditions.with_condition(items, 'MachinesCreated', 'False', problem[0], problem[1], 'Error')
        else:
            items = conditions.with_condition(items, 'MachinesCreated', 'True')
        desired = replicas_of(ms)
        if ready >= desired:
            items = conditions.with_condition(items, 'MachinesReady', 'True')
        else:
            items = conditions.with_condition(items, 'MachinesReady', 'False', 'WaitingForMachines',
                                              '{0} of {1} machines ready'.format(ready, desired))
        items = conditions.with_condition(items, 'Ready', 'True') if not problem else conditions.with_condition(
            items, 'Ready', 'False', problem[0], problem[1], 'Error')
        patch_status(self.mgmt, sets, ms, {
            'replicas': len(machines), 'fullyLabeledReplicas': len(machines), 'readyReplicas': ready,
            'availableReplicas': ready, 'selector': selector_text(ms['spec']['selector'].get('matchLabels') or {}),
            'observedGeneration': ms['metadata'].get('generation'), 'conditions': items})


# --------------------------------------------------------------------------------------------------- Machine

def node_ready(node):
    return conditions.is_true((node.get('status') or {}).get('conditions'), 'Ready')


class MachineReconciler(object):
    """A Machine follows its bootstrap config and infrastructure machine, finds its Node in the tenant cluster by
    providerID, and reports phase Pending -> Provisioning -> Provisioned -> Running. Deleting it deletes its
    ProxmoxMachine and KubeadmConfig, waits until the infrastructure is gone, then deletes the Node."""

    name = 'machine'
    primary = MACHINE

    def __init__(self, mgmt, tenant):
        self.mgmt = mgmt
        self.tenant = tenant
        self.related = [(mgmt, KUBEADM_CONFIG, owned_by('Machine')), (tenant, NODE, self._machines_of_node)]

    def watch_infrastructure(self, ref):
        self.related.append((self.mgmt, ref, owned_by('Machine')))

    def _machines_of_node(self, node):
        provider = (node.get('spec') or {}).get('providerID')
        machines = self.mgmt.list(rtype(self.mgmt, MACHINE))[0]
        return [key_of(m) for m in machines
                if (provider and m['spec'].get('providerID') == provider)
                or ((m.get('status') or {}).get('nodeRef') or {}).get('name') == node['metadata']['name']]

    async def reconcile(self, key):
        machines = rtype(self.mgmt, MACHINE)
        machine = find(self.mgmt, machines, key[1], key[0])
        if machine is None:
            return None
        if deleting(machine):
            return self._delete(machines, machine)
        machine = add_finalizer(self.mgmt, machines, machine, MACHINE_FINALIZER)
        machine = ensure_labels(self.mgmt, machines, machine, {CLUSTER_NAME_LABEL: machine['spec']['clusterName']})
        machine, bootstrap_ready = self._bootstrap(machines, machine)
        infra = self._infrastructure(machine)
        infra_status = (infra or {}).get('status') or {}
        provider = (infra or {}).get('spec', {}).get('providerID')
        if provider and machine['spec'].get('providerID') != provider:
            machine = self.mgmt.patch(machines, key[1], {'spec': {'providerID': provider}}, 'merge', key[0])
        node = self._node(machine)
        self._status(machines, machine, bootstrap_ready, infra, infra_status, node)
        return None

    def _bootstrap(self, machines, machine):
        """(machine, bootstrap ready): the data secret's name comes from the ready bootstrap config."""
        bootstrap = machine['spec'].get('bootstrap') or {}
        if bootstrap.get('dataSecretName'):
            return machine, True
        reference = bootstrap.get('configRef')
        if not reference:
            return machine, False
        try:
            _kind, config = referenced(self.mgmt, reference, machine['metadata']['namespace'])
        except KeyError:
            return machine, False
        status = (config or {}).get('status') or {}
        if not (status.get('ready') and status.get('dataSecretName')):
            return machine, False
        machine = self.mgmt.patch(machines, machine['metadata']['name'], {'spec': {'bootstrap': {
            'dataSecretName': status['dataSecretName']}}}, 'merge', machine['metadata']['namespace'])
        return machine, True

    def _infrastructure(self, machine):
        reference = machine['spec'].get('infrastructureRef')
        if not reference:
            return None
        try:
            return referenced(self.mgmt, reference, machine['metadata']['namespace'])[1]
        except KeyError:
            return None

    def _node(self, machine):
        provider = machine['spec'].get('providerID')
        if not provider:
            return None
        nodes = self.tenant.list(rtype(self.tenant, NODE))[0]
        return next((node for node in nodes if (node.get('spec') or {}).get('providerID') == provider), None)

    def _status(self, machines, machine, bootstrap_ready, infra, infra_status, node):
        items = (machine.get('status') or {}).get('conditions') or []
        items = conditions.with_condition(items, 'BootstrapReady', 'True') if bootstrap_ready else \
            conditions.with_condition(items, 'BootstrapReady', 'False', 'WaitingForDataSecret')
        infra_ready = bool(infra_status.get('ready'))
        if infra_ready:
            items = conditions.with_condition(items, 'InfrastructureReady', 'True')
        else:
            mirrored = conditions.get(infra_status.get('conditions'), 'Ready') or {}
            items = conditions.with_condition(items, 'InfrastructureReady', 'False',
                                              mirrored.get('reason') or 'WaitingForInfrastructure',
                                              mirrored.get('message', ''), mirrored.get('severity'))
        if node is not None and node_ready(node):
            items = conditions.with_condition(items, 'NodeHealthy', 'True')
        elif node is not None:
            items = conditions.with_condition(items, 'NodeHealthy', 'False', 'NodeConditionsFailed',
                                              'Node {0} is not Ready'.format(node['metadata']['name']), 'Warning')
        else:
            items = conditions.with_condition(items, 'NodeHealthy', 'False', 'WaitingForNodeRef')
        ready = bootstrap_ready and infra_ready
        items = conditions.with_condition(items, 'Ready', 'True') if ready else conditions.with_condition(
            items, 'Ready', 'False', 'WaitingForInfrastructure' if bootstrap_ready else 'WaitingForDataSecret')
        failure = infra_status.get('failureReason')
        if failure:
            phase = 'Failed'
        elif node is not None:
            phase = 'Running'
        elif infra_ready:
            phase = 'Provisioned'
        elif bootstrap_ready:
            phase = 'Provisioning'
        else:
            phase = 'Pending'
        status = {'phase': phase, 'bootstrapReady': bootstrap_ready, 'infrastructureReady': infra_ready,
                  'conditions': items, 'observedGeneration': machine['metadata'].get('generation'),
                  'addresses': infra_status.get('addresses'), 'failureReason': failure,
                  'failureMessage': infra_status.get('failureMessage'), 'nodeRef': None, 'nodeInfo': None}
        if node is not None:
            status['nodeRef'] = {'apiVersion': 'v1', 'kind': 'Node', 'name': node['metadata']['name'],
                                 'uid': node['metadata']['uid']}
            status['nodeInfo'] = (node.get('status') or {}).get('nodeInfo')
        if status != dict((key, (machine.get('status') or {}).get(key)) for key in status):
            status['lastUpdated'] = conditions.now()
            patch_status(self.mgmt, machines, machine, status)

    def _delete(self, machines, machine):
        meta = machine['metadata']
        if (machine.get('status') or {}).get('phase') != 'Deleting':
            patch_status(self.mgmt, machines, machine, {'phase': 'Deleting'})
        bootstrap = (machine['spec'].get('bootstrap') or {}).get('configRef')
        for reference in (bootstrap, machine['spec'].get('infrastructureRef')):
            if not reference:
                continue
            try:
                kind, obj = referenced(self.mgmt, reference, meta['namespace'])
            except KeyError:
                continue
            if obj is not None:
                delete_if_present(self.mgmt, kind, obj['metadata']['name'], meta['namespace'])
        if self._infrastructure(machine) is not None:
            return None         # its deletion event requeues the machine
        node = self._node(machine) or find(self.tenant, rtype(self.tenant, NODE), (
            (machine.get('status') or {}).get('nodeRef') or {}).get('name') or meta['name'])
        if node is not None:
            delete_if_present(self.tenant, rtype(self.tenant, NODE), node['metadata']['name'])
            delete_if_present(self.tenant, rtype(self.tenant, LEASE), node['metadata']['name'], 'kube-node-lease')
        remove_finalizer(self.mgmt, machines, machine, MACHINE_FINALIZER)
        return None


# ----------------------------------------------------------------------------------------- kubeadm bootstrap

class KubeadmConfigReconciler(object):
    """CABPK for worker machines: once the cluster's infrastructure is ready, a Secret named as the config holds
    the cloud-config (`value`, `format`), and the config is ready with dataSecretName."""

    name = 'kubeadmconfig'
    primary = KUBEADM_CONFIG

    def __init__(self, mgmt):
        self.mgmt = mgmt
        self.related = [(mgmt, CLUSTER, cluster_members(mgmt, KUBEADM_CONFIG))]

    async def reconcile(self, key):
        configs = rtype(self.mgmt, KUBEADM_CONFIG)
        config = find(self.mgmt, configs, key[1], key[0])
        if config is None or deleting(config) or (config.get('status') or {}).get('ready'):
            return None
        owner = owner_of(config, 'Machine')
        if owner is None:
            return None
        cluster_name = (config['metadata'].get('labels') or {}).get(CLUSTER_NAME_LABEL, '')
        cluster = find(self.mgmt, rtype(self.mgmt, CLUSTER), cluster_name, key[0])
        items = (config.get('status') or {}).get('conditions') or []
        if not ((cluster or {}).get('status') or {}).get('infrastructureReady'):
            patch_status(self.mgmt, configs, config, {'conditions': conditions.with_condition(
                items, 'DataSecretAvailable', 'False', 'WaitingForClusterInfrastructure')})
            return None
        self._data_secret(config, owner['name'])
        items = conditions.with_condition(items, 'CertificatesAvailable', 'True')
        items = conditions.with_condition(items, 'DataSecretAvailable', 'True')
        patch_status(self.mgmt, configs, config, {'ready': True, 'dataSecretName': key[1], 'conditions': items,
                                                  'observedGeneration': config['metadata'].get('generation')})
        return None

    def _data_secret(self, config, machine_name):
        secrets = rtype(self.mgmt, SECRET)
        meta = config['metadata']
        if find(self.mgmt, secrets, meta['name'], meta['namespace']) is not None:
            return
        join = ('#cloud-config\nhostname: {0}\nruncmd:\n  - kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml'
                '\n  - echo success > /run/cluster-api/bootstrap-success.complete\n').format(machine_name)
        self.mgmt.create(secrets, {
            'metadata': {'name': meta['name'], 'namespace': meta['namespace'],
                         'labels': {CLUSTER_NAME_LABEL: (meta.get('labels') or {}).get(CLUSTER_NAME_LABEL, '')},
                         'ownerReferences': [owner_reference(config)]},
            'type': SECRET_TYPE, 'data': {'value': b64(join), 'format': b64('cloud-config')}})
