"""Latency SLA: p95 of the main read endpoints."""
import json

import allure
import pytest

from proxqa.sla import Sampler, percentiles

ENDPOINTS = ("/version", "/nodes", "/cluster/status", "/cluster/resources")
SLOWEST_SHOWN = 5


@pytest.mark.check("S1.3")
@pytest.mark.parametrize("path", ENDPOINTS)
def test_s1_3_endpoint_p95_within_sla(path, pve_raw, token_identity, password_identity, settings, sla):
    """Sample the endpoint N times; every call answers 200 and the p95 latency is below the SLA."""
    read = pve_raw.reader(token_identity or password_identity)
    sampler = Sampler()
    answers = [sampler.time(f"GET {path} #{n + 1}", lambda: read(path)) for n in range(settings.test.latency_samples)]
    allure.attach(json.dumps([s.__dict__ for s in sampler.samples], indent=1), name=f"samples {path}",
                  attachment_type=allure.attachment_type.JSON)
    failed = [a for a in answers if a.status != 200]
    assert not failed, (f"GET {path}: {len(failed)} of {len(answers)} calls failed, first: HTTP {failed[0].status} "
                        f"{failed[0].message}")
    slowest = ", ".join(f"{s.label} {s.seconds:.3f} s" for s in sampler.slowest(SLOWEST_SHOWN))
    sla.expect(f"api-latency-p95 GET {path}", percentiles(sampler.seconds()).p95, threshold="api_latency",
               samples=sampler.seconds(), detail=f"slowest: {slowest}")
