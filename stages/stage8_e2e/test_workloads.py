"""Workloads: nginx, redis and postgres as StatefulSets with a volume on the Proxmox storage class in the tenant
cluster; what a Job wrote into each volume is still there after the workload's pod was replaced."""
import base64
import secrets
from dataclasses import dataclass

import pytest

from proxqa.kube import manifests
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.storage_classes import proxmox_storage_class
from proxqa.kube.workspace import is_ready, pod_summary, stuck
from proxqa.waits import Deadline

from .conftest import WORKERS, tenant_kube, wait_workers

MARKER = "proxqa-marker"
PASSWORD_KEY = "password"


@dataclass(frozen=True)
class Workload:
    name: str
    image: str
    mount_path: str
    port: int


WORKLOADS = (Workload("nginx", "nginx:1.27", "/usr/share/nginx/html", 80),
             Workload("redis", "redis:7.4", "/data", 6379),
             Workload("postgres", "postgres:17", "/var/lib/postgresql/data", 5432))


def _env(workload: Workload, password_secret: str) -> list[dict] | None:
    """postgres needs a password (from the run's Secret) and, on a volume whose root holds lost+found, a PGDATA
    below the mount point, as the image's documentation advises."""
    if workload.name != "postgres":
        return None
    return [{"name": "POSTGRES_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": password_secret, "key": PASSWORD_KEY}}},
            {"name": "PGDATA", "value": f"{workload.mount_path}/pgdata"}]


def _state(kube: KubeClient, namespace: str, workload: str) -> str:
    """"workload: pod summary; claim phase, last event" for a failure message."""
    pod = kube.get("v1", "Pod", f"{workload}-0", namespace)
    claim = kube.get("v1", "PersistentVolumeClaim", f"data-{workload}-0", namespace)
    if claim is None:
        claim_text = "claim not created"
    else:
        events = kube.events_of(claim)
        warnings = [event for event in events if event.type == "Warning"]
        shown = f"last warning {warnings[-1]}" if warnings else f"last event {events[-1]}" if events else "no events"
        claim_text = f"claim {(claim.get('status') or {}).get('phase', 'no phase')}, {shown}"
    return f"{workload}: {pod_summary(pod) if pod else 'no pod yet'}; {claim_text}"


def _wait_ready(kube: KubeClient, namespace: str, names: list[str], deadline: Deadline, what: str) -> dict:
    """The pods <name>-0 once all are Ready; stops at once when a container is stuck (image pull, crash loop)."""
    def pods() -> dict:
        return {name: kube.get("v1", "Pod", f"{name}-0", namespace) for name in names}

    return wait_watching([Watched(kube, "v1", "Pod", namespace)], what, pods,
                         done=lambda found: all(is_ready(pod) for pod in found.values()),
                         failed=lambda found: "; ".join(f"{name}: {reason}" for name, pod in found.items()
                                                        if pod and (reason := stuck(pod))) or None,
                         deadline=deadline,
                         show=lambda found: " | ".join(_state(kube, namespace, name) for name in found))


@pytest.mark.check("S8.3")
def test_s8_3_stateful_workloads_run_and_keep_their_data(mgmt_kube, tenant_cluster, make_workspace, settings, names,
                                                         deadline):
    """nginx, redis and postgres StatefulSets (1 replica, volumeClaimTemplate ReadWriteOnce on the Proxmox class)
    are Ready within the E2E timeout; a Job on the pod's node writes a marker into each volume, the pod is deleted,
    and once its replacement is Ready on the same claim a second Job reads the marker back."""
    wait_workers(mgmt_kube, tenant_cluster, WORKERS, deadline("kubernetes-ready"))
    tenant = tenant_kube(mgmt_kube, tenant_cluster)
    try:
        storage_class = proxmox_storage_class(tenant, settings.test.storage_class)["metadata"]["name"]
    except LookupError as err:
        pytest.fail(str(err))
    space = make_workspace(tenant)
    namespace = space.namespace("workloads")
    password_secret = names.new("postgres")
    password = base64.b64encode(secrets.token_urlsafe(24).encode()).decode()
    space.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {PASSWORD_KEY: password},
                  "metadata": {"name": password_secret, "namespace": namespace}})
    for workload in WORKLOADS:
        space.create(manifests.stateful_set(
            workload.name, namespace, workload.image, storage_class=storage_class, size=settings.perf.volume_size,
            mount_path=workload.mount_path, port=workload.port, env=_env(workload, password_secret)))
    workloads = [workload.name for workload in WORKLOADS]
    pods = _wait_ready(tenant, namespace, workloads, deadline("workloads-ready"),
                       f"StatefulSets {', '.join(workloads)} Ready in the tenant cluster (class {storage_class})")

    for name, pod in pods.items():
        claim, token = f"data-{name}-0", secrets.token_hex(8)

        def probe(script: str, node: str):
            # DAC_OVERRIDE: the images hand their data directory to their own user (redis, postgres)
            job = manifests.probe_job(names.new(f"{name}-data"), namespace, settings.test.probe_image, script,
                                      node=node, claims={claim: "/data"}, capabilities=("DAC_OVERRIDE",))
            return space.run_probe(job, deadline("pod-running"))

        written = probe(f"echo {token} > /data/{MARKER} && cat /data/{MARKER}", pod["spec"]["nodeName"])
        assert written.succeeded and written.log == token, (
            f"{name}: writing /data/{MARKER} on {claim} failed: {written.log!r} ({_state(tenant, namespace, name)})")
        tenant.delete("v1", "Pod", f"{name}-0", namespace)
        replaced = wait_watching(
            [Watched(tenant, "v1", "Pod", namespace, f"{name}-0")],
            f"{name}-0 replaced by a new Ready pod on claim {claim}",
            lambda: tenant.get("v1", "Pod", f"{name}-0", namespace),
            done=lambda found: is_ready(found) and found["metadata"]["uid"] != pod["metadata"]["uid"],
            failed=lambda found: stuck(found) if found else None, deadline=deadline("workloads-ready"),
            show=lambda _found: _state(tenant, namespace, name))
        read = probe(f"cat /data/{MARKER}", replaced["spec"]["nodeName"])
        assert read.succeeded and read.log == token, (
            f"{name}: the marker written to {claim} before the pod restart is gone: the Job read {read.log!r}, "
            f"not {token!r} ({_state(tenant, namespace, name)})")
