"""Errors of the Proxmox client layer, with secrets removed before they are raised."""
from __future__ import annotations

from collections.abc import Iterable


class PveError(AssertionError):
    """The Proxmox API answered with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str):
        self.method, self.path, self.status, self.message = method, path, status, message
        super().__init__(f"Proxmox {method} {path}: HTTP {status} {message}".rstrip())


class PveUnreachable(AssertionError):
    """No answer from the Proxmox API: connection refused or timed out, TLS failure."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
