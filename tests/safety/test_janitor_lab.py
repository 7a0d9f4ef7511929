"""The janitor against the lab: it lists a run's leftovers on both clusters and the twin without deleting them in a
dry run, leaves a run active within --min-age alone, then removes everything of the run, and never touches an
object that only looks like the run's (its name, but not its label or tag). The run's own teardown does the same
for what its finalizers left."""
from __future__ import annotations

import pytest

from proxqa.config import load_settings
from proxqa.janitor import sweep_run
from proxqa.kube.client import KubeClient
from proxqa.waits import Deadline
from tests.safety.run_marks import clusters, janitor, pve, running_suite, target_env, what_remains

RUN = "janitor-lab"
LOOKALIKE = f"qa-{RUN}-w0-lookalike"
TASK = Deadline(60)


@pytest.fixture
def lookalikes(canary_lab):
    """Objects named like the run's, without its label or tag: a namespace with a ConfigMap in the management
    cluster, a VM (cloned as CAPMOX would) on the twin. Removed in teardown."""
    mgmt: KubeClient = clusters(canary_lab.settings)[0].kube
    actor, reader = pve(canary_lab.settings, "capmox"), pve(canary_lab.settings)
    mgmt.create({"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": LOOKALIKE, "labels": {"app.kubernetes.io/part-of": "proxqa"}}})
    mgmt.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": LOOKALIKE, "namespace": LOOKALIKE}})
    template = next(vm for vm in reader.vm_resources() if vm.template)
    vmid = int(reader.get("cluster/nextid"))
    upid = actor.post(f"nodes/{template.node}/qemu/{template.vmid}/clone", newid=vmid, name=LOOKALIKE, full=1)
    actor.wait_task(template.node, str(upid), f"clone of {LOOKALIKE}", TASK)
    actor.wait_task(template.node, str(actor.post(f"nodes/{template.node}/qemu/{vmid}/config", tags="qa-team")),
                    f"tagging {LOOKALIKE}", TASK)
    yield mgmt, reader, vmid
    mgmt.delete("v1", "Namespace", LOOKALIKE)
    if vmid in {vm.vmid for vm in reader.vm_resources()}:
        actor.wait_task(template.node, actor.destroy_vm(template.node, vmid), "removal of the lookalike VM",
                        TASK)


def _without_lookalikes(found: list[str]) -> list[str]:
    return sorted(line for line in found if LOOKALIKE not in line)


def test_janitor_removes_what_a_run_left_and_nothing_without_its_marks(canary_lab, lookalikes, tmp_path):
    settings = canary_lab.settings
    # A run that keeps what it made stands for a killed one: test VM chains (stage 3), and a worker with pods in the
    # tenant cluster it joined (stage 4).
    with running_suite({**settings, "KEEP_TEST_RESOURCES": "true"}, tmp_path, RUN, "--stage", "3,4") as suite:
        suite.wait(timeout=600)
    left = _without_lookalikes(what_remains(settings, RUN))
    for expected in ("management cluster: Cluster ", "management cluster: Namespace proxqa",
                     "tenant cluster: Pod ", "Proxmox: VM "):
        assert any(line.startswith(expected) for line in left), (expected, left,
                                                                 (tmp_path / f"{RUN}.log").read_text()[-3000:])

    dry = janitor(settings, "--run", RUN, "--min-age", "0", "--dry-run", "--reports-dir", str(tmp_path))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing deleted" in dry.stdout and f"lists {len(_ledger(tmp_path))} object(s)" in dry.stdout
    assert "Proxmox: VM " in dry.stdout and "with ISO local:iso/user-data-" in dry.stdout, dry.stdout
    assert _without_lookalikes(what_remains(settings, RUN)) == left

    young = janitor(settings, "--run", RUN, "--reports-dir", str(tmp_path))      # default --min-age 1h
    assert young.returncode == 0 and "left alone, active more recently than --min-age" in young.stdout, young.stdout
    assert _without_lookalikes(what_remains(settings, RUN)) == left

    done = janitor(settings, "--run", RUN, "--min-age", "0", "--reports-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _without_lookalikes(what_remains(settings, RUN)) == []
    mgmt, reader, vmid = lookalikes
    assert mgmt.get("v1", "ConfigMap", LOOKALIKE, LOOKALIKE) is not None, "the janitor deleted an unlabelled object"
    assert vmid in {vm.vmid for vm in reader.vm_resources()}, "the janitor destroyed an untagged VM"


def _ledger(reports) -> list[str]:
    return (reports / RUN / "ledger.jsonl").read_text().splitlines()



def test_the_runs_teardown_describes_then_removes_what_its_finalizers_left(canary_lab, tmp_path):
    """What a run's finalizers left (here: kept on purpose) is written to leftovers.txt, then deleted and waited for
    by the run's teardown."""
    run = "teardown-lab"
    with running_suite({**canary_lab.settings, "KEEP_TEST_RESOURCES": "true"}, tmp_path, run, "--stage", "3") as suite:
        suite.wait(timeout=600)
    left = what_remains(canary_lab.settings, run)
    assert any(line.startswith("Proxmox: VM ") for line in left), left
    settings = load_settings(cli={}, environ=target_env(canary_lab.settings), profile=None)
    said = []
    assert sweep_run(settings, run, tmp_path / run, out=said.append) == []
    described = (tmp_path / run / "leftovers.txt").read_text()
    assert all(line.split(": ", 1)[1].split(" (")[0] in described for line in left), (left, described)
    assert f"after the finalizers, {len(left)} object(s) of run {run} remain" in said[0]
    assert what_remains(canary_lab.settings, run) == []
    assert not any(secret in described for secret in settings.secrets())


def test_janitor_removes_the_backup_drills_vms_and_backups(canary_lab, tmp_path):
    """S8.7's test VM, its restored copy and its vzdump backup (found by the run tag leading its notes) are removed."""
    run = "backup-lab"
    with running_suite({**canary_lab.settings, "KEEP_TEST_RESOURCES": "true"}, tmp_path, run, "--stage", "8", "-k",
                       "s8_7") as suite:
        suite.wait(timeout=600)
    left = what_remains(canary_lab.settings, run)
    assert sum(line.startswith("Proxmox: VM ") for line in left) == 2, left
    assert any(line.startswith("Proxmox: volume ") and ":backup/vzdump-qemu-" in line for line in left), left
    done = janitor(canary_lab.settings, "--run", run, "--min-age", "0", "--reports-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert what_remains(canary_lab.settings, run) == []
