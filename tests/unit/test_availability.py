"""Availability maths on known probe series, and the prober's thread."""
import threading

import pytest

from proxqa.availability import Probe, Prober, availability, outages

T0 = 1_800_000_000.0        # 2027-01-15 08:00:00 UTC


def series(pattern: str, target: str = "api", step: float = 10.0) -> list[Probe]:
    """'..x.' -> probes every step seconds; x failed."""
    return [Probe(target, T0 + i * step, "HTTP 500" if mark == "x" else "") for i, mark in enumerate(pattern)]


def test_all_good_is_fully_available_without_errors():
    found = availability("api", series("....."))
    assert (found.percent, found.error_rate, found.outages, found.span) == (100.0, 0.0, (), 40.0)


def test_an_outage_lasts_until_the_next_good_probe():
    found = availability("api", series("..xx......."))
    (outage,) = found.outages
    assert (outage.start, outage.end, outage.failures, outage.recovered) == (T0 + 20, T0 + 40, 2, True)
    assert found.percent == pytest.approx(80.0)        # 20 s down over 100 s
    assert found.error_rate == pytest.approx(100 * 2 / 11)


def test_an_outage_at_the_end_runs_to_the_last_probe_and_is_not_recovered():
    (outage,) = outages(series("...xx"))
    assert (outage.start, outage.end, outage.recovered) == (T0 + 30, T0 + 40, False)
    assert str(outage) == "08:00:30-08:00:40 UTC (not recovered), 2 failed: HTTP 500"


def test_separate_outages_are_listed_in_time_order():
    found = outages(list(reversed(series(".x..xx."))))
    assert [(o.start, o.end, o.failures) for o in found] == [(T0 + 10, T0 + 20, 1), (T0 + 40, T0 + 60, 2)]


def test_each_target_is_judged_on_its_own_probes():
    probes = series("....") + series("xxxx", target="other")
    assert availability("api", probes).percent == 100.0
    assert availability("other", probes).percent == 0.0


def test_one_probe_is_all_or_nothing():
    assert availability("api", series("x")).percent == 0.0
    assert availability("api", series(".")).percent == 100.0
    assert availability("api", []).probes == 0


def test_outage_names_its_window_in_utc_and_first_error():
    (outage,) = outages(series(".x."))
    assert str(outage) == "08:00:10-08:00:20 UTC, 1 failed: HTTP 500"


def test_prober_records_good_and_failed_calls_until_stopped():
    calls = threading.Semaphore(0)

    def good():
        calls.release()

    def bad():
        raise ConnectionError("refused")

    prober = Prober({"good": good, "bad": bad}, interval=0.01)
    prober.start()
    for _ in range(3):
        assert calls.acquire(timeout=10)
    prober.stop()
    probes = prober.probes()
    assert {p.error for p in probes if p.target == "bad"} == {"refused"}
    assert all(p.ok for p in probes if p.target == "good")
    assert min(prober.counts().values()) >= 2
    assert len(prober.probes()) == len(probes)      # nothing more after stop
