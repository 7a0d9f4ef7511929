"""Volumes: provisioned on the Proxmox storage within the SLA, attached, holding data, growing, and removed."""
import secrets

import pytest

from proxqa.kube import manifests
from proxqa.kube.quantities import byte_count
from proxqa.kube.storage_classes import DRIVER
from proxqa.kube.watching import Watched, wait_watching

from .conftest import await_disk_gone, bound_volume, claim_phase, vm_of_node

GiB = 1024 ** 3


@pytest.fixture
def space(make_workspace, mgmt_kube):
    return make_workspace(mgmt_kube)


@pytest.mark.check("S5.3")
def test_s5_3_volume_provisioned_within_sla(mgmt_kube, space, settings, storage_class, deadline, names, pve,
                                            volume_reader, sla):
    """A claim with a consuming pod is Bound within the SLA after the pod is scheduled; the disk is in the storage's
    content on the Proxmox side and attached to the node's VM while mounted."""
    volume = bound_volume(mgmt_kube, space, settings, storage_class, deadline, names)
    wanted = (storage_class.get("parameters") or {}).get("storage")
    problems = []
    if volume.storage != wanted:
        problems.append(f"volume handle names storage {volume.storage}, the StorageClass says {wanted}")
    if volume.volid not in volume_reader.storage_volumes(volume.zone, volume.storage, "images"):
        problems.append(f"disk {volume.volid} is not in the content of {volume.storage} on {volume.zone}")
    vm_node, vmid = vm_of_node(pve, mgmt_kube.get("v1", "Node", volume.node))
    drives = pve.vm_config(vm_node, vmid).values
    if not any(value.split(",")[0] == volume.volid for value in drives.values()):
        problems.append(f"disk {volume.volid} is not attached to VM {vmid} of node {volume.node}")
    assert not problems, f"claim {volume.claim}: " + "; ".join(problems)
    sla.expect("volume-provisioning", volume.phases["provisioned"], threshold="volume_provision",
               phases=volume.phases)


def _probe(space, settings, names, namespace, claim, script, deadline, node=None):
    job = manifests.probe_job(names.new("data"), namespace, settings.test.probe_image, script, node=node,
                              claims={claim: "/data"})
    return space.run_probe(job, deadline("pod-running"))


@pytest.mark.check("S5.4")
def test_s5_4_data_survives_a_pod_restart(mgmt_kube, space, settings, storage_class, names, deadline):
    """A pod writes a file and reads it back; a new pod on a fresh attach reads the same content."""
    namespace, claim = space.namespace("csi"), names.new("pvc")
    space.create(manifests.claim(claim, namespace, storage_class["metadata"]["name"], settings.perf.volume_size))
    token = secrets.token_hex(8)
    written = _probe(space, settings, names, namespace, claim, f"echo {token} > /data/proof && cat /data/proof",
                     deadline)
    assert written.succeeded and written.log == token, f"writing /data/proof on {claim} failed: {written.log!r}"
    node = mgmt_kube.list("v1", "Pod", namespace)[0]["spec"]["nodeName"]
    read = _probe(space, settings, names, namespace, claim, "cat /data/proof", deadline, node=node)
    assert read.succeeded and read.log == token, \
        f"data written to {claim} before the pod restart is gone: the new pod read {read.log!r}, not {token!r}"


@pytest.mark.check("S5.5")
def test_s5_5_expanded_claim_grows_the_proxmox_volume(mgmt_kube, space, settings, storage_class, deadline, names,
                                                      volume_reader):
    """Raising the claim's request grows status.capacity and the disk on the Proxmox storage."""
    volume = bound_volume(mgmt_kube, space, settings, storage_class, deadline, names)
    grown = byte_count(settings.perf.volume_size) + GiB
    mgmt_kube.patch("v1", "PersistentVolumeClaim", volume.claim,
                    {"spec": {"resources": {"requests": {"storage": str(grown)}}}}, volume.namespace)

    def capacity() -> int:
        pvc = claim_phase(mgmt_kube, volume.claim, volume.namespace)
        return byte_count(((pvc.get("status") or {}).get("capacity") or {}).get("storage", "0"))

    wait_watching([Watched(mgmt_kube, "v1", "PersistentVolumeClaim", volume.namespace, volume.claim),
                   Watched(mgmt_kube, "v1", "Event", volume.namespace)],
                  f"claim {volume.claim} capacity at least {grown} bytes", capacity, done=lambda size: size >= grown,
                  deadline=deadline("volume-resized"),
                  failed=lambda _: next((str(e) for e in mgmt_kube.events_of(claim_phase(mgmt_kube, volume.claim,
                                                                                           volume.namespace))
                                         if e.reason == "VolumeResizeFailed"), None),
                  show=lambda size: f"capacity {size} bytes")
    on_disk = volume_reader.storage_volumes(volume.zone, volume.storage, "images").get(volume.volid, 0)
    assert on_disk >= grown, f"claim {volume.claim} reports {grown} bytes, disk {volume.volid} has {on_disk}"


@pytest.mark.check("S5.6")
def test_s5_6_snapshot_restores_the_data(mgmt_kube, space, settings, storage_class, names, deadline):
    """A VolumeSnapshot of a written volume becomes readyToUse; a claim restored from it holds the data."""
    snapshot_class = settings.test.snapshot_class
    if not snapshot_class:
        pytest.skip("snapshots not configured (test.snapshot_class)")
    wanted = f"VolumeSnapshotClass {snapshot_class} (TEST_SNAPSHOT_CLASS)"
    assert "volumesnapshotclasses" in mgmt_kube.served_resources("snapshot.storage.k8s.io/v1"), \
        f"{wanted}: the cluster does not serve snapshot.storage.k8s.io/v1 (no snapshot CRDs and controller)"
    found = mgmt_kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass", snapshot_class)
    assert found is not None, f"{wanted} does not exist"
    assert found.get("driver") == DRIVER, f"{wanted} belongs to driver {found.get('driver')}, not {DRIVER}"
    namespace, claim = space.namespace("csi"), names.new("pvc")
    sc = storage_class["metadata"]["name"]
    space.create(manifests.claim(claim, namespace, sc, settings.perf.volume_size))
    token = secrets.token_hex(8)
    written = _probe(space, settings, names, namespace, claim, f"echo {token} > /data/proof", deadline)
    assert written.succeeded, f"writing to {claim} failed: {written.log!r}"
    snapshot = names.new("snap")
    space.create({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                  "metadata": {"name": snapshot, "namespace": namespace},
                  "spec": {"volumeSnapshotClassName": snapshot_class,
                           "source": {"persistentVolumeClaimName": claim}}})
    wait_watching([Watched(mgmt_kube, "snapshot.storage.k8s.io/v1", "VolumeSnapshot", namespace, snapshot)],
                  f"VolumeSnapshot {snapshot} readyToUse",
                  lambda: mgmt_kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", snapshot, namespace) or {},
                  done=lambda s: (s.get("status") or {}).get("readyToUse") is True, deadline=deadline("pvc-bound"),
                  failed=lambda s: ((s.get("status") or {}).get("error") or {}).get("message"),
                  show=lambda s: str((s.get("status") or {}) or "no status"))
    restored = names.new("restored")
    space.create(manifests.claim(restored, namespace, sc, settings.perf.volume_size, source={
        "apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot}))
    read = _probe(space, settings, names, namespace, restored, "cat /data/proof", deadline)
    assert read.succeeded and read.log == token, f"claim restored from {snapshot} reads {read.log!r}, not {token!r}"


@pytest.mark.check("S5.7")
def test_s5_7_read_write_many_claim_is_refused(mgmt_kube, space, settings, storage_class, names, deadline):
    """A ReadWriteMany claim, with a consumer, stays unbound and an event says why."""
    namespace, claim = space.namespace("csi"), names.new("rwx")
    space.create(manifests.claim(claim, namespace, storage_class["metadata"]["name"], settings.perf.volume_size,
                                 access_mode="ReadWriteMany"))
    space.create(manifests.pod(names.new("consumer"), namespace, settings.test.pod_image, claims={claim: "/data"}))

    def state() -> tuple[str, list[str]]:
        pvc = claim_phase(mgmt_kube, claim, namespace)
        return (pvc.get("status") or {}).get("phase", ""), mgmt_kube.events_of(pvc) if pvc else []

    wait_watching([Watched(mgmt_kube, "v1", "PersistentVolumeClaim", namespace, claim),
                   Watched(mgmt_kube, "v1", "Event", namespace)],
                  f"a ProvisioningFailed event on ReadWriteMany claim {claim}", state,
                  done=lambda s: any(e.reason == "ProvisioningFailed" for e in s[1]),
                  failed=lambda s: "the driver bound a ReadWriteMany volume, which a Proxmox disk cannot serve"
                  if s[0] == "Bound" else None,
                  deadline=deadline("pvc-bound"),
                  show=lambda s: f"{s[0] or 'no phase'}, events: {'; '.join(map(str, s[1])) or 'none'}")


@pytest.mark.check("S5.8")
def test_s5_8_deleted_claim_removes_the_disk(mgmt_kube, space, settings, storage_class, deadline, names,
                                             volume_reader):
    """Deleting the claim (reclaim policy Delete) removes the PV and the disk on the Proxmox side."""
    reclaim = storage_class.get("reclaimPolicy", "Delete")
    assert reclaim == "Delete", f"StorageClass {storage_class['metadata']['name']} keeps volumes (reclaimPolicy " \
                                f"{reclaim}); S5.8 needs Delete"
    volume = bound_volume(mgmt_kube, space, settings, storage_class, deadline, names)
    for pod in mgmt_kube.list("v1", "Pod", volume.namespace):
        space.remove("v1", "Pod", pod["metadata"]["name"], volume.namespace)
    space.remove("v1", "PersistentVolumeClaim", volume.claim, volume.namespace)
    wait_watching([Watched(mgmt_kube, "v1", "PersistentVolume", name=volume.pv)],
                  f"PersistentVolume {volume.pv} removed",
                  lambda: mgmt_kube.get("v1", "PersistentVolume", volume.pv), done=lambda pv: pv is None,
                  deadline=deadline("delete"), show=lambda pv: f"phase {(pv.get('status') or {}).get('phase')}")
    await_disk_gone(volume_reader, volume, deadline("delete"))
