"""The real kubectl against the lab: tables, JSON, apply, delete, wait, watch, create, selectors, logs."""
import json

import pytest

from .conftest import KUBECTL_TIMEOUT, read_line_with, unique
from .helpers import MERGE, configmap, pod

CRD_PLURAL, CRD_GROUP = "gizmos", "lab.proxqa.io"


def manifest(namespace: str, image: str = "nginx:1.27", env_value: str = "1") -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image,
                                                       "env": [{"name": "A", "value": env_value}]}]}}}})


def test_create_namespace_and_get_it_as_json(kubectl, core):
    name = unique("made-by-kubectl")
    assert kubectl.run("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
    shown = json.loads(kubectl.run("get", "namespace", name, "-o", "json").stdout)
    as_yaml = kubectl.run("get", "namespace", name, "-o", "yaml").stdout
    core.delete_namespace(name)
    assert (shown["kind"], shown["metadata"]["name"], shown["status"]["phase"]) == ("Namespace", name, "Active")
    assert "kind: Namespace" in as_yaml and f"kubernetes.io/metadata.name: {name}" in as_yaml, as_yaml


def test_get_prints_a_table_with_the_kinds_columns(kubectl, core, namespace):
    core.create_namespaced_pod(namespace, pod("tabled", node="node-a"))
    lines = kubectl.run("get", "pods", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], lines
    assert lines[1].split()[:4] == ["tabled", "0/1", "Pending", "0"], lines
    wide = kubectl.run("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["IP", "NODE"] and wide[1].split()[6] == "node-a", wide


def test_get_all_namespaces_and_label_selectors(kubectl, core, namespace):
    for name, tier in (("front", "web"), ("back", "db"), ("other", "cache")):
        core.create_namespaced_config_map(namespace, configmap(name, {"tier": tier}))
    chosen = kubectl.run("get", "configmaps", "-A", "-l", "tier in (web,db)", "-o", "name").stdout.split()
    assert sorted(chosen) == ["configmap/back", "configmap/front"]
    negated = kubectl.run("get", "cm", "-n", namespace, "-l", "tier!=web,tier", "-o", "name").stdout.split()
    assert sorted(negated) == ["configmap/back", "configmap/other"]


def test_apply_twice_is_created_then_unchanged_and_a_change_merges(kubectl, apps, namespace):
    assert kubectl.run("apply", "-f", "-", stdin=manifest(namespace)).stdout.strip() == "deployment.apps/web created"
    assert kubectl.run("apply", "-f", "-", stdin=manifest(namespace)).stdout.strip() == "deployment.apps/web unchanged"
    changed = kubectl.run("apply", "-f", "-", stdin=manifest(namespace, "nginx:1.28", "2")).stdout.strip()
    assert changed == "deployment.apps/web configured"
    container = apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0]
    assert (container.image, [(e.name, e.value) for e in container.env]) == ("nginx:1.28", [("A", "2")])


def test_server_side_apply_creates_and_updates(kubectl, apps, namespace):
    first = kubectl.run("apply", "--server-side", "-f", "-", stdin=manifest(namespace)).stdout.strip()
    again = kubectl.run("apply", "--server-side", "-f", "-", stdin=manifest(namespace, "nginx:1.29")).stdout.strip()
    assert (first, again) == ("deployment.apps/web serverside-applied", "deployment.apps/web serverside-applied")
    assert apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == "nginx:1.29"


def test_create_deployment_and_scale_it(kubectl, apps, namespace):
    kubectl.run("create", "deployment", "made", "--image=nginx:1.27", "--replicas=2", "-n", namespace)
    kubectl.run("scale", "deployment", "made", "--replicas=4", "-n", namespace)
    made = apps.read_namespaced_deployment("made", namespace)
    assert (made.spec.replicas, made.spec.selector.match_labels) == (4, {"app": "made"})


def test_delete_then_get_is_not_found(kubectl, core, namespace):
    core.create_namespaced_config_map(namespace, configmap("gone"))
    deleted = kubectl.run("delete", "configmap", "gone", "-n", namespace).stdout
    assert 'configmap "gone" deleted' in deleted, deleted
    missing = kubectl.run("get", "configmap", "gone", "-n", namespace, expect=1)
    assert 'Error from server (NotFound): configmaps "gone" not found' in missing.stderr, missing.stderr


def test_wait_for_a_condition_the_status_gets_later(kubectl, core, namespace):
    core.create_namespaced_pod(namespace, pod("slow"))
    waiting = kubectl.start("wait", "--for=condition=Ready", "pod/slow", "-n", namespace, "--timeout=20s")
    core.patch_namespaced_pod_status("slow", namespace, {"status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}, _content_type=MERGE)
    out, err = waiting.communicate(timeout=KUBECTL_TIMEOUT)
    assert (waiting.returncode, out.strip()) == (0, "pod/slow condition met"), err


def test_wait_times_out_while_the_condition_is_false(kubectl, core, namespace):
    core.create_namespaced_pod(namespace, pod("never"))
    timed_out = kubectl.run("wait", "--for=condition=Ready", "pod/never", "-n", namespace, "--timeout=1s", expect=1)
    assert "timed out waiting for the condition" in timed_out.stderr, timed_out.stderr


def test_get_watch_prints_events_until_the_request_timeout(kubectl, core, namespace):
    core.create_namespaced_config_map(namespace, configmap("early"))
    watching = kubectl.start("get", "configmaps", "-n", namespace, "--watch", "--output-watch-events",
                             "--request-timeout=3s")
    read_line_with(watching, "early", KUBECTL_TIMEOUT)
    core.delete_namespaced_config_map("early", namespace)
    core.create_namespaced_config_map(namespace, configmap("late"))
    out, err = watching.communicate(timeout=KUBECTL_TIMEOUT)
    rows = [line.split()[:2] for line in out.splitlines()]
    assert (watching.returncode, rows) == (0, [["DELETED", "early"], ["ADDED", "late"]]), err


def test_logs_show_what_the_lab_recorded(kubectl, core, namespace):
    core.create_namespaced_pod(namespace, pod("talker", annotations={"logs.lab.proxqa.io/main": "hello\nworld\n"}))
    assert kubectl.run("logs", "talker", "-n", namespace).stdout == "hello\nworld\n"
    assert kubectl.run("logs", "talker", "-n", namespace, "--tail=1").stdout == "world\n"


def test_api_resources_lists_short_names(kubectl):
    rows = dict((line.split()[0], line.split()[1]) for line in kubectl.run("api-resources").stdout.splitlines()[1:]
                if len(line.split()) == 5)
    assert (rows.get("pods"), rows.get("deployments"), rows.get("namespaces")) == ("po", "deploy", "ns"), rows


@pytest.fixture
def gizmo_crd(kubectl):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{CRD_PLURAL}.{CRD_GROUP}"},
           "spec": {"group": CRD_GROUP, "scope": "Namespaced",
                    "names": {"plural": CRD_PLURAL, "singular": "gizmo", "kind": "Gizmo", "shortNames": ["gz"]},
                    "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}},
                                  "additionalPrinterColumns": [
                                      {"name": "Ready", "type": "string",
                                       "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                                      {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}}
    kubectl.run("apply", "-f", "-", stdin=json.dumps(crd))
    kubectl.run("wait", "--for=condition=Established", f"crd/{CRD_PLURAL}.{CRD_GROUP}", "--timeout=10s")
    yield
    kubectl.run("delete", "crd", f"{CRD_PLURAL}.{CRD_GROUP}")


def test_custom_resources_with_printer_columns_apply_and_wait(kubectl, custom, namespace, gizmo_crd):
    gizmo = json.dumps({"apiVersion": f"{CRD_GROUP}/v1", "kind": "Gizmo",
                        "metadata": {"name": "g1", "namespace": namespace}, "spec": {"size": 3}})
    assert kubectl.run("apply", "-f", "-", stdin=gizmo).stdout.strip() == f"gizmo.{CRD_GROUP}/g1 created"
    assert kubectl.run("apply", "-f", "-", stdin=gizmo).stdout.strip() == f"gizmo.{CRD_GROUP}/g1 unchanged"
    waiting = kubectl.start("wait", "--for=condition=Ready", "gizmo/g1", "-n", namespace, "--timeout=20s")
    custom.patch_namespaced_custom_object_status(CRD_GROUP, "v1", namespace, CRD_PLURAL, "g1", {
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    out, err = waiting.communicate(timeout=KUBECTL_TIMEOUT)
    assert (waiting.returncode, out.strip()) == (0, f"gizmo.{CRD_GROUP}/g1 condition met"), err
    table = kubectl.run("get", "gz", "-n", namespace).stdout.split()
    assert table == ["NAME", "READY", "SIZE", "g1", "True", "3"], table


def test_posting_to_an_object_path_is_405(kubectl, tmp_path):
    body = tmp_path / "cm.json"
    body.write_text(json.dumps(configmap("raw")))
    refused = kubectl.run("create", "--raw", "/api/v1/namespaces/default/configmaps/raw", "-f", str(body), expect=1)
    assert "Error from server (MethodNotAllowed)" in refused.stderr, refused.stderr
