"""The pods and probe Jobs the stages run: plain manifests, built from settings, that work on any cluster."""
from __future__ import annotations

RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod(name: str, namespace: str, image: str, *, labels: dict[str, str] | None = None, node: str | None = None,
        command: list[str] | None = None, ports: tuple[int, ...] = (), requests: dict[str, str] | None = None,
        claims: dict[str, str] | None = None, capabilities: tuple[str, ...] = ()) -> dict:
    """A pod of one container; node pins it (nodeSelector on the hostname label); claims maps PVC name -> mount path;
    capabilities are given back on top of the restricted security context (all dropped)."""
    security = {**RESTRICTED, "capabilities": {"drop": ["ALL"], **({"add": list(capabilities)} if capabilities else {})}}
    container: dict = {"name": "main", "image": image, "securityContext": security,
                       "ports": [{"containerPort": port, "protocol": "TCP"} for port in ports]}
    if command:
        container["command"] = command
    if requests:
        container["resources"] = {"requests": requests}
    spec: dict = {"containers": [container], "restartPolicy": "Always", "terminationGracePeriodSeconds": 1}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    if claims:
        container["volumeMounts"] = [{"name": f"v{i}", "mountPath": path} for i, path in enumerate(claims.values())]
        spec["volumes"] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": claim}}
                           for i, claim in enumerate(claims)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})}, "spec": spec}


def probe_job(name: str, namespace: str, image: str, script: str, *, labels: dict[str, str] | None = None,
              node: str | None = None, claims: dict[str, str] | None = None,
              capabilities: tuple[str, ...] = ()) -> dict:
    """A Job running `sh -c script` once (no retries): its exit status is the verdict, its log the evidence."""
    template = pod(name, namespace, image, labels=labels, node=node, command=["sh", "-c", script], claims=claims,
                   capabilities=capabilities)
    template["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": dict(labels or {})},
                                                     "spec": template["spec"]}}}


def claim(name: str, namespace: str, storage_class: str, size: str, *, access_mode: str = "ReadWriteOnce",
          source: dict | None = None) -> dict:
    """A PersistentVolumeClaim; source restores it from a VolumeSnapshot (dataSource)."""
    spec: dict = {"accessModes": [access_mode], "storageClassName": storage_class,
                  "resources": {"requests": {"storage": size}}}
    if source:
        spec["dataSource"] = source
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def service(name: str, namespace: str, selector: dict[str, str], port: int, *, service_type: str = "ClusterIP") -> dict:
    """A Service forwarding TCP port to the same port of the selected pods."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": service_type, "selector": dict(selector),
                     "ports": [{"name": f"tcp-{port}", "port": port, "targetPort": port, "protocol": "TCP"}]}}


def stateful_set(name: str, namespace: str, image: str, *, storage_class: str, size: str, mount_path: str,
                 port: int, env: list[dict] | None = None) -> dict:
    """A StatefulSet of one replica running the image as it is (its own user and capabilities: nginx, redis and
    postgres set up their data directories as root), with volumeClaimTemplate `data` (ReadWriteOnce) at
    mount_path; its pod is `<name>-0`, its claim `data-<name>-0`."""
    labels = {"app.kubernetes.io/name": name}
    container: dict = {"name": "main", "image": image, "ports": [{"containerPort": port, "protocol": "TCP"}],
                       "volumeMounts": [{"name": "data", "mountPath": mount_path}]}
    if env:
        container["env"] = env
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [container], "terminationGracePeriodSeconds": 10}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": claim("data", namespace, storage_class, size)["spec"]}]}}
