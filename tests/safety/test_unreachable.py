"""An unreachable or untrusted Proxmox endpoint ends the run at once: S1.1 fails naming host:port and the cause, and
every other check is blocked by it instead of timing out one by one."""
from __future__ import annotations

import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lab.kube.credentials import make_tls
from tests.safety.conftest import run_stages

CREDENTIALS = {"PROXMOX_TOKEN_ID": "qa@pve!suite", "PROXMOX_TOKEN_SECRET": "s3cr3t-x",
               "PROXMOX_USERNAME": "qa@pve", "PROXMOX_PASSWORD": "pa55-x"}


def loopback_socket() -> socket.socket:
    listener = socket.socket()
    listener.bind((f"127.0.0.{random.randint(2, 250)}", 0))
    return listener


@contextmanager
def closed_port() -> Iterator[tuple[str, int]]:
    """An address nobody listens on (connection refused)."""
    probe = loopback_socket()
    address = probe.getsockname()
    probe.close()
    yield address


@contextmanager
def black_hole() -> Iterator[tuple[str, int]]:
    """A listener that never accepts: the connection opens (the kernel queues it), then nothing is ever said."""
    listener = loopback_socket()
    listener.listen(0)
    try:
        yield listener.getsockname()
    finally:
        listener.close()


@contextmanager
def untrusted_tls(tmp_path) -> Iterator[tuple[str, int]]:
    """A TLS server whose certificate comes from a CA the suite was not told about."""
    listener = loopback_socket()
    host = listener.getsockname()[0]
    _ca, cert, key = make_tls(str(tmp_path), host, "untrusted")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):     # the client gave up on the certificate
                conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()
    finally:
        stop.set()
        server.join()
        listener.close()


TARGETS = {
    "closed-port": (lambda tmp_path: closed_port(), r"Connection refused"),
    "black-hole": (lambda tmp_path: black_hole(), r"timed out"),
    "untrusted-certificate": (untrusted_tls, r"does not verify: .*(unable to get local issuer|self.signed)"),
}


@pytest.mark.parametrize("target", TARGETS)
def test_unreachable_proxmox_fails_s1_1_and_blocks_the_rest(target, tmp_path):
    make_target, cause = TARGETS[target]
    with make_target(tmp_path) as (host, port):
        started = time.monotonic()
        run = run_stages(tmp_path / "reports", "-q", env={"PROXMOX_HOST": host, "PROXMOX_PORT": str(port),
                                                          **CREDENTIALS}, timeout=300)
        print(f"{target}: the run took {time.monotonic() - started:.1f} s")
    checks = {check["id"]: check for check in run.summary["checks"]}
    first = checks.pop("S1.1")
    assert first["outcome"] == "failed", first
    assert f"{host}:{port}" in first["message"] and re.search(cause, first["message"]), first["message"]
    not_blocked = {cid: (c["outcome"], c["message"]) for cid, c in checks.items()
                   if c["outcome"] != "blocked" or not c["message"].startswith("blocked by S1.1: ")}
    assert not not_blocked
    assert len(checks) >= 60
