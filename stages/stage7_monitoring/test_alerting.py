"""Alerting: vmalert has rules loaded and none fails."""
import pytest


@pytest.mark.check("S7.5")
def test_s7_5_rule_groups_loaded_and_no_rule_in_error(alert_rules, deadline):
    """vmalert has at least one rule group loaded and, once every rule has been evaluated, no rule has health err."""
    groups = alert_rules.wait_evaluated(deadline("fresh-metrics"))
    assert groups, f"no rule group loaded in {alert_rules}"
    failing = [f"{rule.group}/{rule.name}: health {rule.health}: {rule.last_error}"
               for group in groups for rule in group.rules if rule.health == "err"]
    assert not failing, f"{len(failing)} rule(s) in error: " + "; ".join(failing)
