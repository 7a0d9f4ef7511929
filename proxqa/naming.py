"""Names and labels of everything the suite creates: qa-<run>-<worker>-<rand>, labelled with the run ID."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

RUN_LABEL = "proxqa.io/run"
WORKER_LABEL = "proxqa.io/worker"           # parallel runs: which xdist worker made it


@dataclass(frozen=True)
class Names:
    run_id: str
    worker: str = "w0"                      # the xdist worker ("gw1") or "w0" in a serial run

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.label_value, WORKER_LABEL: self.worker}

    @property
    def prefix(self) -> str:
        """What every name this worker makes starts with: qa-<run>-<worker>-."""
        return f"qa-{self.label_value}-{self.worker}-"

    @property
    def label_value(self) -> str:
        """The run ID as a valid label value (63 characters, alphanumerics at both ends)."""
        return re.sub(r"[^a-z0-9.-]", "-", self.run_id.lower())[:63].strip("-.")

    def new(self, what: str) -> str:
        """A fresh DNS-1123 name, unique per call: qa-<run>-<worker>-<what>-<rand>."""
        name = f"{self.prefix}{what}-{secrets.token_hex(3)}"
        return re.sub(r"[^a-z0-9-]", "-", name.lower())[:63].rstrip("-")
