"""The janitor removes what runs left by their marks alone: roots first (the rest goes with its owner), namespaces
last and never one holding another run's objects, tagged VMs with their own cloud-init ISO, run-named volumes; it
never touches an object without the run's label or tag, and leaves young runs alone."""
import datetime
import itertools
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from proxqa import janitor
from proxqa.janitor import Interruptions, Janitor, ProxmoxSide, RunLeftovers, Survey
from proxqa.leftovers import KubeObject
from proxqa.plugin import _raise_timeout_backstop
from proxqa.pve.records import NodeInfo, StorageStatus, VmConfig, VmResource
from proxqa.waits import Deadline

REPO = Path(__file__).resolve().parents[2]
QUICK = Deadline(5, poll=0.05)
NOW = datetime.datetime.now(datetime.timezone.utc)
_uids = itertools.count()


def obj(kind, name, run, *, namespace="proxqa", owner=None, labelled=True, api_version="v1"):
    """A stored object; unlabelled ones (labelled=False) exist in the fake cluster but are never listed."""
    owners = ((owner.api_version, owner.kind, owner.name, owner.uid),) if owner else ()
    made = KubeObject(api_version, kind, name, None if kind == "Namespace" else namespace, run if labelled else "",
                      "w0", f"uid-{next(_uids)}", NOW, owners, False, "no status")
    return made, labelled


class FakeCluster:
    """An API server with garbage collection: deleting an object removes what it owns, and a namespace what it
    holds."""

    def __init__(self, *stored, name="management cluster"):
        self.name = name
        self.stored = {o.uid: (o, labelled) for o, labelled in stored}
        self.deleted: list[str] = []

    def labelled(self, run=None, worker=None):
        return [o for o, labelled in self.stored.values() if labelled and (run is None or o.run == run)]

    def exists(self, api_version, kind, name, namespace):
        return any((o.kind, o.name, o.namespace) == (kind, name, namespace) for o, _ in self.stored.values())

    def delete(self, target):
        self.deleted.append(str(target))
        if target.uid in self.stored:       # the API answers 404 for one already gone
            self._remove(target.uid)

    def _remove(self, uid):
        gone, _ = self.stored.pop(uid)
        for other, _ in list(self.stored.values()):
            if other.uid in self.stored and (any(owner[3] == uid for owner in other.owners) or (
                    gone.kind == "Namespace" and other.namespace == gone.name)):
                self._remove(other.uid)

    def tenant_kubeconfigs(self, objects):
        return []


def survey_of(cluster, runs):
    return Survey({run: RunLeftovers(run) for run in runs}, [cluster], [])


def test_roots_are_deleted_and_what_a_live_owner_holds_goes_with_it():
    namespace = obj("Namespace", "proxqa", "a")
    cluster = obj("Cluster", "qa-a-w0-capi-1", "a", api_version="cluster.x-k8s.io/v1beta1")
    deployment = obj("MachineDeployment", "qa-a-w0-capi-1-workers", "a", owner=cluster[0])
    machine_set = obj("MachineSet", "qa-a-w0-capi-1-workers-x", "", owner=deployment[0], labelled=False)
    machine = obj("Machine", "qa-a-w0-capi-1-workers-x-y", "a", owner=machine_set[0])
    gone_owner = obj("Job", "finished", "a")[0]
    orphan = obj("Pod", "qa-a-w0-probe-1", "a", owner=gone_owner)
    fake = FakeCluster(namespace, cluster, deployment, machine_set, machine, orphan)
    said = []
    remaining = Janitor(fake, None, deadline=QUICK, out=said.append).clean(survey_of(fake, ["a"]), {"a"})
    assert remaining == []
    assert fake.deleted == ["Cluster proxqa/qa-a-w0-capi-1", "Pod proxqa/qa-a-w0-probe-1", "Namespace proxqa"]
    assert fake.stored == {}


def test_other_runs_and_unlabelled_lookalikes_are_never_touched():
    namespace = obj("Namespace", "proxqa", "a")
    mine = obj("ConfigMap", "qa-a-w0-cm-1", "a")
    theirs = obj("Pod", "qa-b-w0-pod-1", "b")
    their_namespace = obj("Namespace", "qa-b-w0-pods-1", "b")
    lookalike_namespace = obj("Namespace", "qa-a-w0-pods-2", "a", labelled=False)
    lookalike = obj("ConfigMap", "qa-a-w0-cm-2", "a", namespace="qa-a-w0-pods-2", labelled=False)
    fake = FakeCluster(namespace, mine, theirs, their_namespace, lookalike_namespace, lookalike)
    said = []
    remaining = Janitor(fake, None, deadline=QUICK, out=said.append).clean(survey_of(fake, ["a"]), {"a"})
    assert fake.deleted == ["ConfigMap proxqa/qa-a-w0-cm-1"]
    assert "kept Namespace proxqa: it holds objects of run b" in said
    assert remaining == ["management cluster: Namespace proxqa (no status)"]
    assert {str(o) for o, _ in fake.stored.values()} == {
        "Namespace proxqa", "Pod proxqa/qa-b-w0-pod-1", "Namespace qa-b-w0-pods-1", "Namespace qa-a-w0-pods-2",
        "ConfigMap qa-a-w0-pods-2/qa-a-w0-cm-2"}


def test_a_stuck_object_is_reported_as_remaining_with_its_state():
    stuck, _ = obj("Cluster", "qa-a-w0-capi-1", "a")
    stuck = replace(stuck, state="deleting since 2026-01-01T00:00:00Z; finalizers cluster.cluster.x-k8s.io")

    class Stuck(FakeCluster):
        def delete(self, target):
            self.deleted.append(str(target))    # accepted, but a finalizer keeps it

    fake = Stuck((stuck, True))
    remaining = Janitor(fake, None, deadline=Deadline(0.05, poll=0.01), out=lambda line: None).clean(
        survey_of(fake, ["a"]), {"a"})
    assert remaining == ["management cluster: not cleaned: objects of run a to be deleted from the management "
                         "cluster: not reached within 0.05 s (last state: Cluster proxqa/qa-a-w0-capi-1 (deleting "
                         "since 2026-01-01T00:00:00Z; finalizers cluster.cluster.x-k8s.io))"]


# --------------------------------------------------------------------------- Proxmox

class FakePve:
    """Three VMs and one shared ISO storage; records the actions."""

    def __init__(self):
        self.vms = {
            9900: (VmResource(9900, "qa-a-w0-capi-1-workers-x-y", "pve1", "running", False),
                   "ip_net0_10.0.0.5;qa-a-w0-capi-1",
                   {"ide0": "local:iso/user-data-9900.iso,media=cdrom", "ide2": "local:iso/ubuntu.iso,media=cdrom"}),
            9901: (VmResource(9901, "qa-a-w0-capi-2-workers-x-y", "pve1", "running", False), "",
                   {"ide0": "local:iso/user-data-9901.iso,media=cdrom"}),
            9000: (VmResource(9000, "template", "pve1", "stopped", True), "qa-a-w0-capi-1", {}),
        }
        self.isos = {"local:iso/user-data-9900.iso", "local:iso/user-data-9901.iso", "local:iso/ubuntu.iso",
                     "local:iso/qa-a-w0-seed.iso", "local:iso/qa-b-w0-seed.iso"}
        self.actions: list[str] = []

    def tagged_vms(self):
        return [(vm, frozenset(t for t in tags.split(";") if t)) for vm, tags, _ in self.vms.values()]

    def vm_config(self, node, vmid):
        return VmConfig(vmid, self.vms[vmid][2])

    def nodes(self):
        return [NodeInfo("pve1", "online"), NodeInfo("pve2", "offline")]

    def storages(self, node):
        return [StorageStatus("local", "dir", frozenset({"iso"}), True, True, 1, 0, 1)]

    def storage_volumes(self, node, storage, content):
        return {volid: 1 for volid in self.isos}

    def stop_vm(self, node, vmid):
        self.actions.append(f"stop {vmid}")
        return "UPID:stop"

    def destroy_vm(self, node, vmid):
        self.actions.append(f"destroy {vmid}")
        del self.vms[vmid]
        return "UPID:destroy"

    def delete_volume(self, node, storage, volid):
        self.actions.append(f"delete {volid}")
        self.isos.remove(volid)
        return ""

    def wait_task(self, node, upid, what, deadline):
        pass


def test_tagged_vms_go_with_their_own_cloud_init_iso_and_run_named_volumes_lookalikes_stay():
    pve = FakePve()
    proxmox = ProxmoxSide(pve, pve, QUICK)
    said = []
    the_janitor = Janitor(None, proxmox, deadline=QUICK, out=said.append)
    survey = the_janitor.survey()
    assert {run: [str(vm) for vm in left.vms] for run, left in survey.runs.items()} == {
        "a": ["VM 9900 qa-a-w0-capi-1-workers-x-y on pve1 (running)"], "b": []}
    assert the_janitor.clean(survey, {"a"}) == []
    assert pve.actions == ["stop 9900", "destroy 9900", "delete local:iso/user-data-9900.iso",
                           "delete local:iso/qa-a-w0-seed.iso"]
    assert sorted(pve.vms) == [9000, 9901]
    assert pve.isos == {"local:iso/user-data-9901.iso", "local:iso/ubuntu.iso", "local:iso/qa-b-w0-seed.iso"}


# --------------------------------------------------------------------------- which runs

def test_runs_active_more_recently_than_the_minimum_age_are_left_alone(tmp_path):
    old, young, quiet = RunLeftovers("old"), RunLeftovers("young"), RunLeftovers("quiet")
    old.last_active = NOW - datetime.timedelta(hours=3)
    young.last_active = NOW - datetime.timedelta(seconds=30)
    quiet.last_active = NOW - datetime.timedelta(hours=3)
    hints = {"quiet": (tmp_path, janitor.LedgerHint(NOW - datetime.timedelta(minutes=5), 4, False))}
    survey = Survey({"old": old, "young": young, "quiet": quiet}, [], [])
    said = []
    assert janitor._chosen_runs(survey, hints, 3600, NOW, said.append) == {"old"}
    shown = "\n".join(said)
    assert "run young: 0 object(s), last active 30 s ago: left alone" in shown
    assert "lists 4 object(s); killed or still running: no summary.json: left alone" in shown
    assert janitor._chosen_runs(survey, hints, 0, NOW, said.append) == {"old", "young", "quiet"}


def test_ledgers_tell_when_a_run_was_last_active_and_whether_it_finished(tmp_path):
    from proxqa.ledger import Ledger
    from proxqa.naming import Names
    for run, finished in (("Killed-1", False), ("done-2", True)):
        Names(run, ledger=Ledger(tmp_path / run / "ledger.jsonl", run)).intend(
            "c", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
        if finished:
            (tmp_path / run / "summary.json").write_text("{}")
    hints = janitor.ledger_hints(tmp_path)
    assert {run: (hint.records, hint.finished) for run, (_, hint) in hints.items()} == {
        "killed-1": (1, False), "done-2": (1, True)}
    assert hints["killed-1"][1].last_record.tzinfo is not None


# --------------------------------------------------------------------------- the command

def _janitor_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "proxqa", "janitor", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_without_a_target_the_janitor_refuses_and_never_starts_a_lab(tmp_path):
    done = _janitor_cli("--dry-run", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 4, done.stderr
    assert "no target" in done.stderr and "never starts a lab" in done.stderr


@pytest.mark.parametrize("args, message", [
    (("--min-age", "soon"), "'soon' is not a duration; e.g. 1h, 30m, 90s or 0"),
    (("--run", "*"), "'*' is not a run ID (letters, digits, dashes; at most 40)"),    # never "every run"
])
def test_bad_arguments_are_usage_errors(args, message, tmp_path):
    done = _janitor_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert message in done.stderr


# --------------------------------------------------------------------------- signals and time-outs

def test_first_signal_stops_the_run_a_signal_during_teardown_stops_the_cleanup_and_says_what_to_do():
    said = []
    interruptions = Interruptions("Run-9", said.append)
    before = signal.getsignal(signal.SIGTERM)
    interruptions.install()
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)          # still stopping: noted, nothing interrupted
        assert said == ["proxqa: SIGINT: the run is stopping; its cleanup follows (a signal during it stops it)"]
        interruptions.tearing_down = True
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        assert "cleanup stopped" in said[-1] and "python -m proxqa janitor --run run-9 --min-age 0" in said[-1]
        assert signal.getsignal(signal.SIGTERM) == before
    finally:
        interruptions.restore()
        signal.signal(signal.SIGTERM, before)


class StubConfig:
    def __init__(self, ini: str, given: float | None):
        self._ini, self._given = ini, given
        self.option = type("Option", (), {"timeout": given})()

    def getini(self, name):
        return self._ini

    def getoption(self, name, default=None):
        return self._given


@pytest.mark.parametrize("ini, given, longest_wait, expected", [
    ("3600", None, 900.0, None),        # above twice the longest wait: as configured
    ("3600", None, 2500.0, 5000.0),     # raised to stay a backstop
    ("3600", 60.0, 2500.0, 60.0),       # --timeout on the command line: as given
    ("", None, 2500.0, None),           # no time-out configured: none added
])
def test_the_run_time_out_stays_above_the_suites_own_deadlines(ini, given, longest_wait, expected):
    config = StubConfig(ini, given)
    settings = type("Settings", (), {"waits": {"default/delete": 120.0, "default/recovery": longest_wait}})()
    _raise_timeout_backstop(config, settings)
    assert config.option.timeout == expected
