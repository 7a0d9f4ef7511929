"""`python -m proxqa report` and `python -m proxqa gate`: publish a finished run folder again, and evaluate its
pass-rate gate, exiting with the run's exit code (docs/summary-json.md), for CI steps after the run."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from proxqa.reporting import publish_run
from proxqa.summary import RunSummary, evaluate_gate, exit_code

EXIT_NO_SUMMARY = 2


def add_report_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="generate the Allure HTML report, history line and dashboard of run folders again",
        description="Publish finished runs again: the Allure HTML report in each run folder, the run's line in "
                    "reports/history.jsonl and reports/dashboard.html. Exits 1 when an artefact could not be made.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="a run folder, e.g. reports/latest")
    parser.set_defaults(run=report)


def add_gate_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "gate", help="evaluate a run's pass-rate gate and exit with the run's exit code",
        description="Print the gate verdict of a finished run and exit with its exit code: 0 passed, 1 functional "
                    "failures, 6 SLA breaches only, 7 target unreachable, 8 too few checks executed.")
    parser.add_argument("run_dir", nargs="?", type=Path, default=Path("reports/latest"), metavar="RUN_DIR",
                        help="a run folder (default: reports/latest)")
    parser.add_argument("--pass-rate", type=float, metavar="PERCENT",
                        help="required pass rate in percent (default: the run's own, GATE_PASS_RATE)")
    parser.add_argument("--min-executed", type=int, metavar="N",
                        help="required number of executed checks (default: the run's own, GATE_MIN_EXECUTED)")
    parser.set_defaults(run=gate)


def report(args: argparse.Namespace) -> int:
    complete = True
    for run_dir in args.runs:
        summary = _load(run_dir)
        if summary is None:
            return EXIT_NO_SUMMARY
        published = publish_run(summary, run_dir.resolve(), alluredir=run_dir.resolve() / "allure-results",
                                progress=lambda line: print(line, file=sys.stderr, flush=True))
        for note in published.notes:
            print(note)
        complete = complete and published.complete
    return 0 if complete else 1


def gate(args: argparse.Namespace) -> int:
    summary = _load(args.run_dir)
    if summary is None:
        return EXIT_NO_SUMMARY
    if args.pass_rate is not None or args.min_executed is not None:
        threshold = summary.gate.threshold if args.pass_rate is None else args.pass_rate
        minimum = summary.gate.min_executed if args.min_executed is None else args.min_executed
        summary = dataclasses.replace(summary, gate=evaluate_gate(summary.counts, threshold=threshold,
                                                                  min_executed=minimum))
    code = exit_code(summary)
    print(f"{summary.gate.verdict}\n{summary.gate.reason}\nexit code {int(code)} ({code.name.lower()})")
    return int(code)


def _load(run_dir: Path) -> RunSummary | None:
    path = run_dir / "summary.json"
    try:
        return RunSummary.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        problem = "not found: give the folder of a finished run, e.g. reports/latest"
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"not a run summary ({exc})"
    print(f"proxqa: {path}: {problem}", file=sys.stderr)
    return None
