"""Version: the Proxmox VE release the cluster runs."""
import warnings

import pytest

OLDEST_SUPPORTED = (7, 0)
OLDEST_CURRENT = (8, 0)


@pytest.mark.check("S1.2")
def test_s1_2_version_is_supported(pve_version, record_environment):
    """GET /version answers with version and release; below 7.0 fails, below 8.0 warns."""
    assert pve_version.version and pve_version.release, (
        f"GET /version answered without version/release: {pve_version}")
    record_environment("Proxmox VE version", pve_version.version)
    assert pve_version.major_minor >= OLDEST_SUPPORTED, (
        f"Proxmox VE {pve_version.version} is below 7.0, which the integration does not support")
    if pve_version.major_minor < OLDEST_CURRENT:
        warnings.warn(f"Proxmox VE {pve_version.version} is below 8.0 (end of life); upgrade before relying on it")
