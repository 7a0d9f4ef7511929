"""A clock for unit tests of waiting code: sleeping advances it, and every sleep is recorded; no real time passes."""


class FakeTime:
    def __init__(self, now: float = 0.0):
        self.now, self.sleeps = now, []

    def clock(self) -> float:
        return self.now

    monotonic = clock       # where the code under test calls time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
