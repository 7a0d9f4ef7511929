"""The waiting helper, with a fake clock: no real time passes."""
import pytest

from proxqa.waits import Deadline, WaitAborted, WaitTimeout, wait_for
from tests.fake_time import FakeTime


def test_returns_the_state_once_done():
    states, t = iter(["Pending", "Pending", "Bound"]), FakeTime()
    got = wait_for("pvc", lambda: next(states), done=lambda s: s == "Bound", deadline=Deadline(60),
                   clock=t.clock, sleep=t.sleep)
    assert (got, t.sleeps) == ("Bound", [1.0, 1.0])


def test_looks_once_per_poll_from_start_to_start_and_stops_at_the_deadline():
    t = FakeTime()

    def slow_probe():
        t.now += 0.25           # each look takes a quarter of a second
        return "cloning"

    with pytest.raises(WaitTimeout, match=r"vm: not reached within 3.5 s \(last state: 'cloning'\)"):
        wait_for("vm", slow_probe, done=lambda s: False, deadline=Deadline(3.5), clock=t.clock, sleep=t.sleep)
    assert t.sleeps == [0.75, 0.75, 0.75, 0.25]
    assert t.now == 3.75, "the last look starts before the deadline and ends after it"


def test_a_look_longer_than_the_poll_is_followed_at_once():
    states, t = iter(["a", "b", "done"]), FakeTime()

    def slow_probe():
        t.now += 1.5
        return next(states)

    wait_for("slow", slow_probe, done=lambda s: s == "done", deadline=Deadline(60), clock=t.clock, sleep=t.sleep)
    assert t.sleeps == [0.0, 0.0]


def test_a_sleep_cut_short_by_a_change_brings_the_next_look_forward():
    states, t = iter(["Pending", "Bound"]), FakeTime()
    woken = []

    def woken_early(seconds):
        woken.append(seconds)
        t.now += 0.01

    got = wait_for("pvc", lambda: next(states), done=lambda s: s == "Bound", deadline=Deadline(60, poll=10),
                   clock=t.clock, sleep=woken_early)
    assert (got, woken) == ("Bound", [10])


def test_a_terminal_state_aborts_at_once_with_its_reason():
    t = FakeTime()
    with pytest.raises(WaitAborted, match="machine: CloningFailed: template 9999 missing"):
        wait_for("machine", lambda: {"reason": "CloningFailed"}, done=lambda s: False, deadline=Deadline(300),
                 failed=lambda s: f"{s['reason']}: template 9999 missing", clock=t.clock, sleep=t.sleep)
    assert t.sleeps == []
