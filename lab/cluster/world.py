"""One cluster as its workload and network controllers see it, and the controllers that run in it.

Both clusters get the same: scheduler, the kubelets' pod runtime, node IPAM, Services' endpoints and LB IPAM, the
workload controllers, and the network system components (system.py).
"""

from dataclasses import dataclass, field

from . import system
from .images import ImageRegistry
from .network import Network, NodeIpam, ServiceNetwork
from .pods import PodRuntime
from .scheduler import Scheduler
from .workloads import CONTROLLERS

POD_CIDRS = {'mgmt': '10.244.0.0/16', 'tenant': '10.243.0.0/16'}


@dataclass
class World:
    name: str                  # 'mgmt' or 'tenant'
    store: object              # lab.kube.store.Store
    faults: object             # faults.Faults
    timing: object             # runtime.Timing
    volumes: object            # volumes.VolumeData, shared with the CSI driver
    images: ImageRegistry = field(default_factory=ImageRegistry)
    network: Network = None
    pod_cidr: str = ''

    def __post_init__(self):
        self.pod_cidr = self.pod_cidr or POD_CIDRS[self.name]
        self.network = Network(self)
        self.runtime = PodRuntime(self)
        self.runtime.crash_loop = system.crash_loop(self.faults)

    def reconcilers(self):
        """The controllers of this cluster, for a runtime Manager started on its store."""
        return [Scheduler(self), self.runtime, NodeIpam(self), ServiceNetwork(self)] + [
            controller(self) for controller in CONTROLLERS]

    def install(self):
        system.install(self)

    def apply_fault(self, name, active):
        system.apply_fault(self, name, active)
