"""What a finished run leaves beside its own folder: its Allure HTML report, its line in the run history and the
dashboard drawn from that history (docs/reports.md). The plugin publishes every run; `python -m proxqa report`
publishes a run folder again."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from proxqa.reporting import allure_html, dashboard, history
from proxqa.summary import RunSummary

REPO = Path(__file__).resolve().parents[2]
LOCK_FILE = ".reports.lock"     # one publisher at a time per reports folder: the history files are shared


@dataclass
class Published:
    notes: list[str] = field(default_factory=list)     # one line per artefact, for the terminal
    complete: bool = True                               # False when an artefact could not be written


def publish_run(summary: RunSummary, run_dir: Path, *, alluredir: Path, allure: bool = True,
                progress: Callable[[str], None] = lambda line: None) -> Published:
    """Generate the run's Allure HTML report (unless `allure` is False), add the run to the history and redraw the
    dashboard. A problem with a report is told in the notes, never raised: a run's verdict does not depend on its
    reports."""
    reports_dir = run_dir.parent
    published = Published()
    with FileLock(str(reports_dir / LOCK_FILE), timeout=600):
        if allure:
            _allure(summary, run_dir, alluredir, published, progress)
        try:
            records = history.add_run(reports_dir / history.HISTORY_FILE, history.record_of(summary))
            published.notes.append(f"dashboard: {dashboard.write_dashboard(reports_dir, records)}")
        except (history.HistoryError, OSError) as exc:
            published.notes.append(f"history and dashboard not updated: {exc}")
            published.complete = False
    return published


def _allure(summary: RunSummary, run_dir: Path, alluredir: Path, published: Published,
            progress: Callable[[str], None]) -> None:
    generator = allure_html.find_generator(REPO)
    if generator is None:
        published.notes.append(allure_html.INSTALL_HINT)
        published.complete = False
        return
    progress(f"proxqa: generating the Allure HTML report of run {summary.run_id}")
    started = time.perf_counter()
    try:
        page = allure_html.generate(alluredir, run_dir / allure_html.REPORT_DIR,
                                    history=run_dir.parent / allure_html.HISTORY_FILE,
                                    name=f"Acceptance run {summary.run_id} ({summary.target})", generator=generator)
    except (allure_html.AllureError, OSError) as exc:
        published.notes.append(f"Allure HTML report failed: {exc}")
        published.complete = False
        return
    published.notes.append(f"Allure report: {page} ({time.perf_counter() - started:.1f} s)")
