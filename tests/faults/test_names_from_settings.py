"""Stages 1-2 take every name from the settings or the cluster: a twin whose nodes, bridge, storages, template,
vnets and identities are all named differently passes just the same, and faults there hit the right check."""
import os
import re

import pytest

from proxqa import catalog
from proxqa.labctl import LabControl, start_lab, stop_lab


@pytest.fixture(scope="module")
def alt_lab(tmp_path_factory):
    handle = start_lab(tmp_path_factory.mktemp("alt-lab"), watch_pid=os.getpid(), seed="alt")
    yield handle
    stop_lab(handle.state_dir)


def test_alt_seed_names_differ_from_the_standard_lab(alt_lab, lab):
    keys = ("PROXMOX_NODES", "TEST_VM_TEMPLATE", "TEST_STORAGE_POOL", "TEST_ISO_STORAGE", "TEST_NETWORK_BRIDGE",
            "TEST_TENANT_VNETS", "PROXMOX_TOKEN_ID", "PROXMOX_CAPMOX_TOKEN_ID")
    same = [k for k in keys if alt_lab.settings[k] == lab.settings[k]]
    assert same == []


def test_stages_1_2_pass_on_differently_named_cluster(alt_lab, run_suite):
    code, summary = run_suite("--stage", "1,2", lab_settings=alt_lab.settings)
    failing = [c for c in summary["checks"] if c["outcome"] != "passed"]
    assert failing == []
    assert len(summary["checks"]) == len([c for c in catalog.CHECKS.values() if c.stage in (1, 2)])
    assert code == 0


def test_every_stage_passes_on_the_other_cluster_with_its_shared_storage(alt_lab, run_suite):
    """The alt cluster's disks and backups are on shared Ceph storage, whose CSI volume handles name no zone:
    stage 5 reads the disk where its consumer runs."""
    code, summary = run_suite(lab_settings=alt_lab.settings)
    not_passed = {c["id"]: c["outcome"] for c in summary["checks"] if c["outcome"] != "passed"}
    assert not_passed == {"S5.6": "skipped", "S8.6": "skipped"}, summary["checks"]
    assert code == 0


@pytest.mark.parametrize(("check", "fault", "expect"), [
    ("S1.8", "pve-node-offline=hv-b", r"hv-b is offline"),
    ("S2.5", "storage-full=ceph-vm", r"ceph-vm is 9\d\.\d % used"),
    ("S2.1", "bridge-missing=hv-a", r"hv-a: no interface vmbr7"),
])
def test_faults_on_the_alt_cluster_name_its_objects(check, fault, expect, alt_lab, run_suite):
    control = LabControl(alt_lab.control_url)
    control.set_fault(fault)
    try:
        _, summary = run_suite("-k", f"test_{check.lower().replace('.', '_')}_", lab_settings=alt_lab.settings)
    finally:
        control.clear_faults()
    result = next(c for c in summary["checks"] if c["id"] == check)
    assert result["outcome"] == "failed" and re.search(expect, result["message"]), result
