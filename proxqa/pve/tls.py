"""What a client sees when it opens the Proxmox endpoint: TCP connect, TLS handshake, certificate."""
from __future__ import annotations

import datetime
import socket
import ssl
import time
from dataclasses import dataclass

from cryptography import x509


@dataclass(frozen=True)
class EndpointProbe:
    connect_seconds: float
    tls_version: str
    verified: bool
    verify_error: str           # why verification failed ("" when verified or not asked)
    not_after: datetime.datetime
    subject: str

    def days_left(self, now: datetime.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


class EndpointUnreachable(AssertionError):
    """TCP connect or TLS handshake failed."""


def _handshake(host: str, port: int, timeout: float, context: ssl.SSLContext) -> tuple[float, ssl.SSLSocket]:
    start = time.perf_counter()
    raw = socket.create_connection((host, port), timeout=timeout)
    connected = time.perf_counter() - start
    try:
        return connected, context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def probe_endpoint(host: str, port: int, *, timeout: float, verify: bool | str) -> EndpointProbe:
    """Connect, shake hands (verifying when asked) and read the certificate, verified or not."""
    verify_error = ""
    if verify:
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        try:
            connected, tls = _handshake(host, port, timeout, context)
            tls.close()
        except ssl.SSLCertVerificationError as exc:
            verify_error = exc.verify_message or str(exc)
        except OSError as exc:
            raise EndpointUnreachable(f"{host}:{port}: {exc}") from None
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        connected, tls = _handshake(host, port, timeout, insecure)
    except OSError as exc:
        raise EndpointUnreachable(f"{host}:{port}: {exc}") from None
    with tls:
        der, version = tls.getpeercert(binary_form=True), tls.version() or ""
    cert = x509.load_der_x509_certificate(der)
    return EndpointProbe(connect_seconds=connected, tls_version=version, verified=bool(verify) and not verify_error,
                         verify_error=verify_error, not_after=cert.not_valid_after_utc,
                         subject=cert.subject.rfc4514_string())
