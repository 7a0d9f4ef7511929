"""The faults of `python -m lab.cluster`: what each breaks, as a real cluster shows it. None takes a value.

Faults are state; listeners (the seed's components, the controllers) apply a change when it happens, and
clearing a fault restores the healthy state.
"""

from dataclasses import dataclass


class FaultError(ValueError):
    """An unknown fault, or a value given to a fault that takes none; the message says which."""


@dataclass(frozen=True)
class Fault:
    name: str
    description: str


CATALOGUE = (
    Fault('capmox-down', 'the capmox-controller-manager pod is in CrashLoopBackOff with restarts, its Deployment is '
          'unavailable, and ProxmoxClusters and ProxmoxMachines are no longer reconciled'),
    Fault('capmox-url-suffix', 'the url in Secret capmox-manager-credentials ends in /api2/json; CAPMOX appends it '
          'again, so every Proxmox call fails and ProxmoxClusters and ProxmoxMachines show the error'),
    Fault('capmox-webhook-broken', 'the validation of ProxmoxMachines and ProxmoxMachineTemplates is not enforced: '
          '`format` with `full: false` is accepted'),
    Fault('ipam-missing', 'the in-cluster IPAM CRDs (inclusterippools, ipaddressclaims, ipaddresses) are not '
          'installed: ProxmoxClusters do not become ready and machines wait for an IP address'),
    Fault('node-taint-stuck', 'the Cilium agent never becomes ready on new tenant nodes: they keep the taint '
          'node.cilium.io/agent-not-ready and stay NotReady (network plugin not ready)'),
    Fault('capi-operator-down', 'the capi-operator pod is in CrashLoopBackOff with restarts and its Deployment is '
          'unavailable'),
    Fault('capmox-too-new', 'the proxmox InfrastructureProvider states CAPMOX v0.8.1, which serves v1alpha2 and needs '
          'Cluster API >= 1.11, beside core v1.10'),
    Fault('mhc-disabled', 'MachineHealthChecks report unhealthy machines but never remediate them'),
    Fault('csi-image-pull-backoff', 'the Proxmox CSI plugin images (ghcr.io/sergelogvinov/proxmox-csi-controller and '
          '-node) cannot be pulled: the plugin pods in csi-proxmox are recreated and wait in ImagePullBackOff, the '
          'driver leaves the CSINodes, and nothing is provisioned, attached, resized or deleted'),
    Fault('csi-no-topology-labels', 'the management Nodes lose topology.kubernetes.io/region and zone (the cloud '
          'controller no longer labels them): provisioning fails, the error naming the topology keys'),
    Fault('csi-rwx-accepted', 'a misconfigured Proxmox CSI driver provisions and binds ReadWriteMany and ReadOnlyMany '
          'claims, whose disk is then attached to several VMs'),
    Fault('csi-expand-fails', 'volume expansion fails: the driver sends Proxmox the new size without its unit, the '
          'resize task refuses (shrinking disks is not supported) and the claim gets VolumeResizeFailed'),
    Fault('csi-delete-leaks', 'deleting a volume reports success but leaves its disk (vm-9999-pvc-...) on the Proxmox '
          'storage'),
    Fault('csi-data-lost', 'every new attachment of a volume presents an empty filesystem: data does not survive a '
          'pod restart'),
    Fault('node-taint-left', 'new tenant Nodes become Ready but keep the taint node.cilium.io/agent-not-ready (Cilium\'s '
          'operator never removes it): pods without a toleration are not scheduled there'),
    Fault('node-topology-missing', 'new tenant Nodes register without the topology.kubernetes.io/region and zone '
          'labels (the cloud controller did not label them)'),
    Fault('capmox-iso-leak', 'deleting a ProxmoxMachine removes its VM but leaves its cloud-init ISO on the ISO '
          'storage'),
    Fault('tenant-isolation-broken', 'the tenant namespaces lose their isolation policies (the tenant chart\'s '
          'allow-internal-communication and <tenant>-ingress): traffic between tenants flows'),
    Fault('helmrelease-failed', 'new Tenant and Kubernetes apps do not install: their HelmReleases go Ready False '
          '(InstallFailed, a kind their chart renders is not served) and no namespace or Cluster API chain is made'),
    Fault('capmox-errors-hidden', 'CAPMOX only logs what goes wrong (a refused clone, a failed task) and never shows '
          'it on the ProxmoxMachine: a failing machine stays at its last reason'),
    Fault('netpol-not-enforced', 'NetworkPolicies are stored but not enforced (both clusters): traffic a policy '
          'denies still flows'),
    Fault('dns-broken', 'the coredns pods (kube-system) are in CrashLoopBackOff with restarts, Deployment coredns is '
          'unavailable and kube-dns has no endpoints: name lookups from pods time out'),
    Fault('cni-agent-crashloop', 'the cilium agent pods (DaemonSet cilium in cozy-cilium) are in CrashLoopBackOff '
          'with 7 restarts and not Ready; pod networking keeps working'),
    Fault('pod-network-broken', "Cilium's kube-proxy replacement is broken: connections to Service ClusterIPs and "
          'LoadBalancer addresses (DNS included) time out, pod IPs still answer'),
    Fault('worker-image-pull-backoff', 'images cannot be pulled on the tenant cluster\'s nodes: new pods there '
          'wait in ErrImagePull/ImagePullBackOff'),
    Fault('scheduler-ignores-resources', 'the scheduler ignores resource requests: a pod asking for more than any '
          'node has is bound to a node (where the kubelet rejects it: Failed, OutOfcpu/OutOfmemory)'),
    Fault('lb-no-address', 'LoadBalancer Services get no address from the LB IPAM pool (those that had one lose it)'),
    Fault('monitoring-operator-down', 'the victoria-metrics-operator pod (cozy-victoria-metrics-operator) is in '
          'CrashLoopBackOff with 7 restarts and its Deployment is unavailable'),
)
KNOWN = dict((fault.name, fault) for fault in CATALOGUE)


class Faults(object):
    """The active faults; listeners are called (name, active) after each change."""

    def __init__(self):
        self._active = set()
        self._listeners = []

    def listen(self, callback):
        self._listeners.append(callback)

    def active(self, name):
        return name in self._active

    def known(self):
        return [{'name': fault.name, 'value_format': None, 'description': fault.description} for fault in CATALOGUE]

    def listing(self):
        return [{'name': name, 'value': None} for name in sorted(self._active)]

    def set(self, name, value=''):
        self._check(name)
        if value:
            raise FaultError('fault {0} takes no value; got {1!r}'.format(name, value))
        if name not in self._active:
            self._active.add(name)
            self._notify(name, True)

    def clear(self, name):
        self._check(name)
        if name in self._active:
            self._active.discard(name)
            self._notify(name, False)

    def clear_all(self):
        for name in sorted(self._active):
            self.clear(name)

    def _check(self, name):
        if name not in KNOWN:
            raise FaultError('unknown fault {0!r}; the faults of lab.cluster are: {1}'.format(
                name, ', '.join(sorted(KNOWN))))

    def _notify(self, name, active):
        for callback in self._listeners:
            callback(name, active)
