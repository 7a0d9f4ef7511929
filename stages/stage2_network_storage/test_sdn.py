"""SDN: zones and vnets, and the isolation of tenant networks."""
import json
from collections import defaultdict

import allure
import pytest


@pytest.mark.check("S2.2")
def test_s2_2_sdn_listed_and_present_when_required(pve, settings):
    """Zones and vnets go into the report; their absence fails when the settings require SDN or name tenant vnets."""
    zones, vnets = pve.sdn_zones(), pve.sdn_vnets()
    allure.attach(json.dumps({"zones": [z.__dict__ for z in zones], "vnets": [v.__dict__ for v in vnets]},
                             indent=1), name="SDN zones and vnets", attachment_type=allure.attachment_type.JSON)
    if settings.test.sdn_required or settings.test.tenant_vnets:
        assert zones and vnets, (f"SDN is required (TEST_SDN_REQUIRED or TEST_TENANT_VNETS) but the cluster has "
                                 f"{len(zones)} zones and {len(vnets)} vnets")


@pytest.mark.check("S2.3")
def test_s2_3_tenant_vnets_exist_and_are_not_shared(pve, settings):
    """Every configured tenant vnet exists, and no two tenants share a VLAN tag in one zone."""
    wanted = settings.test.tenant_vnets
    if not wanted:
        pytest.skip("tenant vnets not configured (TEST_TENANT_VNETS)")
    vnets = {v.name: v for v in pve.sdn_vnets()}
    problems = [f"tenant vnet {name} does not exist" for name in wanted if name not in vnets]
    by_tag = defaultdict(list)
    for name in wanted:
        if name in vnets and vnets[name].tag is not None:
            by_tag[(vnets[name].zone, vnets[name].tag)].append(name)
    problems += [f"tenants {' and '.join(names)} share VLAN tag {tag} in zone {zone}"
                 for (zone, tag), names in by_tag.items() if len(names) > 1]
    assert not problems, "; ".join(problems)
