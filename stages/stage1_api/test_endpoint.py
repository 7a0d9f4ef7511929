"""Endpoint: TCP, TLS and certificate of the Proxmox API."""
import datetime
import warnings

import pytest

from proxqa.pve.tls import probe_endpoint


@pytest.mark.check("S1.1")
def test_s1_1_endpoint_answers_over_verified_tls(pve_endpoint, settings):
    """TCP connect within the connect timeout, TLS handshake, a verified chain, a certificate not expired."""
    probe = probe_endpoint(pve_endpoint.host, pve_endpoint.port, timeout=pve_endpoint.connect_timeout,
                           verify=pve_endpoint.verify)
    if not pve_endpoint.verify:
        warnings.warn(f"TLS verification is off (PROXMOX_VERIFY_SSL=false): {probe.subject} is not verified")
    days_left = probe.days_left(datetime.datetime.now(datetime.timezone.utc))
    assert days_left > 0, (
        f"certificate of {pve_endpoint.host}:{pve_endpoint.port} expired {-days_left:.1f} days ago "
        f"(not after {probe.not_after:%Y-%m-%d %H:%M} UTC)")
    assert not probe.verify_error, (
        f"certificate of {pve_endpoint.host}:{pve_endpoint.port} ({probe.subject}) does not verify: "
        f"{probe.verify_error}; is PROXMOX_CA_BUNDLE the CA that signed it?")
    if days_left < settings.test.cert_expiry_warn_days:
        warnings.warn(f"certificate of {pve_endpoint.host} expires in {days_left:.0f} days")
