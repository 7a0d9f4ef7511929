"""Destructive checks run only when both the flag and the setting opt in, and never on a production target."""
import pytest

from proxqa.safety import NOT_OPTED_IN, PRODUCTION, destructive_refusal


@pytest.mark.parametrize("flag, allowed", [(False, False), (True, False), (False, True)])
def test_without_both_opt_ins_a_destructive_check_is_refused(flag, allowed):
    assert destructive_refusal(flag=flag, allowed=allowed, production=False) == NOT_OPTED_IN


def test_with_both_opt_ins_a_destructive_check_may_run():
    assert destructive_refusal(flag=True, allowed=True, production=False) is None


@pytest.mark.parametrize("flag, allowed", [(False, False), (True, True)])
def test_a_production_target_refuses_destructive_checks_outright(flag, allowed):
    assert destructive_refusal(flag=flag, allowed=allowed, production=True) == PRODUCTION
