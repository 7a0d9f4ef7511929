"""What a failed check leaves for its reader: the state of the objects it made (conditions, events, pods), taken
when the check fails and before teardown deletes them. Never a Secret: diagnosers read status, never data, and
the text is redacted against every configured secret as well."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import count

from proxqa.pve.errors import redact

MAX_CHARS = 20_000      # per diagnoser: enough for conditions and events, not a log dump


class Diagnostics:
    """Diagnosers (title, function returning text) live while the objects they describe do."""

    def __init__(self, secrets: Iterable[str]):
        self._secrets = tuple(secrets)
        self._diagnosers: dict[int, tuple[str, Callable[[], str]]] = {}
        self._ids = count()

    def watch(self, title: str, diagnose: Callable[[], str]) -> Callable[[], None]:
        """Register a diagnoser; the returned function unregisters it."""
        key = next(self._ids)
        self._diagnosers[key] = (title, diagnose)
        return lambda: self._diagnosers.pop(key, None)

    def collect(self) -> list[tuple[str, str]]:
        """(title, text) of every live diagnoser; one that fails says why instead."""
        found = []
        for title, diagnose in list(self._diagnosers.values()):
            try:
                text = diagnose()
            except Exception as exc:  # diagnostics must never hide the failure they describe
                text = f"(diagnostics failed: {type(exc).__name__}: {exc})"
            found.append((title, redact(text, self._secrets)[:MAX_CHARS]))
        return found
