"""Nothing left behind: once the stage's objects are deleted, neither cluster nor Proxmox holds anything of the
run."""
from __future__ import annotations

import pytest

from proxqa import cozystack
from proxqa.kube.client import KubeClient
from proxqa.leftovers import ClusterLeftovers, run_backups, run_vms, run_volumes
from proxqa.naming import CLUSTER_PREFIX, Names
from proxqa.pve.client import PveClient

from .conftest import Stage


def labelled_leftovers(kube: KubeClient, names: Names, working_namespace: str) -> list[str]:
    """"Kind namespace/name" of every object, of any kind the cluster serves, with the labels of the run and of
    this worker (other workers of a parallel run may still be busy with theirs; the suite's working namespace itself
    stays until the session ends), HelmReleases made for such apps included."""
    return [str(obj) for obj in ClusterLeftovers(kube).labelled(names.label_value, names.worker)
            if not (obj.kind == "Namespace" and obj.name == working_namespace)]


def proxmox_leftovers(pve: PveClient, names: Names, stage: Stage) -> list[str]:
    """VMs with this run's and worker's tag (CAPMOX tags a VM with its cluster's name: qa-<run>-... for test VMs,
    kubernetes-qa-<run>-... for tenant workers) or name, volumes named after it, and the stage's worker VMs and their
    cloud-init ISOs."""
    tagged = run_vms(pve, names.label_value, names.worker)
    found = [str(vm) for vm in tagged] + [str(volume) for volume in run_volumes(pve, names.label_value, names.worker)]
    prefixes = (names.prefix, CLUSTER_PREFIX + names.prefix)
    untagged = {vm.vmid: vm for vm in pve.vm_resources() if vm.vmid not in {tagged.vmid for tagged in tagged}}
    found += [f"VM {vm.vmid} {vm.name} on {vm.node}" for vm in untagged.values() if vm.name.startswith(prefixes)]
    found += [f"VM {worker.vmid} on {untagged[worker.vmid].node}" for worker in stage.worker_vms
              if worker.vmid in untagged and not untagged[worker.vmid].name.startswith(prefixes)]
    for worker in stage.worker_vms:
        found += [f"ISO {volid} on {worker.node}" for volid in worker.isos
                  if volid in pve.storage_volumes(worker.node, volid.split(":", 1)[0], "iso")]
    return found


@pytest.mark.check("S8.10")
def test_s8_10_nothing_left_behind(settings, stage, mgmt_kube, pve, backup_pve, names):
    """After the stage's Kubernetes app and Tenant are deleted (and waited for), no object of the run remains in
    the management cluster, the stage's tenant namespaces are gone, and Proxmox holds no VM, volume or backup of the
    run and none of the stage's worker VMs or their cloud-init ISOs."""
    if settings.keep_test_resources:
        pytest.skip("KEEP_TEST_RESOURCES is set: the run keeps what it made")
    stage.tear_down()
    left = labelled_leftovers(mgmt_kube, names, settings.test.namespace)
    left += [f"Namespace {cozystack.tenant_namespace(name)}" for name in stage.tenants
             if mgmt_kube.get("v1", "Namespace", cozystack.tenant_namespace(name)) is not None]
    left += proxmox_leftovers(pve, names, stage)
    if backup_pve is not None:      # only the backup drill's identity may see its backups
        left += [str(backup) for backup in run_backups(backup_pve, names.label_value, names.worker)]
    assert not left, f"after the stage, {len(left)} object(s) of run {names.label_value} remain: {'; '.join(left)}"
