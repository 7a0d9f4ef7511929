"""Item results shared between the xdist workers of one run, so a check is gated on a prerequisite run elsewhere."""
from __future__ import annotations

import json
from pathlib import Path

from filelock import FileLock

from proxqa.results import ItemResult


class SharedResults:
    """An append-only JSON-lines file in the run folder, guarded by a file lock."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = FileLock(str(path) + ".lock")

    def add(self, result: ItemResult) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(result.to_dict()) + "\n")

    def read(self) -> dict[str, ItemResult]:
        """nodeid -> result; the last line for a nodeid wins (a rerun replaces an earlier attempt)."""
        if not self.path.exists():
            return {}
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        results = (ItemResult.from_dict(json.loads(line)) for line in lines if line)
        return {r.nodeid: r for r in results}
