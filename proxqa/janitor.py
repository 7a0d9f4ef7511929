"""Removing what runs of the suite left behind, by the suite's marks alone (the run label on Kubernetes objects, the
run tag on Proxmox VMs, the run prefix of Proxmox volume names): nothing without a mark is ever touched.

Three users: `python -m proxqa janitor` for the leftovers of killed runs; the run's own teardown (`sweep_run`),
which removes what a failed or interrupted finalizer left; and `Interruptions`, which turns SIGINT and SIGTERM into
that teardown and says what may remain when a second signal stops it.

Order: tenant clusters first (their kubeconfigs go with the management cluster's objects), then the management
cluster (what no live owner holds is deleted, the rest goes with its owner; namespaces last, and never one that
holds another run's objects), then Proxmox (VMs stopped, destroyed with purge, their own cloud-init ISOs deleted;
then run-named volumes). Each phase waits until its objects are gone.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from proxqa.config import ConfigError, Settings, duration_seconds, load_settings
from proxqa.kube.client import KubeClient, KubeError, KubeUnreachable
from proxqa.ledger import LEDGER_FILE, read_ledger
from proxqa.leftovers import (ClusterLeftovers, KubeObject, RunVm, RunVolume, api_server, run_backups, run_vms,
                              run_volumes)
from proxqa.naming import label_value
from proxqa.pve.client import PveClient, endpoint_of, integration_identity, suite_identity
from proxqa.pve.errors import PveError, PveUnreachable, redact
from proxqa.waits import Deadline, WaitAborted, WaitTimeout, wait_for

REPO = Path(__file__).resolve().parent.parent
EXIT_CLEAN, EXIT_REMAINS = 0, 1
FAILURES = (KubeError, KubeUnreachable, PveError, PveUnreachable, WaitTimeout, WaitAborted)
Out = Callable[[str], None]


@dataclass
class RunLeftovers:
    """What one run left, as surveyed."""
    run: str
    objects: list[tuple[str, KubeObject]] = field(default_factory=list)     # (cluster name, object)
    vms: list[RunVm] = field(default_factory=list)
    volumes: list[RunVolume] = field(default_factory=list)
    last_active: datetime.datetime | None = None    # newest object, or last ledger record; None: unknown

    @property
    def count(self) -> int:
        return len(self.objects) + len(self.vms) + len(self.volumes)

    def lines(self) -> list[str]:
        lines = [f"{cluster}: {obj} ({obj.state})" for cluster, obj in self.objects]
        lines += [f"Proxmox: {vm}" + (f", with ISO {', '.join(vm.isos)}" if vm.isos else "") for vm in self.vms]
        lines += [f"Proxmox: {volume}" for volume in self.volumes]
        return lines


@dataclass
class Survey:
    runs: dict[str, RunLeftovers]
    clusters: list[ClusterLeftovers]        # tenant clusters first, the management cluster last
    problems: list[str]                     # what could not be looked at (an unreachable tenant cluster)

    def run(self, name: str) -> RunLeftovers:
        return self.runs.setdefault(name, RunLeftovers(name))


@dataclass(frozen=True)
class ProxmoxSide:
    """Proxmox as the janitor uses it: the suite's identity lists, CAPMOX's (which made the VMs) acts; the backup
    drill's identity, when configured, lists and deletes the drill's backups (only it may see them)."""
    reader: PveClient
    actor: PveClient
    deadline: Deadline
    backups: PveClient | None = None

    def volumes(self, run: str | None = None) -> list[RunVolume]:
        """The run's volumes (or every run's) and, with the backup identity, its backups."""
        return run_volumes(self.reader, run) + (run_backups(self.backups, run) if self.backups else [])

    def destroy(self, vm: RunVm) -> None:
        """Stop the VM, destroy it with purge and wait; then delete its own cloud-init ISO."""
        if vm.status != "stopped":
            self.actor.wait_task(vm.node, self.actor.stop_vm(vm.node, vm.vmid), f"stop of VM {vm.vmid}", self.deadline)
        self.actor.wait_task(vm.node, self.actor.destroy_vm(vm.node, vm.vmid), f"destruction of VM {vm.vmid}",
                             self.deadline)
        for volid in vm.isos:
            self.delete_volume(vm.node, volid, "iso")

    def delete_volume(self, node: str, volid: str, content: str) -> None:
        storage = volid.partition(":")[0]
        actor, reader = (self.backups, self.backups) if content == "backup" and self.backups else \
            (self.actor, self.reader)
        try:
            upid = actor.delete_volume(node, storage, volid)
        except PveError:
            if volid in reader.storage_volumes(node, storage, content):
                raise
            return      # gone already: on a shared storage, through another node
        if upid:
            actor.wait_task(node, upid, f"deletion of {volid}", self.deadline)


class Janitor:
    def __init__(self, mgmt: ClusterLeftovers | None, proxmox: ProxmoxSide | None, *, deadline: Deadline, out: Out,
                 tenant_kubeconfigs: Iterable[tuple[str, str]] = ()):
        self.mgmt, self.proxmox, self.deadline, self.out = mgmt, proxmox, deadline, out
        self._extra_tenants = tuple(tenant_kubeconfigs)     # (title, kubeconfig text) of clusters named by the user

    # ------------------------------------------------------------------------------------------ survey

    def survey(self, run: str | None = None) -> Survey:
        """The leftovers of that run (its label value), or of every run, on every side the settings name."""
        found = Survey({}, [], [])
        mgmt_objects = self.mgmt.labelled(run) if self.mgmt else []
        for tenant in self._tenants(mgmt_objects):
            try:
                objects = tenant.labelled(run)
            except (KubeError, KubeUnreachable) as exc:
                found.problems.append(f"{tenant.name}: not looked at: {exc}")
                continue
            found.clusters.append(tenant)
            self._add_objects(found, tenant.name, objects)
        if self.mgmt:
            found.clusters.append(self.mgmt)
            self._add_objects(found, self.mgmt.name, mgmt_objects)
        if self.proxmox:
            for vm in run_vms(self.proxmox.reader, run):
                found.run(vm.run).vms.append(vm)
            for volume in self.proxmox.volumes(run):
                found.run(volume.run).volumes.append(volume)
        return found

    @staticmethod
    def _add_objects(found: Survey, cluster: str, objects: list[KubeObject]) -> None:
        for obj in objects:
            leftovers = found.run(obj.run)
            leftovers.objects.append((cluster, obj))
            if obj.created and (leftovers.last_active is None or obj.created > leftovers.last_active):
                leftovers.last_active = obj.created

    def _tenants(self, mgmt_objects: list[KubeObject]) -> list[ClusterLeftovers]:
        """The tenant clusters the run-labelled clusters in the management cluster are, and the extra ones named;
        one per API server."""
        found = self.mgmt.tenant_kubeconfigs(mgmt_objects) if self.mgmt else []
        seen, tenants = set(), []
        for title, kubeconfig in [*found, *self._extra_tenants]:
            server = api_server(kubeconfig)
            if server not in seen:
                seen.add(server)
                tenants.append(ClusterLeftovers(KubeClient(kubeconfig, title)))
        return tenants

    # ------------------------------------------------------------------------------------------ cleaning

    def clean(self, survey: Survey, runs: set[str]) -> list[str]:
        """Delete everything of these runs and wait until it is gone; what remains, one line each."""
        remaining = []
        for cluster in survey.clusters:
            remaining += self._clear_cluster(cluster, runs)
        if self.proxmox:
            remaining += self._clear_proxmox(runs)
        return remaining

    def _clear_cluster(self, cluster: ClusterLeftovers, runs: set[str]) -> list[str]:
        try:
            self._clear(cluster, runs, namespaces=False)
            self._clear(cluster, runs, namespaces=True)
            left = [obj for obj in cluster.labelled() if obj.run in runs]
        except FAILURES as exc:
            self.out(f"{cluster.name}: {exc}")
            return [f"{cluster.name}: not cleaned: {exc}"]
        return [f"{cluster.name}: {obj} ({obj.state})" for obj in left]

    def _clear(self, cluster: ClusterLeftovers, runs: set[str], *, namespaces: bool) -> None:
        """Delete the runs' objects (or, after them, their namespaces) and wait until they are gone. An object a live
        owner holds goes with its owner; a namespace holding objects of another run is kept."""
        what = "namespaces" if namespaces else "objects"
        shown: list[int] = []

        def step() -> list[KubeObject]:
            everything = cluster.labelled()
            pending = [o for o in everything if o.run in runs and (o.kind == "Namespace") == namespaces]
            if namespaces:
                pending = self._without_busy(pending, everything, runs)
            live = {o.uid for o in everything}
            for obj in [o for o in pending if not o.deleting and not self._owned(cluster, o, live)]:
                cluster.delete(obj)
            if pending and shown[-1:] != [len(pending)]:
                shown.append(len(pending))
                self.out(f"{cluster.name}: {len(pending)} {what} being deleted")
            return pending

        wait_for(f"{what} of run {', '.join(sorted(runs))} to be deleted from the {cluster.name}", step,
                 done=lambda pending: not pending, deadline=self.deadline,
                 show=lambda pending: "; ".join(f"{o} ({o.state})" for o in pending[:10]))

    def _without_busy(self, namespaces: list[KubeObject], everything: list[KubeObject],
                      runs: set[str]) -> list[KubeObject]:
        busy = {o.namespace: o.run for o in everything if o.run not in runs and o.namespace}
        for ns in namespaces:
            if ns.name in busy:
                self.out(f"kept Namespace {ns.name}: it holds objects of run {busy[ns.name]}")
        return [ns for ns in namespaces if ns.name not in busy]

    @staticmethod
    def _owned(cluster: ClusterLeftovers, obj: KubeObject, live: set[str]) -> bool:
        """True when an owner of the object still exists (labelled or not): the object goes with it."""
        return any(uid in live or cluster.exists(api_version, kind, name, obj.namespace)
                   for api_version, kind, name, uid in obj.owners)

    def _clear_proxmox(self, runs: set[str]) -> list[str]:
        proxmox = self.proxmox
        assert proxmox is not None
        try:
            for vm in [vm for vm in run_vms(proxmox.reader) if vm.run in runs]:
                self.out(f"Proxmox: destroying {vm}")
                self._try(lambda: proxmox.destroy(vm))
            for volume in [v for v in proxmox.volumes() if v.run in runs]:
                self.out(f"Proxmox: deleting {volume}")
                self._try(lambda: proxmox.delete_volume(volume.node, volume.volid, volume.content))
            left = [f"Proxmox: {vm}" for vm in run_vms(proxmox.reader) if vm.run in runs]
            return left + [f"Proxmox: {v}" for v in proxmox.volumes() if v.run in runs]
        except FAILURES as exc:
            return [f"Proxmox: not cleaned: {exc}"]

    def _try(self, action: Callable[[], None]) -> None:
        try:
            action()
        except FAILURES as exc:
            self.out(f"Proxmox: {exc}")


# ---------------------------------------------------------------------------------------------- building

def janitor_for(settings: Settings, *, out: Out, tenant_kubeconfigs: Iterable[tuple[str, str]] = ()) -> Janitor:
    """A janitor for the target the settings name: the management cluster (KUBECONFIG) and Proxmox, listing as the
    suite's identity and acting as CAPMOX's (which made the VMs) when it is configured."""
    deadline = Deadline(settings.wait_seconds("janitor", "delete"))
    mgmt = ClusterLeftovers(KubeClient(Path(settings.kubernetes.kubeconfig), "management cluster")) \
        if settings.kubernetes.kubeconfig else None
    return Janitor(mgmt, _proxmox_side(settings, deadline), deadline=deadline, out=out,
                   tenant_kubeconfigs=tenant_kubeconfigs)


def _proxmox_side(settings: Settings, deadline: Deadline) -> ProxmoxSide | None:
    px = settings.proxmox
    own = suite_identity(px, token=True) or suite_identity(px, token=False)
    if not px.host or own is None:
        return None
    endpoint = endpoint_of(px)
    actor = integration_identity(px, "capmox") or own
    backup = integration_identity(px, "backup")
    return ProxmoxSide(PveClient(endpoint, own), PveClient(endpoint, actor), deadline,
                       PveClient(endpoint, backup) if backup else None)


# ---------------------------------------------------------------------------------------------- ledgers

@dataclass(frozen=True)
class LedgerHint:
    """What a run's ledger says: when it last meant to create something, and whether it finished."""
    last_record: datetime.datetime | None
    records: int
    finished: bool          # the run wrote its summary.json

    def describe(self, run_dir: Path) -> str:
        ending = "finished" if self.finished else "killed or still running: no summary.json"
        return f"{run_dir}/{LEDGER_FILE} lists {self.records} object(s); {ending}"


def ledger_hints(reports_dir: Path) -> dict[str, tuple[Path, LedgerHint]]:
    """Run label value -> (run folder, hint) for every run folder with a ledger."""
    hints = {}
    for ledger in sorted(reports_dir.glob(f"*/{LEDGER_FILE}")):
        records = read_ledger(ledger)
        if not records:
            continue
        times = [datetime.datetime.fromisoformat(r["time"]) for r in records if r.get("time")]
        hints[label_value(records[0]["run"])] = (ledger.parent, LedgerHint(
            max(times) if times else None, len(records), (ledger.parent / "summary.json").exists()))
    return hints


# ---------------------------------------------------------------------------------------------- the command

def add_janitor_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "janitor", help="remove what killed runs left on both sides (by run label and tag only)",
        description="Find what runs of the suite left behind, by the run label (Kubernetes: every served kind, in "
                    "the management cluster and in the tenant clusters the runs made), the run tag (Proxmox VMs) "
                    "and the run prefix (Proxmox volumes), and delete it: Kubernetes objects (namespaces last), "
                    "VMs stopped and destroyed with purge with their cloud-init ISOs. Anything without the suite's "
                    "label or tag is never touched. Targets what the suite would (environment, --profile, --set).")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    parser.add_argument("--min-age", type=_age, default=3600.0, metavar="DURATION",
                        help="leave runs active more recently than this (default 1h; e.g. 30m, 90s, 0)")
    parser.add_argument("--run", dest="run_label", type=_run_label, metavar="RUNID",
                        help="only this run (default: every run of the suite)")
    parser.add_argument("--profile", type=Path, help="YAML profile with the target's settings, as for the suite")
    parser.add_argument("--set", action="append", default=[], dest="settings", metavar="KEY=VALUE",
                        help="override one setting, as for the suite")
    parser.add_argument("--tenant-kubeconfig", action="append", default=[], type=_kubeconfig, metavar="FILE",
                        help="a further tenant cluster to clean (the ones the runs made are found by themselves)")
    parser.add_argument("--reports-dir", type=Path, default=REPO / "reports",
                        help="where run folders are, for their ledgers (default: reports/ of the repository)")
    parser.set_defaults(run=main)


def _kubeconfig(text: str) -> tuple[str, str]:
    """(title, text) of a kubeconfig file named on the command line."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file; e.g. --tenant-kubeconfig ~/.kube/tenant.yaml")
    return f"tenant cluster {path}", path.read_text()


def _run_label(text: str) -> str:
    """The run's label value, for a run ID as the suite takes it (setting run_id)."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a run ID (letters, digits, dashes; at most 40); "
                                         "e.g. --run 20261126-101014-7dd7")
    return label_value(text)


def _age(text: str) -> float:
    try:
        seconds = duration_seconds(text)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; e.g. 1h, 30m, 90s or 0")
    return seconds


def main(args: argparse.Namespace) -> int:
    """List (--dry-run) or remove what the chosen runs left; 0 when nothing of them remains, 1 when something
    does or a side could not be reached, 4 for bad settings."""
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print("ERROR: configuration error\n" + "\n".join(exc.problems), file=sys.stderr)
        return ConfigError.exit_code
    secrets = settings.secrets()

    def say(line: str) -> None:
        print(redact(line, secrets), flush=True)

    janitor = janitor_for(settings, out=say, tenant_kubeconfigs=args.tenant_kubeconfig)
    run = args.run_label
    say(f"proxqa janitor: {_target(settings)}; " + (f"run {run}" if run else "every run of the suite") +
        (f", leaving runs active in the last {args.min_age:g} s" if args.min_age else ""))
    try:
        survey = janitor.survey(run)
    except FAILURES as exc:
        say(f"ERROR: {exc}")
        return EXIT_REMAINS
    for problem in survey.problems:
        say(problem)
    chosen = _chosen_runs(survey, ledger_hints(args.reports_dir), args.min_age,
                          datetime.datetime.now(datetime.timezone.utc), say)
    if not chosen:
        say("nothing to remove")
        return EXIT_CLEAN
    if args.dry_run:
        say(f"dry run: nothing deleted; {sum(survey.runs[r].count for r in chosen)} object(s) of {len(chosen)} "
            "run(s) would be")
        return EXIT_CLEAN
    remaining = janitor.clean(survey, chosen)
    for line in remaining:
        say(f"remains: {line}")
    say(f"{len(remaining)} object(s) remain" if remaining else f"removed what {len(chosen)} run(s) left")
    return EXIT_REMAINS if remaining else EXIT_CLEAN


def _settings(args: argparse.Namespace) -> Settings:
    cli = {}
    for pair in args.settings:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError([f"--set {pair!r}: expected KEY=VALUE, e.g. --set proxmox.port=8007"])
        cli[key.strip()] = value
    settings = load_settings(cli=cli, environ=os.environ, profile=args.profile)
    if settings.target == "lab":
        raise ConfigError(["no target: the janitor cleans the target the settings name (PROXMOX_HOST and KUBECONFIG "
                           "in the environment, --profile or --set) and never starts a lab; for a running lab: "
                           "eval \"$(python -m lab up)\" prints the settings to export"])
    return settings


def _target(settings: Settings) -> str:
    sides = [f"Proxmox {settings.proxmox.host}:{settings.proxmox.port}"] if settings.proxmox.host else []
    sides += [f"management cluster {settings.kubernetes.kubeconfig}"] if settings.kubernetes.kubeconfig else []
    return ", ".join(sides) or "nothing configured"


def _chosen_runs(survey: Survey, hints: dict[str, tuple[Path, LedgerHint]], min_age: float,
                 now: datetime.datetime, say: Out) -> set[str]:
    """The surveyed runs old enough to clean, each listed with what it left; the others named with why not."""
    chosen = set()
    for run, leftovers in sorted(survey.runs.items()):
        run_dir, hint = hints.get(run, (None, None))
        active = max((t for t in (leftovers.last_active, hint and hint.last_record) if t), default=None)
        age = (now - active).total_seconds() if active else None
        header = f"run {run}: {leftovers.count} object(s)" + (f", last active {age:.0f} s ago" if age is not None
                                                                else "")
        if hint is not None:
            header += f"; {hint.describe(run_dir)}"
        if age is not None and age < min_age:
            say(f"{header}: left alone, active more recently than --min-age")
            continue
        say(header)
        for line in leftovers.lines():
            say(f"  {line}")
        chosen.add(run)
    return chosen


# ---------------------------------------------------------------------------------------------- the run's teardown

def sweep_run(settings: Settings, run_id: str, run_dir: Path, *, out: Out) -> list[str]:
    """The run's own teardown, once every finalizer ran: whatever still carries this run's label or tag (a failed
    or interrupted finalizer's objects) is described in <run>/leftovers.txt first (state only, secrets redacted),
    then deleted and waited for. Only for runs that created something, on a target that outlives the run (not the
    embedded lab) and unless the run keeps its resources. What remains, one line each."""
    if settings.target == "lab" or settings.keep_test_resources or not read_ledger(run_dir / LEDGER_FILE):
        return []
    janitor = janitor_for(settings, out=out)
    run = label_value(run_id)
    survey = janitor.survey(run)
    leftovers = survey.runs.get(run)
    if leftovers is None:
        return []
    report = run_dir / "leftovers.txt"
    report.write_text(redact("\n".join([*survey.problems, *leftovers.lines()]) + "\n", settings.secrets()))
    out(f"proxqa: after the finalizers, {leftovers.count} object(s) of run {run} remain (state in {report}); "
        "deleting them")
    return janitor.clean(survey, {run})


def janitor_hint(run_id: str) -> str:
    run = label_value(run_id)
    return (f"list it with `python -m proxqa janitor --run {run} --min-age 0 --dry-run`, remove it with "
            f"`python -m proxqa janitor --run {run} --min-age 0`")


def report_remains(settings: Settings, run_id: str, *, out: Out) -> None:
    """After the cleanup was stopped: what of the run remains, and the janitor command that removes it."""
    if settings.target == "lab":
        out("proxqa: the embedded lab stops with the run: nothing of it remains")
        return
    out(f"proxqa: cleanup stopped; looking for what run {label_value(run_id)} left (a further signal skips this)")
    try:
        leftovers = janitor_for(settings, out=out).survey(label_value(run_id)).runs.get(label_value(run_id))
        lines = leftovers.lines() if leftovers else []
        out("\n".join(f"proxqa: remains: {line}" for line in lines) or "proxqa: nothing of the run remains")
    except (KeyboardInterrupt, *FAILURES) as exc:
        out(f"proxqa: could not list what remains ({type(exc).__name__})")
    out(f"proxqa: {janitor_hint(run_id)}")


# ---------------------------------------------------------------------------------------------- signals

class Interruptions:
    """SIGINT and SIGTERM during a suite run. The first, while checks run, stops the run as Ctrl-C does
    (KeyboardInterrupt), so pytest's finalizers and the run's teardown delete what the run made. One that comes
    while the run is stopping is noted; one during the final teardown stops it, saying that things may remain and
    how the janitor removes them, and the signals act as they did before again."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, run_id: str, say: Out):
        self.run_id, self._say = run_id, say
        self.stopping = False               # the run was interrupted: its checks end, its cleanup follows
        self.tearing_down = False           # the final teardown (finalizers, the run's teardown) is running
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        """Handle the signals from now on (only the main thread can; elsewhere this does nothing)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}

    def restore(self) -> None:
        """The handlers as they were before install()."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if not self.stopping and not self.tearing_down:
            self.stopping = True
            raise KeyboardInterrupt(name)
        if not self.tearing_down:
            self._say(f"proxqa: {name}: the run is stopping; its cleanup follows (a signal during it stops it)")
            return
        self.restore()
        self._say(f"proxqa: {name}: cleanup stopped; what run {label_value(self.run_id)} made may remain: "
                  f"{janitor_hint(self.run_id)}")
        raise KeyboardInterrupt(name)
