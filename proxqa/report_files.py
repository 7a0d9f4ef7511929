"""Report writers over a RunSummary: summary.json, summary.md, Allure's environment.properties
and categories.json, and the summary section of the pytest-html page."""
from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from proxqa.results import SlaResult
from proxqa.summary import CheckSummary, Gate, RunSummary, StageSummary, executed, percent_text

# Allure 2 puts a result in every category that matches (full match, DOTALL), Allure 3 in the first one, so
# the categories never overlap: the catch-all ones exclude the messages the specific ones claim. A known issue
# is a failure under @pytest.mark.known_issue, which the plugin turns into an xfail ("XFAIL known issue <url>").
KNOWN_ISSUE = "known issue"
ALLURE_CATEGORIES = (
    {"name": "SLA breach", "matchedStatuses": ["failed"], "messageRegex": ".*SLA breach.*"},
    {"name": "Target unreachable", "matchedStatuses": ["failed", "broken"], "messageRegex": "(?i).*unreachable.*"},
    {"name": "Known issue", "matchedStatuses": ["skipped"], "messageRegex": f"XFAIL {KNOWN_ISSUE} .*"},
    {"name": "Blocked by prerequisite", "matchedStatuses": ["skipped"], "messageRegex": "(?!XFAIL ).*blocked by S.*"},
    {"name": "Product defect", "matchedStatuses": ["failed"],
     "messageRegex": "(?i)(?!.*(?:SLA breach|unreachable)).*"},
    {"name": "Test harness error", "matchedStatuses": ["broken"], "messageRegex": "(?i)(?!.*unreachable).*"},
)

_STAGE_HEADERS = ("Stage", "Pass rate", "Executed", "Passed", "Flaky", "Failed", "Known issue", "Blocked", "Skipped")
_STAGE_COUNTS = ("passed", "flaky", "failed", "known_issue", "blocked", "skipped")
_SLA_HEADERS = ("Check", "Metric", "Value", "Threshold", "Verdict", "p50", "p95", "max")
_HTML_STYLE = (".proxqa-summary table{border-collapse:collapse;margin-bottom:1em}"
               ".proxqa-summary th,.proxqa-summary td{padding:2px 8px;border-bottom:1px solid #ddd;"
               "text-align:left}")
_PROPERTIES_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f",
                       "=": "\\=", ":": "\\:", "#": "\\#", "!": "\\!"}


# --- files -------------------------------------------------------------------------------------

def write_summary_json(summary: RunSummary, folder: Path) -> Path:
    return _write(folder, "summary.json", json.dumps(summary.to_json(), indent=2, ensure_ascii=False) + "\n")


def write_summary_md(summary: RunSummary, folder: Path) -> Path:
    return _write(folder, "summary.md", summary_markdown(summary))


def write_allure_environment(environment: Mapping[str, str], alluredir: Path) -> Path:
    """environment.properties, escaped as java.util.Properties.store does (ASCII with \\u escapes)."""
    lines = [f"{_properties_escape(key, key=True)}={_properties_escape(value, key=False)}\n"
             for key, value in environment.items()]
    return _write(alluredir, "environment.properties", "".join(lines))


def write_allure_categories(alluredir: Path) -> Path:
    return _write(alluredir, "categories.json", json.dumps(list(ALLURE_CATEGORIES), indent=2) + "\n")


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- summary.md --------------------------------------------------------------------------------

def summary_markdown(summary: RunSummary) -> str:
    """summary.md: verdict, gate, stages against the target, problems, SLA table, skipped checks."""
    gate, counts = summary.gate, summary.counts
    parts = [
        f"# Acceptance run {summary.run_id}\n\n**{gate.verdict}**\n\n"
        f"- Target: {summary.target}\n- Started: {summary.started}, finished: {summary.finished}\n"
        f"- Checks: {counts['passed']} passed, {counts['flaky']} flaky, {counts['failed']} failed, "
        f"{counts['known_issue']} known issues, {counts['blocked']} blocked, {counts['skipped']} skipped\n"
        f"- Gate: {gate.reason}; {_gate_rule(gate)}\n",
        _md_section(f"Stages (target {gate.threshold:g} %)", _STAGE_HEADERS,
                    [_stage_row(stage, gate.threshold) for stage in summary.stages]),
        _md_checks("Failed checks", summary.checks, "failed", with_category=True),
        _md_checks("Known issues (failed, not counted)", summary.checks, "known_issue"),
        _md_checks("Blocked checks", summary.checks, "blocked"),
        _md_checks("Flaky checks (passed only on a rerun)", summary.checks, "flaky"),
        _md_section("SLA", _SLA_HEADERS, [_sla_row(result) for result in summary.sla]),
        _md_checks("Skipped checks (not counted)", summary.checks, "skipped"),
        _md_section("Environment", ("Key", "Value"), list(summary.environment.items())),
    ]
    return "\n".join(part for part in parts if part)


def _md_checks(heading: str, checks: Iterable[CheckSummary], outcome: str, *, with_category: bool = False) -> str:
    headers = ("Check", "Title", "Category", "Message") if with_category else ("Check", "Title", "Reason")
    rows = [(c.id, c.title, c.category, c.message) if with_category else (c.id, c.title, c.message)
            for c in checks if c.outcome == outcome]
    return _md_section(heading, headers, rows)


def _md_section(heading: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A heading and a table, or nothing when there are no rows."""
    if not rows:
        return ""
    lines = [f"## {heading}", "", _md_row(headers), _md_row(["---"] * len(headers))]
    lines += [_md_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(" ".join(str(cell).split()).replace("|", "\\|") for cell in cells) + " |"


# --- summary section of the pytest-html page -------------------------------------------------------

class _Html(str):
    """Markup built here from escaped parts; table cells of any other type are escaped."""


def summary_html(summary: RunSummary) -> str:
    """An HTML fragment for pytest-html's summary section; every text from the run is escaped."""
    gate = summary.gate
    colour = "#1a7f37" if gate.passed else "#cf222e"
    problems = [c for c in summary.checks if c.outcome in ("failed", "blocked")]
    parts = [
        '<div class="proxqa-summary">',
        f"<style>{_HTML_STYLE}</style>",
        f'<p style="font-size:1.2em;font-weight:bold;color:{colour}">{html.escape(gate.verdict)}</p>',
        f"<p>{html.escape(gate.reason)}; {html.escape(_gate_rule(gate))}</p>",
        _html_section(f"Pass rate per stage (target {gate.threshold:g} %)", _STAGE_HEADERS,
                      [_html_stage_row(stage, gate.threshold) for stage in summary.stages]),
        _html_section("Failed and blocked checks", ("Check", "Outcome", "Title", "Message"),
                      [(c.id, c.outcome, c.title, c.message) for c in problems]),
        _html_section("Known issues (failed, not counted)", ("Check", "Title", "Issue and message"),
                      [(c.id, c.title, c.message) for c in summary.checks if c.outcome == "known_issue"]),
        _html_section("SLA", _SLA_HEADERS, [_sla_row(result) for result in summary.sla]),
        "</div>",
    ]
    return "\n".join(part for part in parts if part)


def _html_stage_row(stage: StageSummary, threshold: float) -> list[str]:
    row = _stage_row(stage, threshold)
    if stage.pass_rate is not None:
        row[1] = _Html(_bar(stage.pass_rate, stage.pass_rate >= threshold) + html.escape(row[1]))
    return row


def _bar(rate: float, met: bool) -> str:
    colour = "#2da44e" if met else "#cf222e"
    return ('<span style="display:inline-block;width:8em;height:0.8em;margin-right:0.5em;background:#ddd">'
            f'<span style="display:block;height:100%;width:{rate:.1f}%;background:{colour}"></span></span>')


def _html_section(heading: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return (f"<h3>{html.escape(heading)}</h3>\n<table>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _html_cell(cell: str) -> str:
    return cell if isinstance(cell, _Html) else html.escape(str(cell))


# --- text shared by markdown and HTML ------------------------------------------------------------

def _gate_rule(gate: Gate) -> str:
    return f"required: ≥ {gate.threshold:g} % of at least {gate.min_executed} executed checks"


def _stage_row(stage: StageSummary, threshold: float) -> list[str]:
    """Stage, pass rate with ✓/✗ against the target, then the counts."""
    if stage.pass_rate is None:
        rate = "– (none executed)"
    else:
        mark = "✓" if stage.pass_rate >= threshold else "✗"
        rate = f"{mark} {percent_text(stage.pass_rate, threshold)} %"
    counts = stage.counts
    return [f"{stage.number} – {stage.name}", rate, str(executed(counts)),
            *(str(counts[outcome]) for outcome in _STAGE_COUNTS)]


def _sla_row(result: SlaResult) -> list[str]:
    pct = result.percentiles
    spread = [_quantity(v, result.unit) for v in (pct.p50, pct.p95, pct.max)] if pct else ["", "", ""]
    verdict = "✓ met" if result.verdict == "met" else "✗ breached"
    return [result.check, result.metric, _quantity(result.value, result.unit),
            f"{result.comparison} {_quantity(result.threshold, result.unit)}", verdict, *spread]


def _quantity(value: float, unit: str) -> str:
    return f"{round(value, 3):g} {unit}".strip()


# --- environment.properties ------------------------------------------------------------------------

def _properties_escape(text: str, *, key: bool) -> str:
    """Spaces are escaped everywhere in a key but only leading in a value; outside printable
    ASCII every UTF-16 unit becomes \\uXXXX, since Properties.load reads ISO-8859-1."""
    escaped = []
    for position, char in enumerate(text):
        if char == " " and (key or position == 0):
            escaped.append("\\ ")
        elif char in _PROPERTIES_ESCAPES:
            escaped.append(_PROPERTIES_ESCAPES[char])
        elif " " <= char <= "~":
            escaped.append(char)
        else:
            units = char.encode("utf-16-be")
            escaped += [f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2)]
    return "".join(escaped)
