"""Metrics backend: the query API answers and every scrape target is up."""
import pytest


@pytest.mark.check("S7.2")
def test_s7_2_query_api_answers_up(metrics, deadline):
    """The Prometheus-compatible query API (vmselect or single-node VictoriaMetrics) answers `up` with series;
    the wait for them (a just-started agent has scraped nothing yet) fails at its deadline when none comes."""
    metrics.wait_series("up", deadline("fresh-metrics"))


@pytest.mark.check("S7.2")
def test_s7_2_every_scrape_target_is_up(scrape_targets, deadline):
    """Every target the agent lists (vmagent's /api/v1/targets) is up at a scrape made after the check began;
    an empty list fails: nothing is scraped."""
    targets = scrape_targets.wait_scraped_again(deadline("fresh-metrics"))
    assert targets, f"no scrape targets: the {scrape_targets} lists none"
    down = [f"{t.job} {t.instance}: {t.health} ({t.last_error or 'no error given'})" for t in targets if not t.up]
    assert not down, f"{len(down)} of {len(targets)} scrape targets not up: " + "; ".join(down)
