"""What a run may change on its target: read-only runs change nothing; destructive checks (that break something
on purpose) need an explicit opt-in."""
from __future__ import annotations

import pytest

NOT_OPTED_IN = "destructive check: needs --destructive and test.allow_destructive"
PRODUCTION = "target is marked production (test.production): destructive checks refused"
READ_ONLY = "read-only run: "
MUTATES = "mutates"
"""Marker of a check that changes the target itself (not through a fixture): @pytest.mark.mutates("what it changes")."""


def destructive_refusal(*, flag: bool, allowed: bool, production: bool) -> str | None:
    """Why a destructive check must not run, or None when it may: production refuses it whatever else is set;
    otherwise it needs both the command line flag and the profile's setting."""
    if production:
        return PRODUCTION
    if not (flag and allowed):
        return NOT_OPTED_IN
    return None


def skip_if_read_only(read_only: bool, change: str) -> None:
    """Skip the check in a read-only run, saying what it would change ("creates VMs through Cluster API").
    Fixtures that change the target call this before they make anything; checks that do it themselves carry the
    `mutates` marker, which the plugin turns into this call before any fixture runs."""
    if read_only:
        pytest.skip(READ_ONLY + change)


def is_read_only_skip(reason: str) -> bool:
    return reason.startswith(READ_ONLY)
