"""Whether a destructive check (one that breaks something on the target on purpose) may run."""
from __future__ import annotations

NOT_OPTED_IN = "destructive check: needs --destructive and test.allow_destructive"
PRODUCTION = "target is marked production (test.production): destructive checks refused"


def destructive_refusal(*, flag: bool, allowed: bool, production: bool) -> str | None:
    """Why a destructive check must not run, or None when it may: production refuses it whatever else is set;
    otherwise it needs both the command line flag and the profile's setting."""
    if production:
        return PRODUCTION
    if not (flag and allowed):
        return NOT_OPTED_IN
    return None
