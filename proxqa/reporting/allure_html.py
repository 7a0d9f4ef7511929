"""The Allure HTML report of a run, generated offline by Allure 3 (npm package `allure`, pinned in package.json
and installed into .node/ by scripts/setup).

One self-contained page (a report split into files does not load from file://), grouped by stage, scenario and
check, with Allure's trend charts fed by a history file shared by the runs of one reports folder. Allure embeds an
analytics script in every page it writes; it is removed, and a page that still loads anything from the network is
refused, so opening a report never calls out.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from proxqa.report_files import ALLURE_CATEGORIES

GENERATOR = Path(".node/node_modules/.bin/allure")     # relative to the repository
INSTALL_HINT = ("Allure HTML report skipped: the Allure 3 generator is not installed; run ./scripts/setup "
                "(it installs the npm package allure into .node/; needs Node.js 20+ and npm)")
HISTORY_FILE = "allure-history.jsonl"
REPORT_DIR = "allure-report"

_ANALYTICS_SCRIPTS = re.compile(
    r"<script\b[^>]*\bsrc=\"https?://[^\"]*googletagmanager\.com/[^\"]*\"[^>]*>\s*</script>\s*"
    r"(?:<script>(?:(?!</script>).)*?\bgtag\((?:(?!</script>).)*</script>)?", re.DOTALL)
_EXTERNAL_ATTRIBUTE = re.compile(
    r"<(?:script|link|img|iframe|embed|source)\b[^>]*?\b(?:src|href)=[\"']?(https?://[^\"'\s>]+)", re.IGNORECASE)
_EXTERNAL_IN_CODE = re.compile(
    r"(?:fetch|import|sendBeacon)\(\s*[\"'`](https?://[^\"'`]+)|url\(\s*[\"']?(https?://[^)\"']+)|"
    r"(https?://(?:www\.)?(?:googletagmanager|google-analytics)\.com[^\"'`\s]*)")
_EMBEDDED = re.compile(r"data:text/(?:javascript|css);base64,([A-Za-z0-9+/=]+)")


class AllureError(Exception):
    """The generator failed, or wrote a page that would load something from the network."""


def find_generator(repo: Path) -> Path | None:
    """The pinned Allure 3 command line installed by scripts/setup, or None."""
    generator = (repo / GENERATOR).resolve()
    return generator if generator.is_file() else None


def generate(results: Path, output: Path, *, history: Path, name: str, generator: Path, timeout: float = 300) -> Path:
    """Write the single-page report of `results` (an allure-results folder) to `output`/index.html, reading the
    trend from `history` and adding this report to it (replacing an earlier report of the same name)."""
    if not results.is_dir():
        raise AllureError(f"no Allure results in {results}: the run wrote none (allure-pytest missing?)")
    _forget(history, name)
    with tempfile.TemporaryDirectory(prefix="proxqa-allure-") as scratch:
        config = Path(scratch) / "allurerc.mjs"
        config.write_text(allure_config(name=name, output=output, history=history), encoding="utf-8")
        try:
            done = subprocess.run([str(generator), "generate", "--config", str(config), str(results)],
                                  cwd=scratch, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AllureError(f"{generator} generate did not finish within {timeout:g} s") from None
    page = output / "index.html"
    if done.returncode != 0 or not page.is_file():
        said = (done.stderr.strip() or done.stdout.strip())[-800:]
        raise AllureError(f"{generator} generate exited with {done.returncode}: {said}")
    html = strip_analytics(page.read_text(encoding="utf-8"))
    if loads := external_loads(html):
        page.unlink()       # nobody opens it by mistake
        raise AllureError(f"{page} would load {', '.join(loads[:3])} from the network; this Allure version "
                          f"embeds something new: update proxqa/reporting/allure_html.py")
    page.write_text(html, encoding="utf-8")
    return page


def allure_config(*, name: str, output: Path, history: Path) -> str:
    """An allurerc.mjs: our categories (with real RegExps, which only a JavaScript config can hold), the
    single-page Awesome report grouped as the reviewers read it (stage, scenario, check) and the shared history."""
    settings = {
        "name": name,
        "output": str(output),
        "historyPath": str(history),
        "plugins": {"awesome": {"options": {"singleFile": True, "reportLanguage": "en",
                                            "groupBy": ["epic", "feature", "story"]}}},
    }
    categories = ",\n    ".join(_js_category(category) for category in ALLURE_CATEGORIES)
    return f"export default {{\n  ...{json.dumps(settings)},\n  categories: [\n    {categories}\n  ],\n}};\n"


def _js_category(category: Mapping) -> str:
    """Allure 2 matches the whole message with DOTALL and reads a leading (?i); Allure 3 searches with a JavaScript
    RegExp, which knows neither, so the pattern is anchored and the options become flags."""
    pattern, flags = category["messageRegex"], "s"
    if pattern.startswith("(?i)"):
        pattern, flags = pattern[4:], "is"
    regex = f"new RegExp({json.dumps(f'^(?:{pattern})$')}, {json.dumps(flags)})"
    return (f"{{name: {json.dumps(category['name'])}, "
            f"matchers: {{statuses: {json.dumps(category['matchedStatuses'])}, message: {regex}}}}}")


def strip_analytics(html: str) -> str:
    """The page without the Google Analytics tag Allure writes into every report."""
    return _ANALYTICS_SCRIPTS.sub("", html)


def external_loads(html: str) -> list[str]:
    """URLs the page would load from the network when opened: script, style, image and frame sources, fetches,
    CSS url()s and analytics endpoints, also inside the scripts and styles embedded as data: URLs. Links a reader
    may click are not loads."""
    texts = [html, *(base64.b64decode(payload).decode("utf-8", "replace") for payload in _EMBEDDED.findall(html))]
    found = [url for url in _EXTERNAL_ATTRIBUTE.findall(html)]
    for text in texts:
        found += [next(url for url in groups if url) for groups in _EXTERNAL_IN_CODE.findall(text)]
    return sorted(set(found))


def _forget(history: Path, name: str) -> None:
    """Drop the entry of an earlier report of this name, so generating a run's report again does not count the run
    twice in the trend."""
    if not history.is_file():
        return
    lines = history.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if _entry_name(line) != name]
    if len(kept) != len(lines):
        history.write_text("".join(kept), encoding="utf-8")


def _entry_name(line: str) -> str | None:
    try:
        return json.loads(line).get("name")
    except (ValueError, AttributeError):
        return None
