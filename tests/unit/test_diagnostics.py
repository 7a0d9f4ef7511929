"""Diagnostics: live diagnosers only, secrets redacted, a failing diagnoser does not hide the others."""
from proxqa.diagnostics import MAX_CHARS, Diagnostics


def test_collect_reports_live_diagnosers_redacted():
    diagnostics = Diagnostics(["s3cr3t"])
    unwatch = diagnostics.watch("first", lambda: "token s3cr3t in a message")
    diagnostics.watch("second", lambda: "x" * (MAX_CHARS + 10))
    assert diagnostics.collect() == [("first", "token *** in a message"), ("second", "x" * MAX_CHARS)]
    unwatch()
    assert [title for title, _ in diagnostics.collect()] == ["second"]


def test_a_failing_diagnoser_says_why():
    diagnostics = Diagnostics([])

    def broken() -> str:
        raise RuntimeError("API gone")

    diagnostics.watch("broken", broken)
    diagnostics.watch("fine", lambda: "ok")
    assert diagnostics.collect() == [("broken", "(diagnostics failed: RuntimeError: API gone)"), ("fine", "ok")]
