"""Helpers of the janitor and leak tests: the suite and the janitor run against a lab as a user runs them, and what
of a run the lab's two clusters and Proxmox twin still hold."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proxqa.kube.client import KubeClient
from proxqa.leftovers import ClusterLeftovers, run_backups, run_vms, run_volumes
from proxqa.naming import label_value
from proxqa.pve.client import PveClient
from proxqa.pve.connection import Endpoint, Identity
from tests.faults.conftest import REPO, TARGET_PREFIXES

CLUSTERS = {"management cluster": "KUBECONFIG", "tenant cluster": "LAB_TENANT_KUBECONFIG"}
CLOUD_INIT_ISO = re.compile(r":iso/user-data-(\d+)\.iso$")


def target_env(lab_settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without its own target settings, pointed at the lab as a live target."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(TARGET_PREFIXES)}, **lab_settings}


@contextmanager
def running_suite(lab_settings: dict[str, str], reports: Path, run_id: str, *args: str) -> Iterator[subprocess.Popen]:
    """`pytest stages/ ARGS` against the lab, its output in reports/<run_id>.log; killed if still running at the
    end of the block."""
    with (reports / f"{run_id}.log").open("w") as log:
        suite = subprocess.Popen([sys.executable, "-m", "pytest", "stages/", "-q", "-p", "no:cacheprovider",
                                  "--run-id", run_id, "--reports-dir", str(reports), *args], cwd=REPO,
                                 env=target_env(lab_settings), stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            yield suite
        finally:
            if suite.poll() is None:
                suite.kill()
                suite.wait()


def janitor(lab_settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxqa", "janitor", *args], cwd=REPO,
                          env=target_env(lab_settings), capture_output=True, text=True, timeout=600)


def pve(lab_settings: dict[str, str], role: str = "suite") -> PveClient:
    """The twin as the suite's token (reads), CAPMOX's (acts) or another role's (backup: the drill's backups)."""
    prefix = "PROXMOX_" if role == "suite" else f"PROXMOX_{role.upper()}_"
    endpoint = Endpoint(lab_settings["PROXMOX_HOST"], int(lab_settings["PROXMOX_PORT"]),
                        lab_settings["PROXMOX_CA_BUNDLE"], 5, 30)
    return PveClient(endpoint, Identity(role, lab_settings[prefix + "TOKEN_ID"], lab_settings[prefix + "TOKEN_SECRET"]))


def clusters(lab_settings: dict[str, str]) -> list[ClusterLeftovers]:
    return [ClusterLeftovers(KubeClient(Path(lab_settings[env]), name)) for name, env in CLUSTERS.items()]


def what_remains(lab_settings: dict[str, str], run_id: str) -> list[str]:
    """Everything of the run on both clusters (its label, any kind) and on the twin (its tag or name, volumes named
    after it, backups noted with its tag), and any cloud-init ISO whose VM is gone."""
    run, reader = label_value(run_id), pve(lab_settings)
    found = [f"{cluster.name}: {obj}" for cluster in clusters(lab_settings) for obj in cluster.labelled(run)]
    tagged = run_vms(reader, run)
    found += [f"Proxmox: {vm}" for vm in tagged]
    volumes = run_volumes(reader, run) + run_backups(pve(lab_settings, "backup"), run)    # only its owner sees a backup
    found += [f"Proxmox: {volume}" for volume in volumes]
    vms = reader.vm_resources()
    found += [f"Proxmox: VM {vm.vmid} {vm.name} (named after the run, no tag)" for vm in vms
              if vm.name.startswith((f"qa-{run}-", f"kubernetes-qa-{run}-"))
              and vm.vmid not in {vm.vmid for vm in tagged}]
    return found + orphan_isos(reader, {vm.vmid for vm in vms})


def orphan_isos(reader: PveClient, vmids: set[int]) -> list[str]:
    """CAPMOX's cloud-init ISOs (user-data-<vmid>.iso) of VMs that no longer exist."""
    found = set()
    for node in (n.name for n in reader.nodes() if n.status == "online"):
        for storage in (s for s in reader.storages(node) if s.active and "iso" in s.content):
            found |= {volid for volid in reader.storage_volumes(node, storage.name, "iso")
                      if (match := CLOUD_INIT_ISO.search(volid)) and int(match[1]) not in vmids}
    return [f"Proxmox: orphan cloud-init ISO {volid}" for volid in sorted(found)]
