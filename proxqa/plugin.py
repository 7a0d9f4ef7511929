"""The pytest plugin: settings before any test, stage order and gating, result collection, reports, exit code.

Dormant unless the run collects from `stages/` (the project's own tests in `tests/` run without it).
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proxqa import catalog, janitor, report_files, safety
from proxqa.config import ConfigError, Settings, load_settings, resolve_target
from proxqa.diagnostics import Diagnostics
from proxqa.labctl import LabError, LabHandle, start_lab, stop_lab
from proxqa.pve.errors import PveUnreachable
from proxqa.pve.tls import EndpointUnreachable
from proxqa.report_files import KNOWN_ISSUE
from proxqa.reporting import publish_run
from proxqa.results import ItemResult, SlaResult
from proxqa.shared_results import SharedResults
from proxqa.sla import SlaBreach
from proxqa.summary import RunSummary, exit_code, summarize

UNREACHABLE = (PveUnreachable, EndpointUnreachable)
BLOCKED = "blocked by "
EXIT_LAB_FAILED = 7


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_run_id() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass
class Suite:
    """What the plugin knows about this run; one per pytest process."""
    config: pytest.Config
    cli: dict[str, str]
    profile: Path | None
    settings: Settings
    run_id: str
    run_dir: Path
    started: datetime.datetime = field(default_factory=_now)
    lab: LabHandle | None = None
    environment: dict[str, str] = field(default_factory=dict)
    results: dict[str, ItemResult] = field(default_factory=dict)       # nodeid -> result
    reruns: set[str] = field(default_factory=set)
    summary: RunSummary | None = None
    diagnostics: Diagnostics | None = None
    report_notes: list[str] = field(default_factory=list)     # where the Allure report and dashboard went

    @property
    def is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def verdict(self, check_id: str) -> ItemResult | None:
        """The check's deciding item so far: its first one that did not pass, else a passed one, else None."""
        seen = [r for r in self.results.values() if r.check == check_id]
        return next((r for r in seen if r.outcome not in ("passed", "flaky")), seen[0] if seen else None)


SUITE = pytest.StashKey[Suite]()


def suite(config: pytest.Config) -> Suite:
    """The run's state, for fixtures; a clear error when the plugin is dormant."""
    if SUITE not in config.stash:
        raise pytest.UsageError("the proxqa suite is not active: run the checks under stages/")
    return config.stash[SUITE]


# --------------------------------------------------------------------------- options

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("proxqa", "Proxmox VE + CozyStack acceptance suite")
    group.addoption("--profile", type=Path, help="YAML profile with the target's settings")
    group.addoption("--set", action="append", default=[], dest="proxqa_set", metavar="KEY=VALUE",
                    help="override one setting (dotted key or environment name), e.g. --set proxmox.port=8007")
    group.addoption("--target", choices=("lab", "live"), help="lab (default without PROXMOX_HOST) or live")
    group.addoption("--stage", dest="proxqa_stages", metavar="N[,N...]", help="run only these stages, e.g. 1,2")
    group.addoption("--read-only", action="store_true", help="skip every check that would change something")
    group.addoption("--destructive", action="store_true",
                    help="run destructive checks (S8.6); the profile must also set test.allow_destructive")
    group.addoption("--lab-fault", action="append", default=[], metavar="NAME[=VALUE]",
                    help="start the embedded lab with this fault (repeatable)")
    group.addoption("--run-id", help="name of this run (default: timestamp and random suffix)")
    group.addoption("--reports-dir", type=Path, help="where run folders go (default: reports/ in the repository)")
    group.addoption("--no-allure-html", action="store_true",
                    help="skip the Allure HTML report (about 2 s); `python -m proxqa report RUN_DIR` makes it later")


def _cli_settings(config: pytest.Config) -> dict[str, str]:
    cli: dict[str, str] = {}
    for pair in config.getoption("proxqa_set"):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise pytest.UsageError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set proxmox.port=8007")
        cli[key.strip()] = value
    if config.getoption("target"):
        cli["target"] = config.getoption("target")
    if config.getoption("read_only"):
        cli["read_only"] = "true"
    if config.getoption("run_id"):
        cli["run_id"] = config.getoption("run_id")
    if config.getoption("lab_fault"):
        cli["lab.faults"] = ",".join(config.getoption("lab_fault"))
    return cli


def _selected_stages(config: pytest.Config) -> set[int] | None:
    raw = config.getoption("proxqa_stages")
    if not raw:
        return None
    try:
        stages = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        stages = set()
    if not stages or not stages <= set(catalog.STAGES):
        raise pytest.UsageError(f"--stage {raw!r}: give stage numbers 1 to 8 separated by commas, e.g. --stage 1,2")
    return stages


def _runs_stages(config: pytest.Config) -> bool:
    stages_dir = config.rootpath / "stages"
    for arg in config.args:
        path = Path(arg.split("::")[0])
        path = path if path.is_absolute() else config.invocation_params.dir / path
        if path.resolve() == stages_dir or stages_dir in path.resolve().parents:
            return True
    return False


def _load(config: pytest.Config, cli: dict[str, str], profile: Path | None,
          lab: dict[str, str] | None = None) -> Settings:
    try:
        return load_settings(cli=cli, environ=os.environ, profile=profile, lab=lab)
    except ConfigError as exc:
        raise pytest.UsageError("configuration error\n" + "\n".join(exc.problems)) from None


# --------------------------------------------------------------------------- configuration

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for number, name in catalog.STAGES.items():
        config.addinivalue_line("markers", f"stage{number}: stage {number}, {name}")
    config.addinivalue_line("markers", "check(id): the STAGES.md check this test implements, e.g. check('S1.3')")
    config.addinivalue_line("markers", "known_issue(url): the check fails on a known product defect tracked at url; "
                                       "its failure is reported apart and not counted by the gate, as in Allure")
    config.addinivalue_line("markers", f"{safety.MUTATES}(change): the check itself changes the target (what it "
                                       "changes, e.g. 'submits a ProxmoxMachine'); skipped in read-only runs")
    if not _runs_stages(config):
        return
    _selected_stages(config)
    workerinput = getattr(config, "workerinput", {})
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"    # one stage per worker, in catalogue order: gating sees its prerequisites
    if workerinput.get("proxqa_loadgroup"):
        config.option.loadgroup = True      # workers parse the command line again, which does not say loadgroup
    cli, profile = _cli_settings(config), config.getoption("profile")
    try:
        resolve_target(cli=cli, environ=os.environ, profile=profile)
    except ConfigError as exc:
        raise pytest.UsageError("configuration error\n" + "\n".join(exc.problems)) from None
    settings = _load(config, cli, profile, workerinput.get("proxqa_lab"))
    run_id = workerinput.get("proxqa_run_id") or settings.run_id or new_run_id()
    reports = config.getoption("reports_dir") or config.rootpath / "reports"
    state = Suite(config=config, cli=cli, profile=profile, settings=settings, run_id=run_id,
                  run_dir=(reports / run_id).resolve())
    state.diagnostics = Diagnostics(settings.secrets())
    config.stash[SUITE] = state
    config.pluginmanager.register(SuitePlugin(state), "proxqa-suite")
    _raise_timeout_backstop(config, settings)
    if not config.option.collectonly:
        _point_reports_at(config, state)


def _point_reports_at(config: pytest.Config, state: Suite) -> None:
    """One folder per run: pytest-html, JUnit and Allure results go there unless the user chose otherwise."""
    try:
        state.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(f"configuration error\nreports folder: cannot create {state.run_dir} "
                                f"({error.strerror or error}); e.g. --reports-dir reports") from None
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(state.run_dir / "report.html")
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(state.run_dir / "junit.xml")
    if not getattr(option, "allure_report_dir", None):
        option.allure_report_dir = str(state.run_dir / "allure-results")


class SuitePlugin:
    """The hooks that act only on a suite run; registered by pytest_configure."""

    def __init__(self, state: Suite):
        self.state = state
        self._shared = SharedResults(state.run_dir / "results.jsonl")
        # SIGTERM too stops the run as Ctrl-C does, so the finalizers and the run's teardown clean up
        self.interrupts = janitor.Interruptions(state.run_id, lambda line: _progress_to(state.config)(line))
        self.interrupts.install()

    # ----------------------------------------------------------------------- interruptions and the run's teardown

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupts.stopping = True
        _progress_to(self.state.config)(
            f"proxqa: {excinfo.value or 'interrupted'}: stopping the run and deleting what run {self.state.run_id} "
            "made; a further signal stops that")

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_stoppable(self, session: pytest.Session, exitstatus: int) -> Iterator[None]:
        """A signal during the final teardown stops it: say what remains and how the janitor removes it."""
        self.interrupts.tearing_down = True
        try:
            return (yield)
        except KeyboardInterrupt:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
            if self.state.is_controller:
                janitor.report_remains(self.state.settings, self.state.run_id, out=_progress_to(session.config))
            return None

    def _sweep(self, config: pytest.Config) -> None:
        """The run's teardown after the finalizers: what still carries the run's label or tag goes."""
        say = _progress_to(config)
        try:
            remaining = janitor.sweep_run(self.state.settings, self.state.run_id, self.state.run_dir, out=say)
        except janitor.FAILURES as exc:
            say(f"proxqa: could not look for what the run left: {exc}")
            return
        for line in remaining:
            say(f"proxqa: remains: {line}")
        if remaining:
            say(f"proxqa: {janitor.janitor_hint(self.state.run_id)}")

    # ----------------------------------------------------------------------- lab

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        state = self.state
        if not state.is_controller or state.settings.target != "lab" or session.config.option.collectonly:
            return
        print(f"proxqa: starting the embedded lab (run {state.run_id})", file=sys.stderr, flush=True)
        try:
            # Outside the report folder: the lab's state holds kubeconfigs with bearer tokens.
            lab_dir = Path(tempfile.mkdtemp(prefix=f"proxqa-lab-{state.run_id}-"))
            state.lab = start_lab(lab_dir, faults=tuple(state.settings.lab.faults),
                                  time_scale=state.settings.lab.time_scale, watch_pid=os.getpid())
        except LabError as exc:
            pytest.exit(f"proxqa: {exc}", returncode=EXIT_LAB_FAILED)
        state.settings = _load(session.config, state.cli, state.profile, state.lab.settings)

    def pytest_configure_node(self, node) -> None:  # xdist controller: hand the lab and run ID to each worker
        node.workerinput["proxqa_run_id"] = self.state.run_id
        node.workerinput["proxqa_lab"] = self.state.lab.settings if self.state.lab else None
        node.workerinput["proxqa_loadgroup"] = node.config.getvalue("dist") == "loadgroup"

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.interrupts.restore()
        if self.state.lab is not None:
            stop_lab(self.state.lab.state_dir)
            shutil.rmtree(self.state.lab.state_dir, ignore_errors=True)
            self.state.lab = None

    # ----------------------------------------------------------------------- collection

    @pytest.hookimpl(tryfirst=True)     # before xdist reads the xdist_group marks
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        problems = []
        for item in items:
            marks = list(item.iter_markers("check"))
            if len(marks) != 1 or not marks[0].args:
                problems.append(f"{item.nodeid}: needs exactly one @pytest.mark.check('S<stage>.<n>')")
                continue
            try:
                check = catalog.check(marks[0].args[0])
            except KeyError as exc:
                problems.append(f"{item.nodeid}: {exc.args[0]}")
                continue
            item.stash[CHECK] = check
            _label(item, check)
            problems += _mark_known_issue(item)
        if problems:
            raise pytest.UsageError("\n".join(problems))
        wanted = _selected_stages(config)
        if wanted is not None:
            dropped = [i for i in items if i.stash[CHECK].stage not in wanted]
            items[:] = [i for i in items if i.stash[CHECK].stage in wanted]
            config.hook.pytest_deselected(items=dropped)
        items.sort(key=lambda i: catalog.order_key(i.stash[CHECK].id))

    # ----------------------------------------------------------------------- gating

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.state.is_controller:
            # Verdicts other workers reached so far. A worker never waits for one: xdist holds back a worker's last
            # item until it gets more work, so waiting could deadlock. A prerequisite still running elsewhere gates
            # nothing, and its dependant then fails on the same cause instead of being reported as blocked.
            known = self._shared.read()
            self.state.results.update((k, v) for k, v in known.items() if k not in self.state.results)
        for mark in item.iter_markers(safety.MUTATES):
            safety.skip_if_read_only(self.state.settings.read_only, mark.args[0])
        for group in _prerequisites(item.stash[CHECK]):
            verdicts = [self.state.verdict(cid) for cid in group.split("|")]
            if all(_gates(v) for v in verdicts):
                cause = verdicts[0]     # a blocked prerequisite already names the root cause
                pytest.skip(cause.message if cause.outcome == "blocked" else f"{BLOCKED}{cause.check}: {cause.message}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        check = item.stash.get(CHECK, None)
        if check is None:
            return
        report.user_properties.append(("proxqa_check", check.id))
        if report.failed and report.when == "call" and self.state.diagnostics is not None:
            for title, text in self.state.diagnostics.collect():
                report.sections.append((f"proxqa diagnostics: {title}", text))
        if call.excinfo is not None and (report.failed or hasattr(report, "wasxfail")):
            report.user_properties.append(("proxqa_category", _category(call.excinfo.value)))
            report.user_properties.append(("proxqa_message", _first_line(call.excinfo.value)))

    # ----------------------------------------------------------------------- results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict((k, v) for k, v in report.user_properties if k in ("proxqa_check", "proxqa_category",
                                                                       "proxqa_message"))
        if "proxqa_check" not in props:
            return
        if report.outcome == "rerun":
            self.state.reruns.add(report.nodeid)
            return
        results = self.state.results
        if report.when == "setup" and report.passed:
            results.pop(report.nodeid, None)       # a fresh attempt (rerun) starts over
        elif report.when != "teardown" or (report.failed and _passed_so_far(results.get(report.nodeid))):
            results[report.nodeid] = _item_result(report, props, self.state.reruns)
        if report.when == "teardown" and report.nodeid in results:
            sla = tuple(SlaResult.from_dict(v) for k, v in report.user_properties if k == "proxqa_sla")
            for key, value in report.user_properties:
                if key == "proxqa_environment":
                    self.state.environment.update(value)
            results[report.nodeid] = dataclasses.replace(results[report.nodeid], sla=sla)
        if not self.state.is_controller and report.nodeid in results and report.when != "teardown":
            self._shared.add(results[report.nodeid])

    def _summary(self) -> RunSummary:
        settings = self.state.settings
        environment = {**self.state.environment,
                       **{k: v for k, v in settings.describe().items() if v != "(not set)"}}
        return summarize(self.state.results.values(), run_id=self.state.run_id, target=settings.target,
                                 started=self.state.started, finished=_now(), threshold=settings.gate.pass_rate,
                                 min_executed=settings.gate.min_executed, environment=environment)

    def pytest_html_report_title(self, report) -> None:
        report.title = f"Proxmox VE + CozyStack acceptance: run {self.state.run_id} ({self.state.settings.target})"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        prefix.append(report_files.summary_html(self._summary()))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.state.is_controller or session.config.option.collectonly:
            return
        run = self._summary()
        run_dir = self.state.run_dir
        report_files.write_summary_json(run, run_dir)
        report_files.write_summary_md(run, run_dir)
        alluredir = Path(session.config.option.allure_report_dir)
        alluredir.mkdir(parents=True, exist_ok=True)
        report_files.write_allure_environment({"gate": run.gate.verdict, **run.environment}, alluredir)
        report_files.write_allure_categories(alluredir)
        _link_latest(run_dir)
        self.state.summary = run
        self.state.report_notes = publish_run(run, run_dir, alluredir=alluredir,
                                              allure=not session.config.getoption("no_allure_html"),
                                              progress=_progress_to(session.config)).notes
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = exit_code(run)
        self._sweep(session.config)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        run = self.state.summary
        if run is None:
            return
        terminalreporter.write_sep("=", "proxqa")
        terminalreporter.write_line(run.gate.verdict)
        for sla in run.sla:
            terminalreporter.write_line(f"SLA {sla.check} {sla.metric}: {sla.value:.3f} {sla.unit} "
                                        f"(threshold {sla.comparison} {sla.threshold:g}) {sla.verdict}")
        terminalreporter.write_line(f"reports: {self.state.run_dir}")
        for note in self.state.report_notes:
            terminalreporter.write_line(note)


CHECK = pytest.StashKey[catalog.Check]()


def _label(item: pytest.Item, check: catalog.Check) -> None:
    """Stage marker and Allure labels: epic = stage, feature = scenario (module), story = check."""
    item.add_marker(f"stage{check.stage}")
    item.add_marker(pytest.mark.xdist_group(f"stage{check.stage}"))
    module_doc = (getattr(item.module, "__doc__", None) or item.module.__name__).strip().splitlines()[0]
    item.add_marker(pytest.mark.allure_label(f"Stage {check.stage}: {catalog.STAGES[check.stage]}",
                                             label_type="epic"))
    item.add_marker(pytest.mark.allure_label(module_doc, label_type="feature"))
    item.add_marker(pytest.mark.allure_label(f"{check.id} {check.title}", label_type="story"))


def _mark_known_issue(item: pytest.Item) -> list[str]:
    """@pytest.mark.known_issue(url) becomes a non-strict xfail ("known issue <url>"), which allure-pytest reports
    as skipped with that message (the Known issue category), plus an issue link in Allure."""
    mark = item.get_closest_marker("known_issue")
    if mark is None:
        return []
    url = mark.args[0] if mark.args else ""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return [f"{item.nodeid}: known_issue needs the tracker URL of the issue, "
                f"e.g. @pytest.mark.known_issue('https://tracker.example.com/QA-123')"]
    item.add_marker(pytest.mark.xfail(reason=f"{KNOWN_ISSUE} {url}", strict=False))
    item.add_marker(pytest.mark.allure_link(url, link_type="issue", name=url))
    return []


def _raise_timeout_backstop(config: pytest.Config, settings: Settings) -> None:
    """pytest-timeout (pytest.ini) is a backstop: at least twice the longest wait of the settings, so a check's own
    deadline always ends it first, with its precise message. A --timeout on the command line is left as given."""
    floor = 2 * max(settings.waits.values(), default=0.0)
    configured = config.getini("timeout")
    if config.getoption("timeout", None) is None and configured and float(configured) < floor:
        config.option.timeout = floor


def _progress_to(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines on the terminal, each on a line of its own (after the dots of the run)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter.write_line if reporter is not None else lambda line: print(line, file=sys.stderr, flush=True)


def _prerequisites(check: catalog.Check) -> tuple[str, ...]:
    """The check's own prerequisites and, after stage 1, the Proxmox endpoint: when it is unreachable or untrusted the
    rest of the run is blocked at once instead of failing check by check."""
    return check.needs if check.stage == 1 else (*catalog.PVE_REACHABLE, *check.needs)


def _gates(verdict: ItemResult | None) -> bool:
    """Whether a prerequisite's verdict keeps its dependants from running. A read-only skip does not: a dependant
    that would change something skips itself with its own reason, and one that only reads can still run."""
    return verdict is not None and verdict.outcome not in ("passed", "flaky") and not (
        verdict.outcome == "skipped" and safety.is_read_only_skip(verdict.message))


def _category(exc: BaseException) -> str:
    if isinstance(exc, SlaBreach):
        return "sla breach"
    if isinstance(exc, UNREACHABLE):
        return "unreachable"
    return "product defect"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


def _item_result(report: pytest.TestReport, props: dict, reruns: set[str]) -> ItemResult:
    if report.skipped and hasattr(report, "wasxfail"):       # failed on its known issue
        return ItemResult(check=props["proxqa_check"], nodeid=report.nodeid, outcome="known_issue",
                          category=KNOWN_ISSUE, message=f"{report.wasxfail}: {props.get('proxqa_message', 'failed')}",
                          duration=report.duration)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        blocked = reason.startswith(BLOCKED)
        return ItemResult(check=props["proxqa_check"], nodeid=report.nodeid,
                          outcome="blocked" if blocked else "skipped", category="blocked" if blocked else "skipped",
                          message=reason, duration=report.duration)
    if report.failed:
        return ItemResult(check=props["proxqa_check"], nodeid=report.nodeid, outcome="failed",
                          category=props.get("proxqa_category", "product defect"),
                          message=props.get("proxqa_message", "failed"), duration=report.duration)
    return ItemResult(check=props["proxqa_check"], nodeid=report.nodeid,
                      outcome="flaky" if report.nodeid in reruns else "passed", category="", message="",
                      duration=report.duration)


def _passed_so_far(result: ItemResult | None) -> bool:
    return result is None or result.outcome == "passed"


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name)
