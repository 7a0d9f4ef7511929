"""The Allure HTML report: our categories in the Allure 3 config, the analytics tag removed, network loads refused,
failures of the generator told, and (with the pinned generator) one offline page with a trend across runs."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from proxqa.report_files import ALLURE_CATEGORIES
from proxqa.reporting import allure_html
from proxqa.reporting.allure_html import AllureError, allure_config, external_loads, generate, strip_analytics
from tests.unit.test_report_files import allure_categories_of     # Allure 2's matching, to compare with

MESSAGES = [
    ("failed", "AssertionError: SLA breach: api-latency-p95 GET /nodes = 2.5 s, must be below 2 s"),
    ("broken", "ConnectionError: Proxmox API https://127.0.0.2:8006 unreachable:\nconnection refused"),
    ("failed", "Target Unreachable after 3 attempts"),
    ("skipped", "XFAIL known issue https://tracker.example.com/QA-7\n\nAssertionError: blocked by S1.1"),
    ("skipped", "Skipped: blocked by S1.1: endpoint unreachable"),
    ("failed", "AssertionError: cluster quorate: expected 1, got 0\nassert 0 == 1"),
    ("broken", "KeyError: 'nodes'"),
    ("skipped", "Skipped: snapshots not configured"),
]
# Our own miniature of the page Allure writes: the app, then its analytics tag.
ANALYTICS = ('<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>\n'
             "<script>\n  window.dataLayer = window.dataLayer || [];\n  function gtag(){dataLayer.push(arguments);}\n"
             "  gtag('js', new Date());\n</script>\n")
APP = ('<script src="data:text/javascript;base64,' + base64.b64encode(b"render(window.allureReportData)").decode()
       + '"></script>\n')
PAGE = f"<!DOCTYPE html><html><head><title>r</title></head><body><div id='app'></div>\n{APP}{ANALYTICS}</body></html>"


def js_categories_of(config: str, status: str, message: str, tmp_path: Path) -> list[str]:
    """The category Allure 3 gives a result: the first whose statuses and RegExp match (Allure's own rule)."""
    (tmp_path / "allurerc.mjs").write_text(config, encoding="utf-8")
    script = ("const {default: c} = await import(process.argv[1]);"
              "const hit = c.categories.find(k => k.matchers.statuses.includes(process.argv[2]) &&"
              " k.matchers.message.test(process.argv[3]));"
              "console.log(JSON.stringify(hit ? [hit.name] : []));")
    done = subprocess.run(["node", "--input-type=module", "-e", script, str(tmp_path / "allurerc.mjs"), status,
                           message], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (it runs the Allure 3 generator)")
def test_allure_3_puts_every_result_in_the_category_allure_2_does(tmp_path):
    config = allure_config(name="r", output=tmp_path / "out", history=tmp_path / "h.jsonl")
    for status, message in MESSAGES:
        expected = allure_categories_of(list(ALLURE_CATEGORIES), status, message)
        assert js_categories_of(config, status, message, tmp_path) == expected, (status, message)


def test_the_config_asks_for_one_page_grouped_by_stage_scenario_and_check_with_the_shared_history(tmp_path):
    config = allure_config(name="Acceptance run r1 (lab)", output=tmp_path / "out", history=tmp_path / "h.jsonl")
    settings = json.loads(config.split("...", 1)[1].split(",\n  categories")[0])
    assert settings["plugins"]["awesome"]["options"] == {"singleFile": True, "reportLanguage": "en",
                                                         "groupBy": ["epic", "feature", "story"]}
    assert (settings["historyPath"], settings["output"]) == (str(tmp_path / "h.jsonl"), str(tmp_path / "out"))


def test_the_analytics_tag_is_removed_and_the_app_kept():
    cleaned = strip_analytics(PAGE)
    assert ("googletagmanager" in cleaned, "gtag(" in cleaned, APP in cleaned) == (False, False, True)
    assert external_loads(PAGE) == ["https://www.googletagmanager.com/gtag/js?id=G-TEST"]
    assert external_loads(cleaned) == []


@pytest.mark.parametrize(("snippet", "url"), [
    ('<link rel="stylesheet" href="https://fonts.example.com/a.css">', "https://fonts.example.com/a.css"),
    ("<img src='http://cdn.example.com/logo.png'>", "http://cdn.example.com/logo.png"),
    ('<script>fetch("https://collect.example.com/e")</script>', "https://collect.example.com/e"),
    ('<link href="data:text/css;base64,' + base64.b64encode(b"@font-face{src:url(https://f.example.com/x.woff)}")
     .decode() + '">', "https://f.example.com/x.woff"),
    ('<script src="data:text/javascript;base64,' + base64.b64encode(b'sendBeacon("https://b.example.com/")')
     .decode() + '"></script>', "https://b.example.com/"),
])
def test_a_load_from_the_network_is_found_also_inside_embedded_code(snippet, url):
    assert external_loads(f"<html><body>{snippet}</body></html>") == [url]


def test_links_a_reader_clicks_and_svg_namespaces_are_not_loads():
    page = ('<a href="https://allurereport.org">Powered by</a><svg xmlns="http://www.w3.org/2000/svg"></svg>'
            '<script>const base = "https://localhost"; open(url)</script>')
    assert external_loads(page) == []


def fake_generator(tmp_path: Path, body: str) -> Path:
    """A stand-in for the allure command: `generate --config CONFIG RESULTS` runs this shell body with $out set to
    the config's output folder."""
    script = tmp_path / "allure"
    script.write_text("#!/bin/sh\nout=$(sed -n 's/.*\"output\": \"\\([^\"]*\\)\".*/\\1/p' \"$3\")\n" + body)
    script.chmod(0o755)
    return script


def test_a_page_that_would_still_call_out_is_refused(tmp_path):
    (tmp_path / "results").mkdir()
    generator = fake_generator(tmp_path, 'mkdir -p "$out"\n'
                                         'echo \'<script src="https://tracker.example.com/t.js"></script>\' '
                                         '> "$out/index.html"\n')
    with pytest.raises(AllureError, match=r"would load https://tracker.example.com/t.js from the network"):
        generate(tmp_path / "results", tmp_path / "report", history=tmp_path / "h.jsonl", name="r",
                 generator=generator)
    assert not (tmp_path / "report" / "index.html").exists(), "a page that calls out is not left to be opened"


def test_a_failing_generator_is_told_with_what_it_said(tmp_path):
    (tmp_path / "results").mkdir()
    generator = fake_generator(tmp_path, 'echo "cannot read results" >&2\nexit 3\n')
    with pytest.raises(AllureError, match=r"generate exited with 3: cannot read results"):
        generate(tmp_path / "results", tmp_path / "report", history=tmp_path / "h.jsonl", name="r",
                 generator=generator)


def test_a_run_without_allure_results_is_told(tmp_path):
    with pytest.raises(AllureError, match=r"no Allure results in .*missing"):
        generate(tmp_path / "missing", tmp_path / "report", history=tmp_path / "h.jsonl", name="r",
                 generator=tmp_path / "allure")


def test_the_generator_is_found_only_where_setup_installs_it(tmp_path):
    assert allure_html.find_generator(tmp_path) is None
    installed = tmp_path / allure_html.GENERATOR
    installed.parent.mkdir(parents=True)
    installed.write_text("#!/bin/sh\n")
    assert allure_html.find_generator(tmp_path) == installed


# --- with the pinned generator -----------------------------------------------------------------------

def allure_result(folder: Path, name: str, status: str) -> None:
    """One test result in the Allure results format (what allure-pytest writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    result = {"uuid": f"{name}-{status}", "historyId": name, "testCaseId": name, "name": name, "fullName": name,
              "status": status, "stage": "finished", "start": 1764136800000, "stop": 1764136801000,
              "labels": [{"name": "epic", "value": "Stage 1: Proxmox API connection"},
                         {"name": "story", "value": f"S1.1 {name}"}]}
    (folder / f"{name}-{status}-result.json").write_text(json.dumps(result), encoding="utf-8")


def test_two_generations_give_one_offline_page_each_and_a_history_of_two(tmp_path, allure_generator):
    history = tmp_path / "allure-history.jsonl"
    for run, status in (("r1", "passed"), ("r2", "failed")):
        allure_result(tmp_path / run / "allure-results", "endpoint_reachable", status)
        page = generate(tmp_path / run / "allure-results", tmp_path / run / "allure-report", history=history,
                        name=f"Acceptance run {run} (lab)", generator=allure_generator)
        html = page.read_text(encoding="utf-8")
        assert ("googletagmanager" in html, external_loads(html)) == (False, [])
        assert not (page.parent / "data").exists(), "the report must be one page: a split one does not load from disk"
    names = [json.loads(line)["name"] for line in history.read_text(encoding="utf-8").splitlines()]
    assert names == ["Acceptance run r1 (lab)", "Acceptance run r2 (lab)"]
    generate(tmp_path / "r1" / "allure-results", tmp_path / "r1" / "allure-report", history=history,
             name="Acceptance run r1 (lab)", generator=allure_generator)
    again = [json.loads(line)["name"] for line in history.read_text(encoding="utf-8").splitlines()]
    assert again == ["Acceptance run r2 (lab)", "Acceptance run r1 (lab)"], "a run generated again is counted once"
