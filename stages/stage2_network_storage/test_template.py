"""Template: the VM template CAPMOX clones."""
import re

import pytest

DISK_KEY = re.compile(r"(scsi|virtio|sata|ide)\d+$")


def _agent_enabled(value: str | None) -> bool:
    """The agent option: "1", "enabled=1,fstrim_cloned_disks=1", ..."""
    first = (value or "0").split(",")[0]
    return first.removeprefix("enabled=") == "1"


@pytest.mark.check("S2.6")
def test_s2_6_template_is_cloneable(pve, template, settings):
    """The template is a template, has a boot disk, a cloud-init drive and the guest agent on (unless the OS has none)."""
    name = settings.test.vm_template
    assert template is not None, f"template {name} is not in /cluster/resources"
    config = pve.vm_config(template.node, template.vmid)
    drives = {k: v for k, v in config.values.items() if DISK_KEY.match(k)}
    problems = []
    if not template.template:
        problems.append("is a VM, not a template (template=0)")
    if not any("media=cdrom" not in v for v in drives.values()):
        problems.append("has no boot disk")
    if not any("cloudinit" in v for v in drives.values()):
        problems.append("has no cloud-init drive")
    if settings.test.template_has_agent and not _agent_enabled(config.get("agent")):
        problems.append(f"has the QEMU guest agent off (agent={config.get('agent', 'unset')}); "
                        f"set TEST_TEMPLATE_HAS_AGENT=false if its OS has none")
    assert not problems, f"template {template.name} (VMID {template.vmid} on {template.node}) " + "; ".join(problems)
