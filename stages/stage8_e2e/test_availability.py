"""Availability over the run: the Proxmox and Kubernetes APIs, probed in the background since the run's first
check, stayed available and answered without errors."""
import pytest

from fixtures.availability import PROBE_TIMEOUT
from proxqa.availability import availability
from proxqa.waits import Deadline, wait_for

MIN_PROBES = 3      # per API: a run shorter than that many probe intervals is probed a little longer here


@pytest.mark.check("S8.9")
def test_s8_9_apis_available_over_the_run(availability_prober, settings, sla):
    """Availability (time outside outages, an outage lasting from a failed probe to the next good one) above
    sla.availability and failed probes below sla.error_rate, for each API; the outages are named."""
    checks = availability_prober.checks
    if not checks:
        pytest.skip("nothing to probe: neither Proxmox credentials nor KUBECONFIG are configured")
    worst_round = settings.perf.probe_interval + 2 * PROBE_TIMEOUT * len(checks)
    wait_for(f"{MIN_PROBES} probes of each API", availability_prober.counts,
             done=lambda counts: min(counts.values()) >= MIN_PROBES,
             deadline=Deadline(worst_round * (MIN_PROBES + 1)), show=str)
    probes = availability_prober.probes()
    found = [availability(target, probes) for target in checks]
    detail = " | ".join(str(a) for a in found)
    for measured in found:
        metric = measured.target.lower().replace(" ", "-")
        sla.expect(f"{metric}-availability", measured.percent, threshold="availability", unit="%", comparison=">",
                   detail=detail)
        sla.expect(f"{metric}-error-rate", measured.error_rate, threshold="error_rate", unit="%", detail=detail)
