"""`python -m proxqa COMMAND`: the suite's tools around its runs. Each command lives in its own module, which
adds its parser (with `set_defaults(run=...)`) here; `run(args)` returns the exit code."""
from __future__ import annotations

import argparse
import sys

from proxqa.janitor import add_janitor_command
from proxqa.reporting.commands import add_gate_command, add_report_command

COMMANDS = (add_report_command, add_gate_command, add_janitor_command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxqa", description="Tools around the runs of the suite.")
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    for add_command in COMMANDS:
        add_command(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
