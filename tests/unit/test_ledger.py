"""The run's ledger: one line per object, written before the object is created, intact with parallel writers."""
import multiprocessing
from pathlib import Path

from proxqa.capi.chain import ChainSpec
from proxqa.capi.factory import CapiChains
from proxqa.diagnostics import Diagnostics
from proxqa.kube.workspace import Workspace
from proxqa.ledger import Ledger, read_ledger
from proxqa.naming import Names
from proxqa.waits import Deadline

SPEC = ChainSpec(source_node="pve1", template_id=9000, allowed_nodes=("pve1",), bridge="vmbr0", cores=2,
                 memory_mib=2048, disk_gib=20, ip_range="10.0.0.10-10.0.0.20", ip_prefix=24, gateway="10.0.0.1",
                 dns_servers=("10.0.0.1",), control_plane_host="10.0.0.5", control_plane_port=6443, vmid_start=9900,
                 vmid_end=9999)


class RecordingKube:
    """A cluster that notes, at each create call, what the ledger held at that moment."""
    name = "management cluster"

    def __init__(self, ledger_path: Path):
        self._path = ledger_path
        self.seen_at_create: list[tuple[str, list[str]]] = []

    def _note(self, body: dict) -> dict:
        recorded = [r["name"] for r in read_ledger(self._path) if r["side"] == "kube"]
        self.seen_at_create.append((body["metadata"]["name"], recorded))
        return body

    def create(self, body: dict) -> dict:
        return self._note(body)

    def create_custom_object(self, group: str, version: str, plural: str, body: dict) -> dict:
        return self._note(body)


def names_with_ledger(tmp_path: Path, worker: str = "w0") -> Names:
    return Names("Run-7", worker, ledger=Ledger(tmp_path / "ledger.jsonl", "Run-7", "pve.example.com"))


def test_a_workspace_object_is_in_the_ledger_before_its_create_call(tmp_path):
    names = names_with_ledger(tmp_path)
    kube = RecordingKube(tmp_path / "ledger.jsonl")
    space = Workspace(kube, names, delete_deadline=Deadline(1), add_cleanup=lambda _: None,
                      diagnostics=Diagnostics(()))
    namespace = space.namespace("pods")
    space.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": namespace}})
    assert kube.seen_at_create == [(namespace, [namespace]), ("cm", [namespace, "cm"])]
    record = read_ledger(tmp_path / "ledger.jsonl")[1]
    assert {k: record[k] for k in ("side", "cluster", "apiVersion", "kind", "namespace", "name", "run", "worker")} == {
        "side": "kube", "cluster": "management cluster", "apiVersion": "v1", "kind": "ConfigMap",
        "namespace": namespace, "name": "cm", "run": "Run-7", "worker": "w0"}
    assert record["time"].endswith("+00:00")


def test_a_chain_is_recorded_whole_before_its_first_object_is_created_with_the_vms_it_makes(tmp_path):
    names = names_with_ledger(tmp_path)
    kube = RecordingKube(tmp_path / "ledger.jsonl")
    chain = CapiChains(kube, names, "proxqa", delete_deadline=Deadline(1), add_cleanup=lambda _: None,
                       diagnostics=Diagnostics(())).create(SPEC)
    records = read_ledger(tmp_path / "ledger.jsonl")
    kube_names = [r["name"] for r in records if r["side"] == "kube"]
    assert kube.seen_at_create[0] == (chain.objects[0]["metadata"]["name"], kube_names)
    assert sorted(kube_names) == sorted(o["metadata"]["name"] for o in chain.objects)
    assert [(r["kind"], r["tag"], r["cluster"]) for r in records if r["side"] == "pve"] == [
        ("VM", chain.name, "pve.example.com")]


def test_a_cozystack_kubernetes_app_implies_vms_tagged_with_its_cluster_name(tmp_path):
    names = names_with_ledger(tmp_path)
    names.intend("management cluster", {"apiVersion": "apps.cozystack.io/v1alpha1", "kind": "Kubernetes",
                                        "metadata": {"name": "qa-run-7-w0-k8s-1", "namespace": "tenant-x"}})
    names.intend("management cluster", {"apiVersion": "apps.cozystack.io/v1alpha1", "kind": "Tenant",
                                        "metadata": {"name": "qax", "namespace": "tenant-root"}})
    names.intend_vm("pve1", 9950, "qa-run-7-w0-backup-1")
    pve = [(r.get("tag"), r.get("vmid")) for r in read_ledger(tmp_path / "ledger.jsonl") if r["side"] == "pve"]
    assert pve == [("kubernetes-qa-run-7-w0-k8s-1", None), ("qa-run-7-w0-vm", 9950)]


def test_without_a_ledger_nothing_is_recorded(tmp_path):
    Names("run").intend("management cluster", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert list(tmp_path.iterdir()) == []


def _write_many(path: str, worker: str, count: int) -> None:
    names = Names("run", worker, ledger=Ledger(Path(path), "run"))
    for index in range(count):
        names.intend("c", {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"{worker}-{index}-" + "x" * 300, "namespace": "n"}})


def test_parallel_writers_append_whole_lines(tmp_path):
    path = tmp_path / "ledger.jsonl"
    writers = [multiprocessing.Process(target=_write_many, args=(str(path), f"gw{n}", 300)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    lines = path.read_text().splitlines()
    records = read_ledger(path)
    assert len(lines) == len(records) == 1200
    for n in range(4):
        assert sorted(int(r["name"].split("-")[1]) for r in records if r["worker"] == f"gw{n}") == list(range(300))


def test_a_last_line_cut_short_is_skipped_and_no_ledger_is_empty(tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert read_ledger(path) == []
    Names("run", ledger=Ledger(path, "run")).intend("c", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "a"}})
    with path.open("a") as ledger:
        ledger.write('{"side": "kube", "na')
    assert [r["name"] for r in read_ledger(path)] == ["a"]
