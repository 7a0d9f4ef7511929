"""Small builders and checks shared by the conformance tests."""
from __future__ import annotations

import json

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
GONE_TIMEOUT = 10      # seconds a deleted namespace or CRD may take to go (the server's cleanup delay is 1 s)


def failure(call, *args, **kwargs) -> tuple[int, dict]:
    """(HTTP status, Status body) of a call that must fail with an ApiException."""
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    body = json.loads(caught.value.body) if caught.value.body else {}
    return caught.value.status, body


def expect_failure(code: int, reason: str, call, *args, **kwargs) -> dict:
    """The Status body of a call that must fail with code and reason."""
    status, body = failure(call, *args, **kwargs)
    assert (status, body.get("kind"), body.get("reason"), body.get("code")) == (code, "Status", reason, code), body
    return body


def configmap(name: str | None, labels: dict | None = None, **meta) -> dict:
    """A ConfigMap body; name None leaves the name out (for generateName)."""
    meta = dict(meta, labels=labels or {}, **({"name": name} if name else {}))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"key": "value"}}


def pod(name: str, containers: tuple[str, ...] = ("main",), node: str = "", **meta) -> dict:
    spec = {"containers": [{"name": c, "image": "busybox:1.36"} for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": dict(name=name, **meta), "spec": spec}


def deployment(name: str, replicas: int = 1, **meta) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(name=name, labels=labels, **meta),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                           "env": [{"name": "A", "value": "1"}]}]}}}}


def owner_ref(obj) -> dict:
    """An ownerReference to a typed object returned by the client."""
    return {"apiVersion": obj.api_version, "kind": obj.kind, "name": obj.metadata.name, "uid": obj.metadata.uid}


def names(listing) -> list[str]:
    return sorted(item.metadata.name for item in listing.items)


def wait_gone(list_call, *args, name: str) -> None:
    """Return once the object called name has left list_call's listing (watched, not polled)."""
    selector = f"metadata.name={name}"
    listing = list_call(*args, field_selector=selector)
    if not listing.items:
        return
    for event in watch.Watch().stream(list_call, *args, field_selector=selector, timeout_seconds=GONE_TIMEOUT,
                                      resource_version=listing.metadata.resource_version, _request_timeout=30):
        if event["type"] == "DELETED":
            return
    raise AssertionError(f"{name} still exists {GONE_TIMEOUT} s after its deletion")
