"""SLA fidelity: with a latency L injected in the twin, S1.3 measures a p95 within ±5 % + 5 ms of L, and its verdict
flips exactly at the threshold (sla.api_latency, 2 s by default).

    .venv/bin/python -m benchmarks sla --rounds 5 [--latencies 1.8,1.95,2.05,2.2] [--sla-path /cluster/resources]

One lab (time scale 0); for each L the twin's fault pve-latency=PATH:L delays that one endpoint (or every response,
with --sla-path all), and `pytest stages/ --stage 1` runs; the p95 and the verdict come from summary.json.
Delaying one endpoint keeps a round short: S1.3 samples it test.latency_samples times (20).
"""
from __future__ import annotations


from benchmarks.common import Measure, progress, run_suite, suite_environment, temporary_lab
from proxqa.config import Settings
from proxqa.labctl import LabControl

NAME = "sla"
RELATIVE_TOLERANCE = 0.05
ABSOLUTE_TOLERANCE = 0.005   # seconds
EXIT_SLA_BREACH = 6


def tolerance(latency: float) -> float:
    return RELATIVE_TOLERANCE * latency + ABSOLUTE_TOLERANCE


def expected_verdict(latency: float, threshold: float) -> str:
    """What S1.3 must say of an endpoint answering in `latency` seconds: the p95 must stay below the threshold."""
    return "met" if latency < threshold else "breached"


def measure(options, context: dict) -> list[Measure]:
    with temporary_lab(NAME, "") as lab:
        return _measure(options, lab)


def _measure(options, lab) -> list[Measure]:
    control, threshold = LabControl(lab.control_url), Settings.model_fields["sla"].default.api_latency
    measured_path = "/cluster/resources" if options.sla_path == "all" else options.sla_path
    metric = f"api-latency-p95 GET {measured_path}"
    measures = []
    for latency in options.latencies:
        where = "" if options.sla_path == "all" else f"{options.sla_path}:"
        fault = f"pve-latency={where}{latency:g}"
        p95 = Measure(NAME, f"L = {latency:g} s ({options.sla_path}): p95 of S1.3", "s")
        error = Measure(NAME, "  |p95 - L| (allowed 5 % + 5 ms)", "s", limit=round(tolerance(latency), 4))
        wrong = Measure(NAME, f"  rounds whose verdict is not {expected_verdict(latency, threshold)}", "", limit=0)
        verdicts = []
        control.set_fault(fault)
        try:
            for round_ in range(1, options.rounds + 1):
                progress(f"{NAME}: {fault}, round {round_}/{options.rounds}: pytest stages/ --stage 1")
                # Stage 1 alone has fewer checks than the gate's default minimum: the verdict of S1.3 is what counts.
                run = run_suite("--stage", "1", env=suite_environment(lab.settings, GATE_MIN_EXECUTED="1"))
                result = next((r for r in (run.summary or {}).get("sla", []) if r["metric"] == metric), None)
                if result is None or run.exit_code not in (0, EXIT_SLA_BREACH):
                    raise RuntimeError(f"stage 1 with {fault}: exit {run.exit_code}, no SLA result {metric}:\n"
                                       f"{run.output}")
                p95.add(result["value"], run.load)
                error.add(abs(result["value"] - latency), run.load)
                verdicts.append(result["verdict"])
                progress(f"{NAME}: p95 {result['value']:.4f} s, {result['verdict']}")
        finally:
            control.clear_faults()
        wrong.add(sum(v != expected_verdict(latency, threshold) for v in verdicts))
        error.detail = {"worst": max(error.rounds), "verdicts": verdicts}
        measures += [p95, error, wrong]
    return measures
