"""Authentication: password and token logins work, bad credentials and forged tickets are refused."""
import secrets
import time

import pytest

from proxqa.pve.connection import Identity

UNAUTHORIZED = 401


@pytest.mark.check("S1.4")
def test_s1_4_password_login_gives_ticket_that_reads(pve_raw, password_identity):
    """POST /access/ticket returns a ticket and a CSRF token; a read with the PVEAuthCookie works."""
    if password_identity is None:
        pytest.skip("password login not configured (PROXMOX_USERNAME/PROXMOX_PASSWORD)")
    answer, ticket = pve_raw.login(password_identity.userid, password_identity.secret)
    assert answer.status == 200 and ticket is not None, (
        f"login as {password_identity.userid}: HTTP {answer.status} {answer.message}, no ticket")
    assert ticket.csrf, f"login as {password_identity.userid} returned a ticket without CSRFPreventionToken"
    read = pve_raw.get_with_ticket("/nodes", ticket.ticket)
    assert read.status == 200, f"GET /nodes with the new ticket: HTTP {read.status} {read.message}"


@pytest.mark.check("S1.5")
def test_s1_5_token_header_reads(pve_raw, token_identity):
    """Authorization: PVEAPIToken=user@realm!tokenid=secret works for a read."""
    if token_identity is None:
        pytest.skip("API token not configured (PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET)")
    read = pve_raw.get_with_token("/nodes", token_identity)
    assert read.status == 200, f"GET /nodes with token {token_identity.userid}: HTTP {read.status} {read.message}"


@pytest.mark.check("S1.6")
def test_s1_6_wrong_password_refused(pve_raw, password_identity):
    """A wrong password gets 401 and no ticket (one attempt, so no lock-out is provoked)."""
    if password_identity is None:
        pytest.skip("password login not configured (PROXMOX_USERNAME/PROXMOX_PASSWORD)")
    answer, ticket = pve_raw.login(password_identity.userid, "wrong-" + secrets.token_hex(8))
    assert (answer.status, ticket) == (UNAUTHORIZED, None), (
        f"a wrong password for {password_identity.userid} got HTTP {answer.status}"
        f"{' and a ticket' if ticket else ''}; expected 401 and no ticket")


@pytest.mark.check("S1.6")
def test_s1_6_wrong_token_secret_refused(pve_raw, token_identity):
    """A wrong token secret gets 401."""
    if token_identity is None:
        pytest.skip("API token not configured (PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET)")
    forged = Identity("forged", token_identity.userid, secrets.token_hex(16))
    read = pve_raw.get_with_token("/nodes", forged)
    assert read.status == UNAUTHORIZED, (
        f"token {token_identity.userid} with a wrong secret got HTTP {read.status}; expected 401")


@pytest.mark.check("S1.7")
def test_s1_7_forged_ticket_refused(pve_raw, password_identity, token_identity):
    """A ticket the server never issued (well-formed, two hours old) gets 401."""
    user = (password_identity or token_identity).user
    issued = int(time.time()) - 2 * 3600
    forged = f"PVE:{user}:{issued:08X}::{secrets.token_urlsafe(258)}"
    read = pve_raw.get_with_ticket("/nodes", forged)
    assert read.status == UNAUTHORIZED, f"a forged ticket for {user} got HTTP {read.status}; expected 401"
