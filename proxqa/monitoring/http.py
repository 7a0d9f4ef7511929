"""One JSON GET against a monitoring API: bounded retries of transient failures, errors naming API, URL and cause."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

from proxqa.pve.errors import redact

TRANSIENT_STATUS = (429, 502, 503, 504)
MESSAGE_LIMIT = 500


class MonitoringError(AssertionError):
    """A monitoring API answered with an error status, or with something other than what it serves."""

    def __init__(self, what: str, status: int, message: str):
        self.what, self.status, self.message = what, status, message
        super().__init__(f"{what}: HTTP {status} {message}".rstrip())


class MonitoringUnreachable(AssertionError):
    """No answer from a monitoring API: connection refused, timed out."""


@dataclass(frozen=True)
class Endpoint:
    api: str                    # what the API is, for messages: "query API", "vmalert", "Grafana"
    url: str                    # base URL without a trailing slash
    token: str | None = field(default=None, repr=False)     # sent as Authorization: Bearer
    timeout: float = 30.0       # seconds per request

    def __str__(self) -> str:
        return f"{self.api} at {self.url}"


class JsonApi:
    """GETs against one endpoint; the answer's JSON, or MonitoringError / MonitoringUnreachable."""

    def __init__(self, endpoint: Endpoint, *, retries: int = 2, pause: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.endpoint = endpoint
        self._retries, self._pause, self._sleep = retries, pause, sleep
        self._session = requests.Session()
        if endpoint.token:
            self._session.headers["Authorization"] = f"Bearer {endpoint.token}"

    def __repr__(self) -> str:
        return f"JsonApi({self.endpoint})"

    def get(self, path: str, params: dict[str, str] | None = None, *,
            answers: Iterable[int] = (200,)) -> tuple[int, Any]:
        """(status, JSON body) of GET path; statuses in `answers` are answers, any other is an error (transient
        ones are retried first)."""
        what, response = self._answer(path, params, tuple(answers))
        return response.status_code, self._json(response, what)

    def get_lines(self, path: str, params: dict[str, str] | None = None) -> list[Any]:
        """The JSON value of each line of GET path's answer (newline-delimited JSON, as VictoriaLogs streams
        query results); an empty answer is no lines."""
        what, response = self._answer(path, params, (200,))
        lines = [line for line in response.text.splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            raise MonitoringError(what, response.status_code, f"answered lines that are not all JSON: "
                                  f"{self._redact(response.text[:MESSAGE_LIMIT])}") from None

    def _answer(self, path: str, params: dict[str, str] | None,
                answers: tuple[int, ...]) -> tuple[str, requests.Response]:
        """(what was asked, for messages; the response) once GET path answers with a status in `answers`."""
        what = f"{self.endpoint.api} GET {self.endpoint.url}{path}" + (
            "?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else "")
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._session.get(self.endpoint.url + path, params=params, timeout=self.endpoint.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise MonitoringUnreachable(f"{what}: unreachable: {self._redact(str(exc))}") from None
            else:
                if response.status_code in answers:
                    return what, response
                if response.status_code not in TRANSIENT_STATUS or last:
                    raise MonitoringError(what, response.status_code, self._redact(error_text(response)))
            self._sleep(self._pause * 2 ** attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise MonitoringError(what, response.status_code,
                                  f"answered {response.headers.get('Content-Type', 'no content type')}, not JSON: "
                                  f"{self._redact(response.text[:MESSAGE_LIMIT])}") from None

    def _redact(self, text: str) -> str:
        return redact(text, (self.endpoint.token,) if self.endpoint.token else ())


def error_text(response: requests.Response) -> str:
    """The API's own error: Prometheus' and vmalert's `error`, Grafana's `message`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MESSAGE_LIMIT]
    if isinstance(body, dict) and (body.get("error") or body.get("message")):
        return str(body.get("error") or body.get("message"))[:MESSAGE_LIMIT]
    return response.text.strip()[:MESSAGE_LIMIT]
