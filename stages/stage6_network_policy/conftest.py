"""Stage 6: traffic in the management cluster, as probe Jobs see it.

Servers are pods of the server image (HTTP on port 80); clients are probe Jobs of the probe image running busybox's
wget, nc or nslookup, whose exit status is the verdict and whose log is the evidence (no exec). Everything lives in
run-labelled namespaces (or tenants) and goes in the test's teardown.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from proxqa import cozystack
from proxqa.config import Settings
from proxqa.kube import manifests
from proxqa.kube.client import KubeClient
from proxqa.kube.watching import Watched, wait_watching
from proxqa.kube.workspace import ProbeResult, Workspace, is_ready, pod_summary, stuck
from proxqa.waits import Deadline, wait_for

PROBE_TIMEOUT = 5           # seconds a probe waits for an answer: a dropped connection ends as a timeout
HTTP_PORT = 80
SERVER_LABELS = {"role": "server"}
CLIENT_LABELS = {"role": "client"}
# nginx's master starts as root, chowns its cache and switches to the nginx user: with every capability dropped
# it exits at once, so a server gets back just these.
SERVER_CAPABILITIES = ("CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE")


@dataclass(frozen=True)
class Server:
    name: str
    namespace: str
    ip: str
    node: str
    labels: dict[str, str]


def http_get(address: str) -> str:
    """The probe script fetching / from address:80."""
    return f"wget -q -T {PROBE_TIMEOUT} -O /dev/null http://{address}:{HTTP_PORT}/"


def lookup(name: str) -> str:
    return f"nslookup {name}"


def restarts(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(c.get("restartCount") or 0
               for c in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []))


class Traffic:
    """Servers, Services and probe clients in one Workspace."""

    def __init__(self, space: Workspace, settings: Settings, deadline: Callable[[str], Deadline]):
        self.space, self.kube = space, space.kube
        self._settings, self._deadline = settings, deadline

    def server(self, namespace: str, labels: dict[str, str] = SERVER_LABELS) -> Server:
        """A Running, Ready server pod."""
        name = self.space.names.new("server")
        self.space.create(manifests.pod(name, namespace, self._settings.test.server_image, labels=labels,
                                        ports=(HTTP_PORT,), capabilities=SERVER_CAPABILITIES))
        pod = wait_watching([Watched(self.kube, "v1", "Pod", namespace, name)],
                            f"server pod {namespace}/{name} Running and Ready",
                            lambda: self.kube.get("v1", "Pod", name, namespace),
                            done=lambda p: p is not None and p["status"].get("phase") == "Running" and is_ready(p),
                            failed=lambda p: stuck(p) if p else "the pod is gone",
                            deadline=self._deadline("pod-running"), show=lambda p: pod_summary(p) if p else "gone")
        return Server(name, namespace, pod["status"]["podIP"], pod["spec"]["nodeName"], dict(labels))

    def service(self, server: Server, service_type: str = "ClusterIP") -> dict:
        """A Service on port 80 selecting the server."""
        return self.space.create(manifests.service(self.space.names.new("svc"), server.namespace, server.labels,
                                                   HTTP_PORT, service_type=service_type))

    def tenant(self, what: str) -> str:
        """A new CozyStack Tenant (isolated) in tenant-root; its namespace tenant-<name> once the Tenant is Ready."""
        cozystack.require_app_kind(self.kube, "Tenant")
        name = cozystack.tenant_name(self.space.names, what)
        self.space.create(cozystack.tenant(name))
        return cozystack.wait_tenant(self.kube, name, self._deadline("tenant-ready"))

    def probe(self, namespace: str, script: str, labels: dict[str, str] = CLIENT_LABELS) -> ProbeResult:
        """One probe Job running script to its end."""
        job = manifests.probe_job(self.space.names.new("probe"), namespace, self._settings.test.probe_image, script,
                                  labels=labels)
        return self.space.run_probe(job, self._deadline("pod-running"))

    def expect(self, step: str, namespace: str, script: str, *, succeeds: bool,
               labels: dict[str, str] = CLIENT_LABELS) -> ProbeResult:
        """Probe again until the verdict is the expected one, within the policy-applied wait (a policy change takes
        a moment to reach the datapath)."""
        return wait_for(f"{step}: probe `{script}` from {namespace} ({_shown(labels)}) expected to "
                        f"{'succeed' if succeeds else 'fail'}",
                        lambda: self.probe(namespace, script, labels), done=lambda r: r.succeeded == succeeds,
                        deadline=self._deadline("policy-applied"), show=_verdict)


def _shown(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items()) or "no labels"


def _verdict(result: ProbeResult) -> str:
    return f"probe {'succeeded' if result.succeeded else 'failed'}, log: {result.log or '(empty)'}"


@pytest.fixture
def traffic(mgmt_kube: KubeClient, make_workspace: Callable[[KubeClient], Workspace], settings: Settings,
            deadline: Callable[[str], Deadline]) -> Traffic:
    return Traffic(make_workspace(mgmt_kube), settings, deadline)
