"""CRUD, metadata, errors and selectors through the official client's typed APIs."""
import pytest

from .conftest import unique
from .helpers import configmap, deployment, expect_failure, names, pod


def test_create_fills_server_metadata_and_update_bumps_resource_version(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("cm"))
    meta = created.metadata
    assert (meta.namespace, bool(meta.uid), bool(meta.creation_timestamp)) == (namespace, True, True), meta
    created.data = {"key": "other"}
    updated = core.replace_namespaced_config_map("cm", namespace, created)
    assert int(updated.metadata.resource_version) > int(meta.resource_version), (meta, updated.metadata)
    assert updated.metadata.uid == meta.uid


def test_list_is_a_kind_list_with_a_resource_version(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("one"))
    listing = core.list_namespaced_config_map(namespace)
    assert (listing.kind, names(listing)) == ("ConfigMapList", ["one"])
    assert listing.metadata.resource_version.isdigit(), listing.metadata


def test_list_pages_with_limit_and_continue(core, namespace):
    for index in range(5):
        core.create_namespaced_config_map(namespace, configmap(f"page-{index}"))
    first = core.list_namespaced_config_map(namespace, limit=2)
    second = core.list_namespaced_config_map(namespace, limit=2, _continue=first.metadata._continue)
    rest = core.list_namespaced_config_map(namespace, _continue=second.metadata._continue)
    assert (names(first), names(second), names(rest)) == (["page-0", "page-1"], ["page-2", "page-3"], ["page-4"])
    assert (first.metadata.remaining_item_count, rest.metadata._continue) == (3, None)


def test_get_of_a_missing_object_is_404_not_found(core, namespace):
    body = expect_failure(404, "NotFound", core.read_namespaced_config_map, "absent", namespace)
    assert body["message"] == 'configmaps "absent" not found', body


def test_creating_an_existing_name_is_409_already_exists(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("twice"))
    expect_failure(409, "AlreadyExists", core.create_namespaced_config_map, namespace, configmap("twice"))


def test_update_with_a_stale_resource_version_is_409_conflict(core, namespace):
    stale = core.create_namespaced_config_map(namespace, configmap("raced"))
    core.patch_namespaced_config_map("raced", namespace, {"data": {"key": "first"}},
                                     _content_type="application/merge-patch+json")
    stale.data = {"key": "second"}
    body = expect_failure(409, "Conflict", core.replace_namespaced_config_map, "raced", namespace, stale)
    assert "the object has been modified" in body["message"], body


@pytest.mark.parametrize("bad_name", ["Upper_Case", "ends-with-dash-", "a" * 254])
def test_a_name_that_is_not_a_dns_subdomain_is_422_invalid(core, namespace, bad_name):
    body = expect_failure(422, "Invalid", core.create_namespaced_config_map, namespace, configmap(bad_name))
    assert [cause["field"] for cause in body["details"]["causes"]] == ["metadata.name"], body


def test_a_missing_name_is_422_invalid(core, namespace):
    body = expect_failure(422, "Invalid", core.create_namespaced_config_map, namespace, {"metadata": {}})
    assert "name or generateName is required" in body["message"], body


def test_a_pod_without_containers_is_422_invalid(core, namespace):
    body = expect_failure(422, "Invalid", core.create_namespaced_pod, namespace, {"metadata": {"name": "empty"},
                                                                                 "spec": {"containers": []}})
    assert body["details"]["causes"][0]["field"] == "spec.containers", body


def test_creating_in_a_missing_namespace_is_404(core):
    body = expect_failure(404, "NotFound", core.create_namespaced_config_map, "no-such-ns", configmap("orphan"))
    assert body["message"] == 'namespaces "no-such-ns" not found', body


def test_generate_name_makes_unique_names_with_the_prefix(core, namespace):
    made = [core.create_namespaced_config_map(namespace, configmap(None, generate_name="gen-")).metadata.name
            for _ in range(3)]
    assert len(set(made)) == 3 and all(name.startswith("gen-") and len(name) == 9 for name in made), made


def test_dry_run_validates_without_storing(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("dry"), dry_run="All")
    expect_failure(404, "NotFound", core.read_namespaced_config_map, "dry", namespace)


def test_cluster_scoped_kinds_ignore_namespaces(core):
    name = unique("node")
    core.create_node({"metadata": {"name": name, "labels": {"zone": "a"}}})
    assert name in names(core.list_node(label_selector="zone=a"))
    core.delete_node(name)
    expect_failure(404, "NotFound", core.read_node, name)


LABELLED = {"web": {"tier": "web", "env": "prod"}, "db": {"tier": "db", "env": "prod"},
            "cache": {"tier": "cache"}, "plain": {}}


@pytest.mark.parametrize("selector, expected", [
    ("tier=web", ["web"]),
    ("tier==web", ["web"]),
    ("tier!=web", ["cache", "db", "plain"]),
    ("tier in (web, db)", ["db", "web"]),
    ("tier notin (web,db)", ["cache", "plain"]),
    ("env", ["db", "web"]),
    ("!env", ["cache", "plain"]),
    ("tier,env=prod,tier!=db", ["web"]),
])
def test_label_selectors(core, namespace, selector, expected):
    for name, labels in LABELLED.items():
        core.create_namespaced_config_map(namespace, configmap(name, labels))
    assert names(core.list_namespaced_config_map(namespace, label_selector=selector)) == expected


def test_a_malformed_label_selector_is_400(core, namespace):
    expect_failure(400, "BadRequest", core.list_namespaced_config_map, namespace, label_selector="tier in web")


def test_field_selectors_on_pods(core, namespace):
    for name, node, phase in (("on-a", "node-a", "Running"), ("on-b", "node-b", "Running"), ("idle", "", "")):
        core.create_namespaced_pod(namespace, pod(name, node=node))
        if phase:
            core.patch_namespaced_pod_status(name, namespace, {"status": {"phase": phase}},
                                             _content_type="application/merge-patch+json")
    selected = {selector: names(core.list_namespaced_pod(namespace, field_selector=selector)) for selector in (
        "spec.nodeName=node-a", "status.phase=Running,spec.nodeName!=node-a", "status.phase=Pending",
        "metadata.name=idle", f"metadata.namespace={namespace},metadata.name!=idle")}
    assert selected == {"spec.nodeName=node-a": ["on-a"], "status.phase=Running,spec.nodeName!=node-a": ["on-b"],
                        "status.phase=Pending": ["idle"], "metadata.name=idle": ["idle"],
                        f"metadata.namespace={namespace},metadata.name!=idle": ["on-a", "on-b"]}


def test_field_selector_on_the_involved_object_of_events(core, namespace):
    for name, involved in (("ev-1", "web"), ("ev-2", "db")):
        core.create_namespaced_event(namespace, {"metadata": {"name": name}, "reason": "Probe", "message": "m",
                                                 "involvedObject": {"kind": "Pod", "name": involved,
                                                                    "namespace": namespace}})
    chosen = core.list_namespaced_event(namespace, field_selector="involvedObject.name=db,involvedObject.kind=Pod")
    assert names(chosen) == ["ev-2"]


def test_an_unsupported_field_selector_is_400(core, namespace):
    body = expect_failure(400, "BadRequest", core.list_namespaced_config_map, namespace, field_selector="data.key=x")
    assert "field label not supported: data.key" in body["message"], body


def test_job_gets_the_controller_uid_selector_and_pod_labels(batch, namespace):
    job = batch.create_namespaced_job(namespace, {
        "metadata": {"name": "probe"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "probe", "image": "busybox:1.36"}]}}}})
    labels = job.spec.template.metadata.labels
    assert (job.spec.selector.match_labels, labels["job-name"]) == (
        {"batch.kubernetes.io/controller-uid": job.metadata.uid}, "probe"), job.spec


def test_a_job_without_restart_policy_is_422(batch, namespace):
    expect_failure(422, "Invalid", batch.create_namespaced_job, namespace, {
        "metadata": {"name": "bad"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}})


def test_deployment_whose_selector_misses_its_template_is_422(apps, namespace):
    body = deployment("mismatch")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status = expect_failure(422, "Invalid", apps.create_namespaced_deployment, namespace, body)
    assert "`selector` does not match template `labels`" in status["message"], status
