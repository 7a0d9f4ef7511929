"""A Kubernetes cluster as the suite reads it: typed records out, KubeError on failure, secrets never shown."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.watch import Watch

T = TypeVar("T")


class KubeError(AssertionError):
    """The Kubernetes API refused or failed a call: verb, kind, namespace/name, code and the Status reason."""

    def __init__(self, verb: str, kind: str, name: str, code: int, reason: str, message: str):
        self.verb, self.kind, self.name, self.code, self.reason = verb, kind, name, code, reason
        super().__init__(f"Kubernetes {verb} {kind} {name}: {code} {reason}: {message}".rstrip(": "))


class KubeUnreachable(AssertionError):
    """No answer from the Kubernetes API."""


def kube_call(call: Callable[[], T], *, verb: str, kind: str, name: str = "") -> T:
    try:
        return call()
    except ApiException as exc:
        reason, message = exc.reason or "", ""
        if exc.body:
            try:
                status = json.loads(exc.body)
                reason, message = status.get("reason", reason), status.get("message", "")
            except ValueError:
                message = str(exc.body)[:300]
        raise KubeError(verb, kind, name, exc.status or 0, reason, message) from None
    except urllib3.exceptions.HTTPError as exc:
        raise KubeUnreachable(f"Kubernetes {verb} {kind} {name}: unreachable: {exc}") from None


@dataclass(frozen=True)
class PodState:
    name: str
    phase: str
    ready: bool
    restarts: int
    waiting: str            # reason of a waiting container (ImagePullBackOff, CrashLoopBackOff), "" if none
    node: str


@dataclass(frozen=True)
class KubeEvent:
    type: str           # Normal or Warning
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass(frozen=True)
class DeploymentState:
    name: str
    replicas: int
    available: int
    conditions: dict[str, str]      # type -> status


def _pod_state(pod: Any) -> PodState:
    statuses = (pod.status.container_statuses or []) + (pod.status.init_container_statuses or [])
    waiting = next((s.state.waiting.reason for s in statuses if s.state and s.state.waiting), "") or ""
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    return PodState(pod.metadata.name, pod.status.phase or "", ready, sum(s.restart_count or 0 for s in statuses),
                    waiting, pod.spec.node_name or "")


class KubeClient:
    """One cluster (management or tenant), built from a kubeconfig file."""

    def __init__(self, kubeconfig: Path | str, name: str):
        """kubeconfig: a file, or the text of one (a workload cluster's kubeconfig read from its Secret stays in
        memory, never on disk)."""
        self.name = name
        if isinstance(kubeconfig, Path):
            self.api = config.new_client_from_config(config_file=str(kubeconfig))
        else:
            self.api = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self._dynamic: DynamicClient | None = None

    # ------------------------------------------------- any kind, as plain dicts (the dynamic client)

    def _resource(self, api_version: str, kind: str) -> Any:
        if self._dynamic is None:
            self._dynamic = kube_call(lambda: DynamicClient(self.api), verb="GET", kind="discovery")
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise KubeError("GET", kind, api_version, 404, "NotFound",
                            f"the server does not serve {kind} in {api_version}") from None

    def create(self, body: dict) -> dict:
        meta = body["metadata"]
        resource = self._resource(body["apiVersion"], body["kind"])
        return kube_call(lambda: resource.create(body=body, namespace=meta.get("namespace")).to_dict(),
                         verb="CREATE", kind=body["kind"], name=_shown(meta.get("namespace"), meta["name"]))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The object, or None when it does not exist."""
        resource = self._resource(api_version, kind)
        try:
            return kube_call(lambda: resource.get(name=name, namespace=namespace).to_dict(), verb="GET", kind=kind,
                             name=_shown(namespace, name))
        except KubeError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None, selector: str = "",
             field_selector: str = "") -> list[dict]:
        resource = self._resource(api_version, kind)
        raw = kube_call(lambda: resource.get(namespace=namespace, label_selector=selector or None,
                                             field_selector=field_selector or None).to_dict(),
                        verb="LIST", kind=kind, name=f"{namespace or 'all namespaces'} {selector}".strip())
        return raw.get("items") or []

    def resource_version(self, api_version: str, kind: str, namespace: str | None = None, selector: str = "") -> str:
        """The resourceVersion of the list now: a watch from it sees every later change. "" when the server gives
        none (an aggregated API may not): a watch from "" starts with the current objects."""
        resource = self._resource(api_version, kind)
        raw = kube_call(lambda: resource.get(namespace=namespace, label_selector=selector or None, limit=1).to_dict(),
                        verb="LIST", kind=kind, name=f"{namespace or 'all namespaces'} {selector}".strip())
        return (raw.get("metadata") or {}).get("resourceVersion") or ""

    def watch(self, api_version: str, kind: str, since: str, watcher: Watch, *, seconds: int,
              namespace: str | None = None, name: str = "", selector: str = "",
              fields: str = "") -> Iterator[tuple[str, dict]]:
        """(type, object) of each change after resourceVersion since (and BOOKMARKs), for at most seconds;
        watcher.stop() from another thread ends it at once."""
        resource = self._resource(api_version, kind)
        fields = ",".join(filter(None, (f"metadata.name={name}" if name else "", fields)))
        events = self._dynamic.watch(resource, namespace=namespace, label_selector=selector or None,
                                     field_selector=fields or None, resource_version=since or None, timeout=seconds,
                                     watcher=watcher, allow_watch_bookmarks=True)
        shown = _shown(namespace, name or selector or fields)
        while (event := kube_call(lambda: next(events, None), verb="WATCH", kind=kind, name=shown)) is not None:
            yield event["type"], event["raw_object"]

    def patch(self, api_version: str, kind: str, name: str, body: dict, namespace: str | None = None) -> dict:
        """A JSON merge patch."""
        resource = self._resource(api_version, kind)
        return kube_call(lambda: resource.patch(body=body, name=name, namespace=namespace,
                                                content_type="application/merge-patch+json").to_dict(),
                         verb="PATCH", kind=kind, name=_shown(namespace, name))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete (foreground for owners, so dependants go first); False when it was already gone."""
        resource = self._resource(api_version, kind)
        try:
            kube_call(lambda: resource.delete(name=name, namespace=namespace,
                                              body={"propagationPolicy": "Foreground"}),
                      verb="DELETE", kind=kind, name=_shown(namespace, name))
        except KubeError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def events_of(self, obj: dict) -> list[KubeEvent]:
        """The events about an object, oldest first."""
        meta = obj["metadata"]
        events = self.list("v1", "Event", meta.get("namespace"),
                           field_selector=f"involvedObject.name={meta['name']},involvedObject.kind={obj['kind']}")
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return [KubeEvent(e.get("type") or "Normal", e.get("reason") or "", e.get("message") or "") for e in events]

    def pod_log(self, namespace: str, name: str) -> str:
        return kube_call(lambda: self.core.read_namespaced_pod_log(name, namespace), verb="GET", kind="Pod log",
                         name=f"{namespace}/{name}")

    def __repr__(self) -> str:
        return f"KubeClient({self.name})"

    def served_resources(self, group_version: str) -> set[str]:
        """Plural resource names the API serves for a group/version; empty when the group/version is not served."""
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        def call() -> Any:
            request = self.api.param_serialize(method="GET", resource_path=path, auth_settings=["BearerToken"])
            response = self.api.call_api(*request)
            response.read()
            if response.status >= 400:
                raise ApiException(http_resp=response)
            return json.loads(response.data)
        try:
            found = kube_call(call, verb="GET", kind="APIResourceList", name=group_version)
        except KubeError as exc:
            if exc.code == 404:
                return set()
            raise
        return {r["name"] for r in found.get("resources", []) if "/" not in r["name"]}

    def deployment(self, namespace: str, name: str) -> DeploymentState:
        raw = kube_call(lambda: self.apps.read_namespaced_deployment(name, namespace), verb="GET",
                        kind="Deployment", name=f"{namespace}/{name}")
        return DeploymentState(name, raw.spec.replicas or 0, raw.status.available_replicas or 0,
                               {c.type: c.status for c in raw.status.conditions or []})

    def deployments(self, namespace: str, selector: str = "") -> list[DeploymentState]:
        raw = kube_call(lambda: self.apps.list_namespaced_deployment(namespace, label_selector=selector),
                        verb="LIST", kind="Deployment", name=f"{namespace} {selector}".strip())
        return [self.deployment(namespace, d.metadata.name) for d in raw.items]

    def pods(self, namespace: str, selector: str = "") -> list[PodState]:
        raw = kube_call(lambda: self.core.list_namespaced_pod(namespace, label_selector=selector), verb="LIST",
                        kind="Pod", name=f"{namespace} {selector}".strip())
        return [_pod_state(p) for p in raw.items]

    def custom_object(self, group: str, version: str, plural: str, name: str, namespace: str = "") -> dict:
        if namespace:
            call = lambda: self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)  # noqa: E731
        else:
            call = lambda: self.custom.get_cluster_custom_object(group, version, plural, name)  # noqa: E731
        return kube_call(call, verb="GET", kind=f"{plural}.{group}", name=f"{namespace}/{name}".lstrip("/"))

    def custom_objects(self, group: str, version: str, plural: str, namespace: str = "") -> list[dict]:
        """Custom objects in a namespace, or in every namespace when none is given."""
        if namespace:
            call = lambda: self.custom.list_namespaced_custom_object(group, version, namespace, plural)  # noqa: E731
        else:
            call = lambda: self.custom.list_cluster_custom_object(group, version, plural)  # noqa: E731
        return kube_call(call, verb="LIST", kind=f"{plural}.{group}", name=namespace or "(all namespaces)")["items"]

    def deployments_everywhere(self, selector: str) -> list[tuple[str, DeploymentState]]:
        """(namespace, deployment) for every Deployment matching the label selector, in any namespace."""
        raw = kube_call(lambda: self.apps.list_deployment_for_all_namespaces(label_selector=selector), verb="LIST",
                        kind="Deployment", name=selector)
        return [(d.metadata.namespace, self.deployment(d.metadata.namespace, d.metadata.name)) for d in raw.items]

    def dry_run_refusal(self, group: str, version: str, plural: str, namespace: str, body: dict) -> KubeError | None:
        """Submit an object with dryRun=All (admission and validating webhooks run, nothing is stored);
        the refusal, or None when the API would accept it."""
        try:
            kube_call(lambda: self.custom.create_namespaced_custom_object(group, version, namespace, plural, body,
                                                                          dry_run="All"),
                      verb="CREATE (dry run)", kind=f"{plural}.{group}",
                      name=f"{namespace}/{body['metadata'].get('name', '')}")
        except KubeError as refused:
            return refused
        return None

    def create_custom_object(self, group: str, version: str, plural: str, body: dict) -> dict:
        meta = body["metadata"]
        return kube_call(lambda: self.custom.create_namespaced_custom_object(group, version, meta["namespace"],
                                                                             plural, body),
                         verb="CREATE", kind=f"{plural}.{group}", name=f"{meta['namespace']}/{meta['name']}")

    def delete_custom_object(self, group: str, version: str, plural: str, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone (the only error ignored)."""
        try:
            kube_call(lambda: self.custom.delete_namespaced_custom_object(group, version, namespace, plural, name),
                      verb="DELETE", kind=f"{plural}.{group}", name=f"{namespace}/{name}")
        except KubeError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def patch_custom_object(self, group: str, version: str, plural: str, namespace: str, name: str,
                            patch: dict) -> dict:
        return kube_call(lambda: self.custom.patch_namespaced_custom_object(group, version, namespace, plural, name,
                                                                            patch),
                         verb="PATCH", kind=f"{plural}.{group}", name=f"{namespace}/{name}")

    def custom_objects_labelled(self, group: str, version: str, plural: str, namespace: str,
                                selector: str) -> list[dict]:
        raw = kube_call(lambda: self.custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                                          label_selector=selector),
                        verb="LIST", kind=f"{plural}.{group}", name=f"{namespace} {selector}")
        return raw["items"]

    def ensure_namespace(self, name: str, labels: dict[str, str]) -> bool:
        """Create the namespace if it does not exist; True when this call created it."""
        try:
            kube_call(lambda: self.core.read_namespace(name), verb="GET", kind="Namespace", name=name)
            return False
        except KubeError as exc:
            if exc.code != 404:
                raise
        kube_call(lambda: self.core.create_namespace({"metadata": {"name": name, "labels": labels}}),
                  verb="CREATE", kind="Namespace", name=name)
        return True

    def delete_namespace(self, name: str) -> None:
        kube_call(lambda: self.core.delete_namespace(name), verb="DELETE", kind="Namespace", name=name)

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """The decoded data of a Secret. Callers must never print the values."""
        raw = kube_call(lambda: self.core.read_namespaced_secret(name, namespace), verb="GET", kind="Secret",
                        name=f"{namespace}/{name}")
        return {k: base64.b64decode(v).decode() for k, v in (raw.data or {}).items()}


def _shown(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
