"""reports/dashboard.html: the trend across runs for a reviewer. One self-contained page (inline SVG and CSS, no
script, nothing loaded from the network): pass rate overall and per stage against the target, the key SLA values
against their thresholds, and the runs with links to their reports."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from proxqa.reporting import charts
from proxqa.reporting.history import RunRecord, SlaPoint

DASHBOARD_FILE = "dashboard.html"
MAX_RUNS = 30
# A run folder's pages, linked from the runs table when they exist.
RUN_PAGES = (("report.html", "pytest-html"), ("allure-report/index.html", "Allure"), ("summary.md", "summary"))


@dataclass(frozen=True)
class KeySla:
    key: str
    title: str
    metric: str                 # the metric name, or its first word for per-endpoint metrics


KEY_SLAS = (
    KeySla("sla-api-latency", "Proxmox API latency p95 (slowest endpoint)", "api-latency-p95"),
    KeySla("sla-vm-creation", "VM creation p95 (created to ready)", "vm-created-to-ready"),
    KeySla("sla-volume-provisioning", "Volume provisioning", "volume-provisioning"),
    KeySla("sla-pod-startup", "Pod startup", "pod-startup"),
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#24292f;background:#fff}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.25em;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.verdict{font-size:1.15em;font-weight:bold} .passed{color:#1a7f37} .failed{color:#cf222e}
.charts{display:flex;flex-wrap:wrap;gap:12px} .charts svg{border:1px solid #d0d7de;border-radius:6px}
.none{color:#57606a;font-style:italic}
table{border-collapse:collapse} th,td{padding:3px 10px;border-bottom:1px solid #d0d7de;text-align:left}
"""


def write_dashboard(reports_dir: Path, records: Sequence[RunRecord]) -> Path:
    """Write reports/dashboard.html for these runs (the history of that folder)."""
    links = {r.run_id: [(f"{r.run_id}/{page}", name) for page, name in RUN_PAGES
                        if (reports_dir / r.run_id / page).is_file()] for r in records}
    path = reports_dir / DASHBOARD_FILE
    path.write_text(dashboard_html(records, links), encoding="utf-8")
    return path


def dashboard_html(records: Sequence[RunRecord], links: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    shown = list(records[-MAX_RUNS:])
    if not shown:
        return _page("<p class='none'>No run recorded yet: run <code>pytest stages/</code>.</p>")
    latest = shown[-1]
    scope = (f"the last {len(shown)} of {len(records)} runs" if len(records) > len(shown)
             else f"{len(shown)} run{'s' if len(shown) != 1 else ''}")
    body = [
        f"<p class='verdict {'passed' if latest.gate_passed else 'failed'}'>Latest run {escape(latest.run_id)}: "
        f"{escape(latest.verdict)}</p>",
        f"<p>{scope}, {escape(shown[0].time)} to {escape(latest.time)}; target: at least {latest.threshold:g} % "
        f"of the executed checks pass.</p>",
        f"<h2>Pass rate against the {latest.threshold:g} % target</h2>",
        _charts(pass_rate_charts(shown)),
        "<h2>Key SLA values against their thresholds</h2>",
        _charts(sla_charts(shown)),
        "<h2>Runs</h2>",
        _runs_table(shown, links),
    ]
    return _page("\n".join(body))


def pass_rate_charts(records: Sequence[RunRecord]) -> list[charts.Chart]:
    """The overall pass rate, then one chart per stage that any of the runs checked."""
    target = records[-1].threshold
    stages = sorted({number for r in records for number in r.stages})
    names = {number: r.stages[number].name for r in records for number in r.stages}
    series = [("pass-rate", "All stages", [r.pass_rate for r in records])]
    series += [(f"stage-{n}", f"Stage {n} – {names[n]}",
                [r.stages[n].pass_rate if n in r.stages else None for r in records]) for n in stages]
    return [charts.Chart(key=key, title=title, y_label="pass rate (%)", unit="%", runs=_run_labels(records),
                         run_ids=[r.run_id for r in records], values=values, target=target,
                         target_label=f"target {target:g} %", y_max=100.0)
            for key, title, values in series]


def sla_charts(records: Sequence[RunRecord]) -> list[charts.Chart | str]:
    """One chart per key SLA, or a line saying no run measured it."""
    shown: list[charts.Chart | str] = []
    for key in KEY_SLAS:
        points = [_worst(r.sla, key) for r in records]
        measured = [p for p in points if p is not None]
        if not measured:
            shown.append(f"{key.title}: not measured in these runs")
            continue
        last = measured[-1]
        shown.append(charts.Chart(
            key=key.key, title=key.title, y_label=_unit_name(last.unit), unit=last.unit, runs=_run_labels(records),
            run_ids=[r.run_id for r in records], values=[p.representative if p else None for p in points],
            target=last.threshold, target_label=f"SLA {last.comparison} {last.threshold:g} {last.unit}",
            lower_is_better=last.comparison == "<"))
    return shown


def _worst(points: Sequence[SlaPoint], key: KeySla) -> SlaPoint | None:
    """The run's result for a key SLA: of several (one per endpoint, per check) the one furthest from its goal."""
    matching = [p for p in points if p.metric == key.metric or p.metric.startswith(key.metric + " ")]
    if not matching:
        return None
    worst = max if matching[0].comparison == "<" else min
    return worst(matching, key=lambda p: p.representative)


def _run_labels(records: Sequence[RunRecord]) -> list[str]:
    """ "11-26 06:00" from "2025-11-26T06:00:12Z". """
    return [f"{r.time[5:10]} {r.time[11:16]}" for r in records]


def _unit_name(unit: str) -> str:
    return {"s": "seconds", "%": "percent"}.get(unit, unit)


def _charts(items: Sequence[charts.Chart | str]) -> str:
    rendered = [charts.svg(item) if isinstance(item, charts.Chart) else f"<p class='none'>{escape(item)}</p>"
                for item in items]
    return "<div class='charts'>\n" + "\n".join(rendered) + "\n</div>"


def _runs_table(records: Sequence[RunRecord], links: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    rows = []
    for r in reversed(records):
        rate = "–" if r.pass_rate is None else f"{r.pass_rate:.1f} %"
        pages = " · ".join(f"<a href='{escape(href)}'>{escape(name)}</a>" for href, name in links.get(r.run_id, ()))
        rows.append(f"<tr><td>{escape(r.time)}</td><td>{escape(r.run_id)}</td><td>{escape(r.target)}</td>"
                    f"<td>{rate}</td><td class='{'passed' if r.gate_passed else 'failed'}'>{escape(r.verdict)}</td>"
                    f"<td>{r.exit_code}</td><td>{pages}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("Finished (UTC)", "Run", "Target", "Pass rate", "Gate", "Exit code",
                                              "Reports"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _page(body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>proxqa: acceptance runs</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>Proxmox VE + CozyStack acceptance: runs</h1>\n{body}\n</body></html>\n")
