"""The polling helper, with a fake clock: no real time passes."""
import pytest

from proxqa.waits import Deadline, WaitAborted, WaitTimeout, wait_for


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_state_once_done():
    states, t = iter(["Pending", "Pending", "Bound"]), FakeTime()
    got = wait_for("pvc", lambda: next(states), done=lambda s: s == "Bound", deadline=Deadline(60),
                   clock=t.clock, sleep=t.sleep)
    assert (got, t.sleeps) == ("Bound", [0.5, 1.0])


def test_backs_off_up_to_the_max_poll_and_stops_at_the_deadline():
    t = FakeTime()
    with pytest.raises(WaitTimeout, match=r"vm: not reached within 20 s \(last state: 'cloning'\)"):
        wait_for("vm", lambda: "cloning", done=lambda s: False, deadline=Deadline(20, first_poll=1, max_poll=4),
                 clock=t.clock, sleep=t.sleep)
    assert t.sleeps == [1, 2, 4, 4, 4, 4, 1]
    assert t.now == 20


def test_a_terminal_state_aborts_at_once_with_its_reason():
    t = FakeTime()
    with pytest.raises(WaitAborted, match="machine: CloningFailed: template 9999 missing"):
        wait_for("machine", lambda: {"reason": "CloningFailed"}, done=lambda s: False, deadline=Deadline(300),
                 failed=lambda s: f"{s['reason']}: template 9999 missing", clock=t.clock, sleep=t.sleep)
    assert t.sleeps == []
