"""The raw HTTP exchange with the Proxmox API, for checks about status codes, logins and latency.

Unlike PveClient it never retries and never raises on an HTTP error status: the status is the verdict.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import requests

from proxqa.pve.connection import Endpoint, Identity
from proxqa.pve.errors import PveError, PveUnreachable, redact


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    message: str                # PVE's reason phrase (its error message on 4xx/5xx)


@dataclass(frozen=True)
class Ticket:
    ticket: str
    csrf: str


class RawPve:
    def __init__(self, endpoint: Endpoint, secrets: tuple[str, ...] = ()):
        self.endpoint = endpoint
        self._secrets = secrets
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE override a session-wide setting
            response = self._session.request(method, self.endpoint.api_url + path, timeout=self.endpoint.timeouts,
                                             verify=self.endpoint.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise PveUnreachable(f"Proxmox {method} {path}: TLS failure: {redact(str(exc), self._secrets)}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise PveUnreachable(f"Proxmox {method} {path}: unreachable: {redact(str(exc), self._secrets)}") from None
        try:
            data = response.json().get("data")
        except ValueError:
            data = None
        return Answer(response.status_code, data, redact(response.reason or "", self._secrets))

    def login(self, username: str, password: str) -> tuple[Answer, Ticket | None]:
        """POST /access/ticket once; the ticket when the answer carries one."""
        answer = self._send("POST", "/access/ticket", data={"username": username, "password": password})
        data = answer.data if isinstance(answer.data, dict) else {}
        ticket = Ticket(data["ticket"], data.get("CSRFPreventionToken", "")) if data.get("ticket") else None
        return answer, ticket

    def get_with_ticket(self, path: str, ticket: str) -> Answer:
        return self._send("GET", path, cookies={"PVEAuthCookie": ticket})

    def get_with_token(self, path: str, identity: Identity) -> Answer:
        return self._send("GET", path, headers=identity.auth_header())

    def reader(self, identity: Identity) -> Callable[[str], Answer]:
        """An authenticated GET as identity: the token header, or a ticket from one password login."""
        if identity.is_token:
            return lambda path: self.get_with_token(path, identity)
        answer, ticket = self.login(identity.userid, identity.secret)
        if ticket is None:
            raise PveError("POST", "/access/ticket", answer.status, answer.message or "no ticket in the answer")
        return lambda path: self.get_with_ticket(path, ticket.ticket)
