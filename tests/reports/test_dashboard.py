"""reports/dashboard.html: pass rate per stage and key SLA values across runs, against their targets, as SVG a
reviewer reads without a script or the network."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from proxqa.reporting import charts
from proxqa.reporting.dashboard import MAX_RUNS, dashboard_html, write_dashboard
from proxqa.reporting.history import RunRecord, SlaPoint, StageRate

SVG = "{http://www.w3.org/2000/svg}"


def record(run_id: str, minute: int, stage1: float | None, *sla: SlaPoint, stage2: float | None = 100.0) -> RunRecord:
    rates = [r for r in (stage1, stage2) if r is not None]
    overall = sum(rates) / len(rates) if rates else None
    return RunRecord(run_id=run_id, time=f"2025-11-26T06:{minute:02d}:00Z", target="lab", pass_rate=overall,
                     threshold=95.0, gate_passed=overall is not None and overall >= 95, exit_code=0, verdict="v",
                     stages={1: StageRate("Proxmox API connection", stage1),
                             2: StageRate("Network and storage configuration", stage2)}, sla=sla)


def latency(path: str, value: float) -> SlaPoint:
    return SlaPoint("S1.3", f"api-latency-p95 GET {path}", value, value, 2.0, "s", "<", "met")


def vm(value: float, p95: float | None) -> SlaPoint:
    return SlaPoint("S8.5", "vm-created-to-ready", value, p95, 300.0, "s", "<", "met")


RUNS = [record("r1", 0, 100.0, latency("/nodes", 0.4), latency("/version", 0.9), vm(250.0, 240.0)),
        record("r2", 10, 88.9, latency("/nodes", 2.5), vm(320.0, None)),
        record("r3", 20, None, stage2=100.0)]


def chart(page: str, key: str) -> ElementTree.Element:
    match = re.search(rf'<svg [^>]*data-chart="{key}".*?</svg>', page, flags=re.DOTALL)
    assert match, f"no chart {key} on the page"
    return ElementTree.fromstring(match.group(0))


def points(svg: ElementTree.Element) -> list[tuple[str, str, str]]:
    return [(c.get("data-run"), c.get("data-value"), c.get("class")) for c in svg.iter(f"{SVG}circle")]


def test_each_stage_has_a_chart_of_its_pass_rate_against_the_target_with_misses_in_red():
    page = dashboard_html(RUNS, {})
    stage1 = chart(page, "stage-1")
    assert points(stage1) == [("r1", "100", "point met"), ("r2", "88.9", "point missed")]
    assert stage1.find(f"{SVG}line[@class='target']").get("data-value") == "95"
    texts = [t.text for t in stage1.iter(f"{SVG}text")]
    assert {"Stage 1 – Proxmox API connection", "target 95 %", "pass rate (%)", "run (finished, UTC)", "100",
            "88.9", "11-26 06:00", "11-26 06:10"} <= set(texts)
    assert [t.text for t in stage1.iter(f"{SVG}text") if t.get("class") == "y-tick"] == ["0", "20", "40", "60", "80",
                                                                                        "100"]
    assert [p[0] for p in points(chart(page, "stage-2"))] == ["r1", "r2", "r3"]
    assert [p[1] for p in points(chart(page, "pass-rate"))] == ["100", "94.45", "100"]


def test_a_run_without_a_value_breaks_the_line_instead_of_joining_its_neighbours():
    svg = charts.svg(charts.Chart(key="k", title="t", y_label="y", unit="%", runs=["a", "b", "c", "d"],
                                  run_ids=["a", "b", "c", "d"], values=[90.0, None, 96.0, 97.0], target=95,
                                  target_label="target 95 %", y_max=100))
    lines = ElementTree.fromstring(svg).findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [1, 2]


def test_key_sla_charts_show_the_worst_endpoint_and_the_p95_against_the_threshold():
    page = dashboard_html(RUNS, {})
    api = chart(page, "sla-api-latency")
    assert points(api) == [("r1", "0.9", "point met"), ("r2", "2.5", "point missed")]
    labels = {t.get("class"): t.text for t in api.iter(f"{SVG}text")}
    assert (labels["target-label"], labels["y-label"]) == ("SLA < 2 s", "seconds")
    assert api.find(f"{SVG}line[@class='target']").get("data-value") == "2"
    assert points(chart(page, "sla-vm-creation")) == [("r1", "240", "point met"), ("r2", "320", "point missed")]
    assert "Pod startup: not measured in these runs" in page


@pytest.mark.parametrize(("value", "top"), [(0.3, 0.5), (1.0, 1.0), (1.15, 2.0), (2.3, 2.5), (230, 250), (260, 500),
                                            (0, 1.0)])
def test_the_y_axis_ends_on_a_round_number_above_the_data(value, top):
    assert charts.nice_top(value) == top


def test_many_runs_keep_every_point_but_label_only_some():
    records = [record(f"r{n}", n, 100.0) for n in range(MAX_RUNS + 5)]
    stage1 = chart(dashboard_html(records, {}), "stage-1")
    assert len(points(stage1)) == MAX_RUNS
    labels = [t for t in stage1.iter(f"{SVG}text") if t.get("class") == "x-tick"]
    assert 1 < len(labels) <= charts.MAX_X_LABELS + 1


def test_the_runs_table_lists_newest_first_and_links_only_the_pages_a_run_has(tmp_path):
    (tmp_path / "r2" / "allure-report").mkdir(parents=True)
    (tmp_path / "r2" / "allure-report" / "index.html").write_text("x")
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "report.html").write_text("x")
    page = write_dashboard(tmp_path, RUNS[:2]).read_text(encoding="utf-8")
    table = page.split("<h2>Runs</h2>")[1]
    assert table.index("<td>r2</td>") < table.index("<td>r1</td>")
    assert re.findall(r"href='([^']+)'", table) == ["r2/allure-report/index.html", "r1/report.html"]


def test_the_page_is_self_contained_and_loads_nothing():
    page = dashboard_html(RUNS, {})
    assert "<script" not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg ")


def test_an_empty_history_says_how_to_get_a_run():
    assert "No run recorded yet" in dashboard_html([], {})
