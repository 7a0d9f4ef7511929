"""The benchmarks' own arithmetic: the critical path from the lab's constants, the API economy's counting, the SLA
fidelity's tolerance, and the measures' medians and goals. No lab, no timing."""
import pytest
import requests

from benchmarks.common import Measure, SuiteRun, shown, table
from benchmarks.critical_path import (critical_path, durations, lab_durations, module_constants,
                                      template_disk_gib)
from benchmarks.economy import by_stage, by_suite, endpoint, is_clone, is_volume, per_node_split
from benchmarks.sla_fidelity import expected_verdict, tolerance

CONSTANTS = {"clone_base": 10, "copy_per_gib": 1, "vm_start": 2, "boot": 20, "resize": 2, "backup": 30,
             "restore": 20, "join": 30, "cni": 20, "sandbox": 1, "pull": 3, "container_start": 1,
             "container_stop": 1, "provision": 2, "attach": 3, "probe_timeout": 5}


def test_composite_durations_chain_the_lab_steps():
    d = durations(CONSTANTS, disk_gib=20, vm_count=10, clone_concurrency=4)
    assert d["clone"] == 30                         # 10 s + 1 s per GiB of a 20 GiB template
    assert d["vm"] == 30 + 2 + 20                   # clone, start task, guest agent up
    assert d["worker"] == 52 + 30 + 20              # then the kubelet joins and the CNI is ready
    assert d["pod"] == 1 + 3 + 1
    assert d["volume"] == 2 + 3 + 5                 # provisioned, attached, its consumer started
    assert d["clone_waves"] == 3 * 30 + 2 + 20      # 10 VMs, 4 clones at a time: three waves of clones


def test_critical_path_sums_each_stage_chain():
    d = {"vm": 52.0, "pod": 5.0, "worker": 102.0}
    waits = {"stage3": (("S3.6", "", {"vm": 1}), ("S3.7", "", {"vm": 2, "pod": 1})),
             "stage4": (("S4.1", "", {"worker": 1}),)}
    assert critical_path(d, waits) == {"stage3": 52 + 104 + 5, "stage4": 102}


def test_module_constants_reads_numbers_without_importing(tmp_path):
    source = tmp_path / "timings.py"
    source.write_text("import nothing_that_exists\nJOIN_SECONDS = 30.0\nNAME = 'x'\nA = B = 2\n")
    assert module_constants(source) == {"JOIN_SECONDS": 30.0, "A": 2.0, "B": 2.0}


def test_template_disk_is_read_from_the_standard_seed(tmp_path):
    seed = tmp_path / "seed.py"
    seed.write_text("ALT = Seed(template=Template(1, disk_gib=8))\nSTANDARD = Seed(template=Template(9000, "
                    "'t', disk_gib=20))\n")
    assert template_disk_gib(seed) == 20
    seed.write_text("STANDARD = Seed()\n")
    with pytest.raises(LookupError, match="no Template"):
        template_disk_gib(seed)


def test_the_labs_constants_are_all_found():
    """A renamed constant in the lab must fail here, not silently change the critical path."""
    d = lab_durations()
    assert d["worker"] > d["vm"] > d["clone"] > 0 and d["volume"] > d["pod"] > 0


def test_endpoints_are_normalised():
    assert endpoint("GET", "/api2/json/nodes/pve3/qemu/101/config") == "GET /nodes/{node}/qemu/{vmid}/config"
    assert endpoint("GET", "/api2/json/nodes/pve01/storage/local-lvm/content/local-lvm:vm-9-disk-0") == \
        "GET /nodes/{node}/storage/{storage}/content/{volume}"
    assert endpoint("GET", "/api2/json/cluster/resources") == "GET /cluster/resources"
    assert endpoint("GET", "/api2/json/nodes/pve1/tasks/UPID:pve1:00:qmclone:9000:x@pve!t:/status") == \
        "GET /nodes/{node}/tasks/{upid}/status"


def test_per_node_split_counts_node_paths_per_node():
    entries = [{"path": p} for p in ("/api2/json/nodes/a/network", "/api2/json/nodes/b/network", "/api2/json/nodes",
                                     "/api2/json/nodes/a", "/api2/json/version")]
    assert per_node_split(entries, node_count=2) == (1.5, 2)      # 3 requests on 2 nodes; /nodes and /version


def test_log_entries_go_to_the_stage_running_then():
    run = SuiteRun(0, 0.0, 10.0, {"items": [{"stage": "stage3", "started": 1.0, "seconds": 2.0},
                                            {"stage": "stage3", "started": 3.0, "seconds": 1.0},
                                            {"stage": "stage4", "started": 5.0, "seconds": 1.0}]}, None, "", 0.0)
    entries = [{"time": t} for t in (0.5, 1.5, 3.9, 4.5, 5.5)]
    assert by_stage(entries, run) == {"stage3": [{"time": 1.5}, {"time": 3.9}], "stage4": [{"time": 5.5}]}


def test_objects_are_recognised_in_the_log():
    assert is_clone({"method": "POST", "path": "/api2/json/nodes/a/qemu/9000/clone", "status": 200})
    assert not is_clone({"method": "POST", "path": "/api2/json/nodes/a/qemu/9000/clone", "status": 403})
    volume = {"identity": "csi@pve!csi", "method": "POST", "status": 200,
              "path": "/api2/json/nodes/a/storage/local-lvm/content"}
    assert is_volume(volume, "csi@pve!csi") and not is_volume(volume, "other@pve!t")


def test_the_suites_requests_are_told_from_the_lab_controllers_by_user_agent():
    assert by_suite({"user_agent": requests.utils.default_user_agent(), "identity": "capmox@pve!capi"})
    assert not by_suite({"user_agent": "Python/3.11 aiohttp/3.9.5", "identity": "capmox@pve!capi"})


def test_sla_tolerance_and_the_verdict_at_the_threshold():
    assert tolerance(2.0) == pytest.approx(0.105)
    assert expected_verdict(1.99, 2.0) == "met"
    assert expected_verdict(2.0, 2.0) == "breached"      # the p95 must stay below the threshold


def test_measure_median_and_goal():
    low = Measure("b", "wall", "s", rounds=[91.0, 80.0, 85.0], limit=90)
    assert (low.median, low.goal, low.met) == (85.0, "≤ 90", True)
    high = Measure("b", "rate", "req/s", rounds=[400.0, 450.0], limit=500, at_least=True)
    assert (high.median, high.met) == (425.0, False)
    assert Measure("b", "info", "").met is None


def test_table_shows_each_measure_with_its_verdict():
    text = table([Measure("overhead", "wall", "s", rounds=[89.94, 92.1], loads=[2.0, 3.0], limit=90)])
    header, row = text.splitlines()
    assert row.split() == ["overhead", "wall", "91.0", "s", "≤", "90", "NO", "2.50", "89.9,", "92.1"]
    assert shown(0.01294) == "0.0129" and shown(1.0512) == "1.05" and shown(142.08) == "142"
