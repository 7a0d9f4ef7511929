"""The benchmarks of the suite and its lab: one entry point, each benchmark selectable; progress on stderr, the
results as a table and as JSON in reports/benchmarks/. docs/benchmarks.md holds the figures and what they mean.

    .venv/bin/python -m benchmarks --all --rounds 5
    .venv/bin/python -m benchmarks overhead critical-path --rounds 5 --time-scale 0.05
    .venv/bin/python -m benchmarks economy sla reaction throughput --rounds 5
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from benchmarks import critical_path, economy, overhead, reaction, sla_fidelity, throughput
from benchmarks.common import Measure, load_average, machine, progress, table, write_results

BENCHMARKS = {module.NAME: module for module in (overhead, critical_path, economy, sla_fidelity, reaction, throughput)}


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise argparse.ArgumentTypeError(f"must be a number above 0, e.g. 5; got {text!r}")
        return value
    return parse


def _latencies(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"must be seconds above 0, comma-separated, e.g. 1.8,2.2; got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog="\n".join(__doc__.splitlines()[1:]))
    top.add_argument("names", nargs="*", metavar="BENCHMARK", help="any of: " + ", ".join(BENCHMARKS))
    top.add_argument("--all", action="store_true", help="run every benchmark")
    top.add_argument("--rounds", type=_positive(int), default=5, help="rounds per measure (default 5)")
    top.add_argument("--output", type=Path, help="the JSON file (default reports/benchmarks/<time>.json)")
    top.add_argument("--time-scale", type=_positive(float), default=0.05,
                     help="critical-path: the lab's time scale (default 0.05)")
    top.add_argument("--seed", default="large", help="economy: the lab's seed (default large)")
    top.add_argument("--latencies", type=_latencies, default=[1.8, 1.95, 2.05, 2.2],
                     help="sla: the latencies injected, seconds (default 1.8,1.95,2.05,2.2)")
    top.add_argument("--sla-path", default="/cluster/resources",
                     help="sla: the API path delayed (default /cluster/resources), or all")
    top.add_argument("--waiters", type=_positive(int), default=10, help="reaction: waiters at once (default 10)")
    top.add_argument("--reaction-scale", type=_positive(float), default=1.0,
                     help="reaction: the lab's time scale (default 1: a pod is Ready after about 5 s)")
    top.add_argument("--requests", type=_positive(int), default=2000, help="throughput: GETs per round")
    top.add_argument("--events", type=_positive(int), default=200, help="throughput: watch events per round")
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    options = top.parse_args(argv)
    unknown = [name for name in options.names if name not in BENCHMARKS]
    if unknown or not (options.all or options.names):
        top.error(f"name benchmarks ({', '.join(BENCHMARKS)}) or give --all"
                  + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    names = [name for name in BENCHMARKS if options.all or name in options.names]
    progress(f"machine: {machine()}; load average {load_average()}")
    measures: list[Measure] = []
    context: dict = {}
    failed = []
    for name in names:
        started = time.monotonic()
        progress(f"{name}: starting ({options.rounds} rounds)")
        try:
            measures += BENCHMARKS[name].measure(options, context)
        except Exception:        # one broken benchmark must not cost the figures of the others
            failed.append(name)
            progress(f"{name}: FAILED\n{traceback.format_exc()}")
        progress(f"{name}: done in {time.monotonic() - started:.0f} s")
    print(table(measures))
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(options).items()}
    print(f"results: {write_results(measures, settings, options.output)}")
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
