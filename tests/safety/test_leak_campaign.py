"""Leak campaign: `pytest stages/ --stage 3,4` against one lab (test VM chains, a worker VM, pods in the tenant
cluster), killed at a random moment by SIGINT, SIGTERM or SIGKILL, then the janitor. After SIGINT and SIGTERM the
run's own cleanup must leave nothing; after every round, the janitor included, neither cluster nor the Proxmox twin
holds anything of the run.

Rounds and seed: PROXQA_LEAK_ROUNDS (default 6, two per signal) and PROXQA_LEAK_SEED (default: a new one, printed;
give it to replay a campaign). docs/reliability.md has the figures of a long campaign.
"""
from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass

from tests.safety.run_marks import janitor, running_suite, what_remains

STAGES = "3,4"
KILL_WINDOW = (0.5, 20.0)           # seconds after the start; the two stages take 12-20 s on the lab
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
CLEANUP_LIMIT = 300                 # seconds a signalled run may take to clean up and exit


@dataclass
class Round:
    number: int
    signal: signal.Signals
    kill_after: float
    ended: str                      # "killed" or "finished" (the run ended before the kill)
    exit_code: int
    before_janitor: list[str]
    janitor_exit: int
    after_janitor: list[str]

    def __str__(self) -> str:
        return (f"round {self.number:2d}: {self.signal.name:7s} at {self.kill_after:5.1f} s, {self.ended} "
                f"(exit {self.exit_code}); before janitor {len(self.before_janitor)}, janitor exit "
                f"{self.janitor_exit}, after {len(self.after_janitor)}")


def campaign_plan(rounds: int, seed: int) -> list[tuple[signal.Signals, float]]:
    """Each signal as often as the others (rounds in any order), each kill at a random moment."""
    rng = random.Random(seed)
    plan = [SIGNALS[n % len(SIGNALS)] for n in range(rounds)]
    rng.shuffle(plan)
    return [(signal.Signals(sig), round(rng.uniform(*KILL_WINDOW), 1)) for sig in plan]


def play_round(number: int, sig: signal.Signals, kill_after: float, lab_settings: dict[str, str], reports,
               seed: int) -> Round:
    run_id = f"leak-{seed % 100000}-{number}"
    with running_suite(lab_settings, reports, run_id, "--stage", STAGES) as suite:
        try:
            suite.wait(timeout=kill_after)
            ended = "finished"
        except subprocess.TimeoutExpired:
            suite.send_signal(sig)
            ended = "killed"
            try:
                suite.wait(timeout=CLEANUP_LIMIT)
            except subprocess.TimeoutExpired:
                suite.kill()
                suite.wait()
                ended = f"hung after {sig.name}, killed"
    before = what_remains(lab_settings, run_id)
    cleaned = janitor(lab_settings, "--run", run_id, "--min-age", "0", "--reports-dir", str(reports))
    return Round(number, sig, kill_after, ended, suite.returncode, before, cleaned.returncode,
                 what_remains(lab_settings, run_id))


def test_killed_runs_leave_nothing_once_the_janitor_ran(canary_lab, tmp_path):
    rounds = int(os.environ.get("PROXQA_LEAK_ROUNDS", "6"))
    seed = int(os.environ.get("PROXQA_LEAK_SEED") or secrets.randbelow(10 ** 9))
    print(f"leak campaign: {rounds} rounds, seed {seed} (replay with PROXQA_LEAK_SEED={seed})", flush=True)
    started, played = time.monotonic(), []
    for number, (sig, kill_after) in enumerate(campaign_plan(rounds, seed), 1):
        played.append(play_round(number, sig, kill_after, canary_lab.settings, tmp_path, seed))
        print(played[-1], flush=True)
        for line in played[-1].before_janitor + played[-1].after_janitor:
            print(f"    {line}", flush=True)
    print(f"leak campaign: {rounds} rounds in {time.monotonic() - started:.0f} s", flush=True)
    summary = f"seed {seed}:\n" + "\n".join(map(str, played))
    assert all(not r.ended.startswith("hung") for r in played), summary
    assert [r for r in played if r.after_janitor or r.janitor_exit] == [], summary
    assert [r for r in played if r.signal != signal.SIGKILL and r.before_janitor] == [], \
        "SIGINT and SIGTERM must let the run clean up after itself\n" + summary
