"""SLA maths on known sample sets."""
import itertools

import pytest

from proxqa.sla import Phases, Sampler, breach_message, nearest_rank, percentiles, verdict


def test_nearest_rank_on_one_to_hundred():
    samples = [float(n) for n in range(1, 101)]
    assert [nearest_rank(samples, p) for p in (50, 90, 95, 99, 100)] == [50, 90, 95, 99, 100]


def test_nearest_rank_takes_the_next_sample_up_not_an_interpolation():
    samples = [0.1, 0.2, 0.3, 0.4, 5.0]
    assert nearest_rank(samples, 50) == 0.3
    assert nearest_rank(samples, 95) == 5.0       # rank ceil(4.75) = 5


def test_percentiles_sort_the_samples_first():
    pct = percentiles([3.0, 1.0, 2.0, 10.0])
    assert (pct.count, pct.p50, pct.p90, pct.max) == (4, 2.0, 10.0, 10.0)


def test_single_sample_is_every_percentile():
    pct = percentiles([0.7])
    assert {pct.p50, pct.p90, pct.p95, pct.p99, pct.max} == {0.7}


def test_no_samples_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        percentiles([])


def test_sampler_times_each_call_with_the_clock_and_keeps_results():
    ticks = itertools.count()
    sampler = Sampler(clock=lambda: float(next(ticks)) * 0.5)
    assert sampler.time("a", lambda: "x") == "x"
    sampler.time("b", lambda: None)
    assert sampler.seconds() == [0.5, 0.5]
    assert [s.label for s in sampler.slowest(1)] == ["a"]


def test_phases_are_timed_back_to_back_and_summed():
    clock = iter([0.0, 2.0, 2.0, 7.0])
    phases = Phases(clock=lambda: next(clock))
    with phases.phase("clone"):
        pass
    with phases.phase("power-on"):
        pass
    assert phases.durations == {"clone": 2.0, "power-on": 5.0}
    assert phases.total == 7.0


@pytest.mark.parametrize(("value", "comparison", "expected"), [
    (1.99, "<", "met"), (2.0, "<", "breached"), (2.01, "<", "breached"),
    (99.5, ">", "met"), (99.0, ">", "breached")])
def test_verdict_flips_exactly_at_the_threshold(value, comparison, expected):
    threshold = 2.0 if comparison == "<" else 99.0
    result = verdict(check="S1.3", metric="m", value=value, threshold=threshold, setting="sla.x", comparison=comparison)
    assert result.verdict == expected


def test_verdict_attaches_percentiles_and_phases():
    result = verdict(check="S3.6", metric="vm-create", value=5.0, threshold=300, setting="sla.vm_create",
                     samples=[1.0, 5.0], phases={"clone": 3.0})
    assert (result.percentiles.count, result.percentiles.max, result.phases) == (2, 5.0, {"clone": 3.0})


def test_breach_message_names_metric_value_threshold_samples_and_setting():
    result = verdict(check="S1.3", metric="api-latency-p95 GET /nodes", value=2.5, threshold=2.0,
                     setting="sla.api_latency", samples=[2.5] * 20)
    assert breach_message(result) == ("SLA breach: api-latency-p95 GET /nodes = 2.500 s over 20 samples, "
                                      "must be below 2 s (setting sla.api_latency)")
