"""The Proxmox client: one method per API call, typed records out, PveError/PveUnreachable on failure."""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import proxmoxer
import requests

from proxqa.config import ProxmoxSettings
from proxqa.pve.connection import Endpoint, Identity
from proxqa.pve.errors import PveError, PveUnreachable, redact
from proxqa.pve.records import (ClusterStatus, NetworkInterface, NodeInfo, NodeStatus, PveVersion, RrdPoint,
                                SdnVnet, SdnZone, StorageStatus, VmConfig, VmResource)
from proxqa.waits import Deadline, wait_for

T = TypeVar("T")
TRANSIENT_STATUS = (429, 502, 503, 504)


def pve_call(call: Callable[[], T], *, method: str, path: str, secrets: Iterable[str] = (), retries: int = 2,
             pause: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run one proxmoxer call; retry transient failures a bounded number of times; translate errors."""
    secrets = tuple(secrets)
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            return call()
        except proxmoxer.ResourceException as exc:
            if exc.status_code not in TRANSIENT_STATUS or last:
                message = redact(f"{exc.content}" + (f" {exc.errors}" if exc.errors else ""), secrets)
                raise PveError(method, path, exc.status_code, message) from None
        except proxmoxer.AuthenticationError as exc:
            raise PveError(method, path, 401, redact(str(exc), secrets)) from None
        except requests.exceptions.SSLError as exc:
            raise PveUnreachable(f"Proxmox {method} {path}: TLS failure: {redact(str(exc), secrets)}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            if last:
                raise PveUnreachable(f"Proxmox {method} {path}: unreachable: {redact(str(exc), secrets)}") from None
        sleep(pause * (2 ** attempt))
    raise AssertionError("unreachable")  # the loop always returns or raises


def endpoint_of(px: ProxmoxSettings) -> Endpoint:
    """The API endpoint the `proxmox.*` settings name (host "" when none is set)."""
    verify: bool | str = str(px.ca_bundle) if px.verify_ssl and px.ca_bundle else px.verify_ssl
    return Endpoint(px.host or "", px.port, verify, px.connect_timeout, px.request_timeout)


def suite_identity(px: ProxmoxSettings, *, token: bool) -> Identity | None:
    """The suite's own API token (token=True) or password login, when the settings name it."""
    user, secret = (px.token_id, px.token_secret) if token else (px.username, px.password)
    return Identity("suite", user, secret.get_secret_value()) if user and secret else None


def integration_identity(px: ProxmoxSettings, role: str) -> Identity | None:
    """An integration's own token (capmox, csi, ccm, backup), when the settings name it."""
    configured = getattr(px.identities, role)
    return None if configured is None else Identity(role, configured.token_id,
                                                    configured.token_secret.get_secret_value())


def _flag(value: Any) -> bool:
    return str(value) in ("1", "True", "true")


class PveClient:
    """Proxmox VE API as one identity (password login or API token)."""

    def __init__(self, endpoint: Endpoint, identity: Identity):
        self.endpoint, self.identity = endpoint, identity
        self._secrets = (identity.secret,)
        self._api: proxmoxer.ProxmoxAPI | None = None

    def __repr__(self) -> str:
        return f"PveClient({self.endpoint.api_url} as {self.identity.userid})"

    def _connect(self) -> proxmoxer.ProxmoxAPI:
        login = ({"user": self.identity.user, "token_name": self.identity.token_name,
                  "token_value": self.identity.secret} if self.identity.is_token
                 else {"user": self.identity.userid, "password": self.identity.secret})
        return proxmoxer.ProxmoxAPI(self.endpoint.host, port=self.endpoint.port, verify_ssl=self.endpoint.verify,
                                    timeout=self.endpoint.timeouts, **login)

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path such as "nodes/pve1/status"; the data member of the answer."""
        def call() -> Any:
            if self._api is None:
                self._api = self._connect()
            return self._api(path).get(**params)
        return pve_call(call, method="GET", path="/" + path, secrets=self._secrets)

    def post(self, path: str, **params: Any) -> Any:
        """POST to an API path; the data member of the answer (a task's UPID for most actions)."""
        return self._act("POST", path, params)

    def delete(self, path: str, **params: Any) -> Any:
        """DELETE an API path; the data member of the answer (a task's UPID for most removals)."""
        return self._act("DELETE", path, params)

    def _act(self, method: str, path: str, params: dict[str, Any]) -> Any:
        """Never retried: an action whose answer was lost may have happened."""
        def call() -> Any:
            if self._api is None:
                self._api = self._connect()
            return getattr(self._api(path), method.lower())(**params)
        return pve_call(call, method=method, path="/" + path, secrets=self._secrets, retries=0)

    # ------------------------------------------------------------ cluster

    def version(self) -> PveVersion:
        raw = self.get("version")
        return PveVersion(version=str(raw.get("version", "")), release=str(raw.get("release", "")))

    def nodes(self) -> list[NodeInfo]:
        return [NodeInfo(n["node"], n.get("status", "unknown")) for n in self.get("nodes")]

    def cluster_status(self) -> ClusterStatus:
        rows = self.get("cluster/status")
        cluster = next((r for r in rows if r.get("type") == "cluster"), None)
        online = {r["name"]: _flag(r.get("online")) for r in rows if r.get("type") == "node"}
        return ClusterStatus(clustered=cluster is not None,
                             quorate=_flag(cluster.get("quorate")) if cluster else True, online=online)

    def vm_resources(self) -> list[VmResource]:
        return [vm for vm, _ in self.tagged_vms()]

    def tagged_vms(self) -> list[tuple[VmResource, frozenset[str]]]:
        """Every QEMU VM with its tags (PVE keeps them as one ';'-separated string)."""
        return [(VmResource(int(r["vmid"]), r.get("name", ""), r.get("node", ""), r.get("status", ""),
                            _flag(r.get("template"))),
                 frozenset(tag for tag in re.split(r"[;, ]+", str(r.get("tags") or "")) if tag))
                for r in self.get("cluster/resources", type="vm") if r.get("type") == "qemu"]

    def permissions(self) -> dict[str, set[str]]:
        """Path -> privileges this identity holds (GET /access/permissions)."""
        return {path: {p for p, on in privs.items() if _flag(on)}
                for path, privs in self.get("access/permissions").items()}

    # -------------------------------------------------------------- nodes

    def node_status(self, node: str) -> NodeStatus:
        raw = self.get(f"nodes/{node}/status")
        memory = raw.get("memory") or {}
        return NodeStatus(cpu_percent=100.0 * float(raw.get("cpu", 0)), memory_total=int(memory.get("total", 0)),
                          memory_used=int(memory.get("used", 0)))

    def network(self, node: str) -> list[NetworkInterface]:
        return [NetworkInterface(i["iface"], i.get("type", ""), _flag(i.get("active")),
                                 _flag(i.get("bridge_vlan_aware")))
                for i in self.get(f"nodes/{node}/network")]

    def rrd(self, node: str, timeframe: str = "hour") -> list[RrdPoint]:
        points = self.get(f"nodes/{node}/rrddata", timeframe=timeframe, cf="AVERAGE")
        return [RrdPoint(int(p["time"]), float(p.get("netin") or 0), float(p.get("netout") or 0))
                for p in points if "time" in p]

    def storages(self, node: str) -> list[StorageStatus]:
        return [StorageStatus(name=s["storage"], type=s.get("type", ""),
                              content=frozenset(c for c in str(s.get("content", "")).split(",") if c),
                              enabled=_flag(s.get("enabled", 1)), active=_flag(s.get("active")),
                              total=int(s.get("total") or 0), used=int(s.get("used") or 0),
                              avail=int(s.get("avail") or 0))
                for s in self.get(f"nodes/{node}/storage")]

    def vm_config(self, node: str, vmid: int) -> VmConfig:
        raw = self.get(f"nodes/{node}/qemu/{vmid}/config")
        return VmConfig(vmid, {k: str(v) for k, v in raw.items()})

    def stop_vm(self, node: str, vmid: int) -> str:
        """Stop the VM at once (as a power cut would); the task's UPID."""
        return str(self.post(f"nodes/{node}/qemu/{vmid}/status/stop"))

    def destroy_vm(self, node: str, vmid: int) -> str:
        """Destroy a stopped VM with all its disks, and drop it from backup jobs, replication and HA (purge);
        the task's UPID."""
        return str(self.delete(f"nodes/{node}/qemu/{vmid}", purge=1, **{"destroy-unreferenced-disks": 1}))

    def wait_task(self, node: str, upid: str, what: str, deadline: Deadline) -> None:
        """Wait until the task ended OK; stop at once when it ended otherwise."""
        wait_for(what, lambda: self.get(f"nodes/{node}/tasks/{upid}/status"),
                 done=lambda task: task.get("status") == "stopped" and task.get("exitstatus") == "OK",
                 failed=lambda task: (f"task ended {task.get('exitstatus')}"
                                      if task.get("status") == "stopped" and task.get("exitstatus") != "OK" else None),
                 deadline=deadline, show=lambda task: f"{task.get('status')} {task.get('exitstatus', '')}".rstrip())

    def delete_volume(self, node: str, storage: str, volid: str) -> str:
        """Delete a volume (an ISO image, a disk) from a storage; the task's UPID, "" when PVE ran no task."""
        return str(self.delete(f"nodes/{node}/storage/{storage}/content/{volid}") or "")

    def storage_volumes(self, node: str, storage: str, content: str) -> dict[str, int]:
        """Volume ID -> size in bytes, for one content type (iso, images, ...) on a storage of a node."""
        return {v["volid"]: int(v.get("size") or 0)
                for v in self.get(f"nodes/{node}/storage/{storage}/content", content=content)}

    def backup_notes(self, node: str, storage: str) -> dict[str, str]:
        """Volume ID -> notes of the backups on a storage of a node that this identity may see."""
        return {v["volid"]: str(v.get("notes") or "")
                for v in self.get(f"nodes/{node}/storage/{storage}/content", content="backup")}

    def guest_ipv4(self, node: str, vmid: int) -> str | None:
        """The first non-loopback IPv4 address the QEMU guest agent reports, or None."""
        raw = self.get(f"nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
        for iface in raw.get("result", []):
            for addr in iface.get("ip-addresses", []):
                if addr.get("ip-address-type") == "ipv4" and not addr.get("ip-address", "").startswith("127."):
                    return addr["ip-address"]
        return None

    # ---------------------------------------------------------------- SDN

    def sdn_zones(self) -> list[SdnZone]:
        return [SdnZone(z["zone"], z.get("type", ""), z.get("bridge")) for z in self.get("cluster/sdn/zones")]

    def sdn_vnets(self) -> list[SdnVnet]:
        return [SdnVnet(v["vnet"], v.get("zone", ""), int(v["tag"]) if v.get("tag") not in (None, "") else None)
                for v in self.get("cluster/sdn/vnets")]
