"""Creating test VM chains through Cluster API, with their cleanup registered as they are created."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from proxqa.capi.chain import KINDS, ChainSpec, manifests, watched
from proxqa.capi.machines import MachineState, machine_state
from proxqa.diagnostics import Diagnostics
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Changes, Watched, wait_watching
from proxqa.naming import Names
from proxqa.waits import Deadline

T = TypeVar("T")


@dataclass(frozen=True)
class Chain:
    name: str
    namespace: str
    objects: tuple[dict, ...]

    @property
    def selector(self) -> str:
        return f"cluster.x-k8s.io/cluster-name={self.name}"


class CapiChains:
    def __init__(self, kube: KubeClient, names: Names, namespace: str, *, delete_deadline: Deadline,
                 add_cleanup: Callable[[Callable[[], None]], None], diagnostics: Diagnostics):
        self._kube, self._names, self._namespace = kube, names, namespace
        self._delete_deadline, self._add_cleanup = delete_deadline, add_cleanup
        self._diagnostics = diagnostics

    def create(self, spec: ChainSpec) -> Chain:
        """Create the whole chain; its deletion is registered and its objects are recorded in the run's ledger first,
        so even a half-made chain is removed (or found by the janitor). While it exists, a failing check reports its
        machines and events."""
        name = self._names.new("capi")
        chain = Chain(name, self._namespace, tuple(manifests(name, self._namespace, spec, self._names.labels)))
        self._add_cleanup(self._diagnostics.watch(f"Cluster API chain {name}", lambda: self.report(chain)))
        self._add_cleanup(lambda: self.delete(chain))
        for obj in chain.objects:
            self._names.intend(self._kube.name, obj)
        for obj in chain.objects:
            self._kube.create_custom_object(*KINDS[obj["kind"]], obj)
        return chain

    def machines(self, chain: Chain) -> list[MachineState]:
        raw = self._kube.custom_objects_labelled(*KINDS["ProxmoxMachine"], chain.namespace, chain.selector)
        return [machine_state(m) for m in raw]

    def wait_ready(self, chain: Chain, count: int, deadline: Deadline) -> list[MachineState]:
        """Wait until the chain has exactly count ProxmoxMachines, all ready; stop at once on a machine's failure."""
        return self.wait(chain, ["ProxmoxMachine"], f"{count} ready ProxmoxMachines of {chain.name}",
                         lambda: self.machines(chain),
                         done=lambda ms: len(ms) == count and all(m.ready for m in ms), deadline=deadline,
                         failed=lambda ms: "; ".join(f"{m.name}: {m.failure}" for m in ms if m.failure) or None,
                         show=lambda ms: ", ".join(f"{m.name}: {'ready' if m.ready else m.reason or 'no condition'}"
                                                   for m in ms) or "no ProxmoxMachine")

    def cluster_machines(self, chain: Chain) -> list[dict]:
        """The chain's CAPI Machines, as stored."""
        return self._kube.custom_objects_labelled(*KINDS["Machine"], chain.namespace, chain.selector)

    def machine_deployment(self, chain: Chain) -> dict:
        md = next(o for o in chain.objects if o["kind"] == "MachineDeployment")
        return self._kube.custom_object(*KINDS["MachineDeployment"], md["metadata"]["name"], chain.namespace)

    def workload_kubeconfig(self, chain: Chain) -> str:
        """The workload cluster's kubeconfig from Secret <cluster>-kubeconfig (key `value`), as Cluster API keeps
        it. Never print it: it holds credentials."""
        data = self._kube.secret_data(chain.namespace, f"{chain.name}-kubeconfig")
        assert "value" in data, f"Secret {chain.namespace}/{chain.name}-kubeconfig has no key value"
        return data["value"]

    def report(self, chain: Chain) -> str:
        """The chain's machines (phase, node, VM, condition) and the events about its objects."""
        lines = [f"Machine {m['metadata']['name']}: phase {(m.get('status') or {}).get('phase', 'none')}, nodeRef "
                 f"{((m.get('status') or {}).get('nodeRef') or {}).get('name', 'none')}"
                 for m in self.cluster_machines(chain)]
        lines += [f"ProxmoxMachine {m.name}: VMID {m.vmid} on {m.proxmox_node or '?'}, "
                  f"{'ready' if m.ready else m.reason or 'no condition'} {m.failure}".rstrip()
                  for m in self.machines(chain)]
        events = [e for e in self._kube.list("v1", "Event", chain.namespace)
                  if e["involvedObject"].get("name", "").startswith(chain.name)]
        lines += [f"{e.get('type')} {e.get('reason')} {e['involvedObject'].get('kind')}/"
                  f"{e['involvedObject'].get('name')}: {e.get('message', '')}" for e in events[-30:]]
        return "\n".join(lines) or "no machines yet"

    def scale(self, chain: Chain, replicas: int) -> None:
        md = next(o for o in chain.objects if o["kind"] == "MachineDeployment")
        self._kube.patch_custom_object(*KINDS["MachineDeployment"], chain.namespace, md["metadata"]["name"],
                                       {"spec": {"replicas": replicas}})

    def delete(self, chain: Chain) -> None:
        """Delete the chain's objects (newest first) and wait until CAPMOX has removed every ProxmoxMachine."""
        for obj in reversed(chain.objects):
            self._kube.delete_custom_object(*KINDS[obj["kind"]], chain.namespace, obj["metadata"]["name"])
        self.wait(chain, ["ProxmoxMachine"], f"ProxmoxMachines of {chain.name} to be deleted",
                  lambda: self.machines(chain), done=lambda ms: not ms, deadline=self._delete_deadline,
                  show=lambda ms: [m.name for m in ms])

    def wait(self, chain: Chain, kinds: Iterable[str], what: str, probe: Callable[[], T], *, deadline: Deadline,
             **checks) -> T:
        """wait_watching(...) that looks again whenever one of the chain's objects of these kinds changes."""
        __tracebackhide__ = True
        return wait_watching(self._watched(chain, kinds), what, probe, deadline=deadline, **checks)

    def changes(self, chain: Chain, kinds: Iterable[str]) -> Changes:
        """Changes of the chain's objects of these kinds, for a waiting loop of its own."""
        return Changes(self._watched(chain, kinds))

    def _watched(self, chain: Chain, kinds: Iterable[str]) -> list[Watched]:
        return [watched(self._kube, kind, chain.namespace, chain.selector) for kind in kinds]
