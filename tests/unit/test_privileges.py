"""The least-privilege table and how held privileges propagate."""
from proxqa.pve import privileges
from proxqa.pve.privileges import Placement

PLACE = Placement(bridge="vmbr7", template_vmid=9100, disk_storage="ceph-vm", iso_storage="cephfs",
                  vm_pool=None, pve_major=9)


def test_capmox_needs_the_table_rows_at_the_placement_paths():
    needs = privileges.required("capmox", PLACE)
    assert set(needs) == {"/", "/nodes", "/vms", "/sdn/zones/localnetwork/vmbr7", "/vms/9100", "/storage/cephfs",
                          "/storage/ceph-vm"}
    assert "VM.GuestAgent.Audit" in needs["/vms"]
    assert needs["/storage/ceph-vm"] == ("Datastore.AllocateSpace",)


def test_pve8_capmox_needs_no_guest_agent_audit_and_a_pool_replaces_vms():
    needs = privileges.required("capmox", Placement("vmbr0", None, None, None, "capi", pve_major=8))
    assert "VM.GuestAgent.Audit" not in needs["/pool/capi"]
    assert "/vms" not in needs and "/vms/None" not in needs


def test_privileges_on_a_parent_path_count_below_it():
    held = {"/storage": {"Datastore.AllocateSpace"}, "/vms/100": {"VM.Audit"}}
    assert privileges.holds(held, "/storage/local-lvm", "Datastore.AllocateSpace")
    assert not privileges.holds(held, "/storage-other", "Datastore.AllocateSpace")
    assert not privileges.holds(held, "/vms", "VM.Audit")


def test_missing_lists_privilege_and_path():
    held = {"/": {"VM.Audit", "Sys.Audit", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"}}
    assert privileges.missing(held, privileges.required("csi", PLACE)) == ["VM.Config.Disk on /"]


def test_excess_power_and_root_are_named():
    held = {"/": {"Sys.Modify", "VM.Audit"}, "/access": {"Permissions.Modify"}}
    assert privileges.excess("root@pam!capi", held) == [
        "identity is root@pam", "Sys.Modify on /", "Permissions.Modify on /access"]
    assert privileges.excess("csi@pve!csi", {"/": {"VM.Audit"}}) == []
