"""Changes.wait's timing rules, with a fake clock and no watch: after a burst, looks woken by changes keep GAP
apart, and a wait whose watches failed polls start to start."""
from proxqa.kube import watching
from proxqa.kube.watching import BURST, GAP, Changes
from tests.fake_time import FakeTime


def changes_at(fake: FakeTime, monkeypatch, poll: float = 1.0) -> Changes:
    monkeypatch.setattr(watching, "time", fake)
    return Changes([], poll).__enter__()


def test_a_change_long_after_the_last_look_wakes_at_once(monkeypatch):
    fake = FakeTime(100.0)
    changes = changes_at(fake, monkeypatch)
    fake.now += 5
    changes._changed.set()
    assert changes.wait(10) and fake.sleeps == []


def test_after_a_burst_of_quick_wakes_the_looks_keep_the_gap(monkeypatch):
    fake = FakeTime(100.0)
    changes = changes_at(fake, monkeypatch)
    for _ in range(BURST + 2):
        fake.now += 0.05                    # each look takes 50 ms, then the next change is there
        changes._changed.set()
        assert changes.wait(10)
    assert fake.sleeps == [round(GAP - 0.05, 6)] * 2, "the first BURST at once, then a gap apart"


def test_with_the_watches_broken_the_looks_are_a_poll_apart_start_to_start(monkeypatch):
    fake = FakeTime(100.0)
    changes = changes_at(fake, monkeypatch, poll=1.0)
    changes.broken = "403 Forbidden"
    timeouts = []
    changes._changed.wait = lambda timeout: timeouts.append(round(timeout, 6)) or False
    fake.now += 0.3                         # the look took 0.3 s
    assert not changes.wait(10)
    assert timeouts == [0.7]
