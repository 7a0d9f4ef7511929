"""Compatibility: the CAPMOX release matches the Cluster API core release."""
import re

import pytest

CAPMOX_NEEDS_NEW_CAPI = (0, 8)     # CAPMOX v0.8+ serves v1alpha2 and needs CAPI >= 1.11
NEW_CAPI = (1, 11)


def _version(provider: dict) -> tuple[int, int]:
    text = provider.get("spec", {}).get("version") or provider.get("status", {}).get("installedVersion", "")
    found = re.match(r"v?(\d+)\.(\d+)", text)
    assert found, f"{provider['kind']} {provider['metadata']['name']} states no version ({text!r})"
    return int(found[1]), int(found[2])


@pytest.mark.check("S3.5")
def test_s3_5_capmox_release_fits_capi_core(providers):
    """CAPMOX >= 0.8 with CAPI core < 1.11 fails with that reason."""
    capi, capmox = _version(providers["CoreProvider/cluster-api"]), _version(providers["InfrastructureProvider/proxmox"])
    assert not (capmox >= CAPMOX_NEEDS_NEW_CAPI and capi < NEW_CAPI), (
        f"CAPMOX v{capmox[0]}.{capmox[1]} needs Cluster API >= 1.11 (it serves v1alpha2), core is "
        f"v{capi[0]}.{capi[1]}")
