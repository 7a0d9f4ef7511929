"""Least-privilege requirements of the integration's Proxmox identities (STAGES.md, S1.9)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CAPMOX_VM_PRIVILEGES = ("VM.Allocate", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Disk",
                        "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options",
                        "VM.PowerMgmt", "VM.Audit")
EXCESS_PRIVILEGES = ("Permissions.Modify", "Sys.Modify")


@dataclass(frozen=True)
class Placement:
    """Where the integration's objects live on this cluster (from settings and discovery)."""
    bridge: str
    template_vmid: int | None
    disk_storage: str | None
    iso_storage: str | None
    vm_pool: str | None
    pve_major: int


def required(identity: str, at: Placement) -> dict[str, tuple[str, ...]]:
    """Path -> privileges the identity ("capmox", "csi", "ccm") needs."""
    if identity == "csi":
        return {"/": ("VM.Audit", "VM.Config.Disk", "Datastore.Allocate", "Datastore.AllocateSpace",
                      "Datastore.Audit")}
    if identity == "ccm":
        return {"/": ("VM.Audit", "VM.GuestAgent.Audit", "Sys.Audit")}
    if identity != "capmox":
        raise ValueError(f"unknown identity {identity!r}; known: capmox, csi, ccm")
    vm_privileges = CAPMOX_VM_PRIVILEGES + (("VM.GuestAgent.Audit",) if at.pve_major >= 9 else ())
    needs: dict[str, tuple[str, ...]] = {"/": ("Sys.Audit",), "/nodes": ("Sys.Audit",),
                                         f"/pool/{at.vm_pool}" if at.vm_pool else "/vms": vm_privileges,
                                         f"/sdn/zones/localnetwork/{at.bridge}": ("SDN.Use",)}
    if at.template_vmid is not None:
        needs[f"/vms/{at.template_vmid}"] = ("VM.Clone", "VM.Audit")
    if at.iso_storage:
        needs[f"/storage/{at.iso_storage}"] = ("Datastore.Allocate", "Datastore.AllocateSpace",
                                               "Datastore.AllocateTemplate", "Datastore.Audit")
    if at.disk_storage:
        needs.setdefault(f"/storage/{at.disk_storage}", ())
        needs[f"/storage/{at.disk_storage}"] += ("Datastore.AllocateSpace",)
    return needs


def holds(held: Mapping[str, set[str]], path: str, privilege: str) -> bool:
    """True when privilege is held on path or on a parent path (ACLs propagate down the tree)."""
    return any(privilege in privs and (granted == "/" or path == granted or path.startswith(granted + "/"))
               for granted, privs in held.items())


def missing(held: Mapping[str, set[str]], needs: Mapping[str, tuple[str, ...]]) -> list[str]:
    """"privilege on path" for every requirement not held, in table order."""
    return [f"{privilege} on {path}" for path, privileges in needs.items() for privilege in privileges
            if not holds(held, path, privilege)]


def excess(userid: str, held: Mapping[str, set[str]]) -> list[str]:
    """Powers beyond what the integration needs, for a warning."""
    found = [f"{p} on {path}" for path, privs in held.items() for p in EXCESS_PRIVILEGES if p in privs]
    return ([f"identity is {userid.split('!')[0]}"] if userid.split("!")[0] == "root@pam" else []) + found
