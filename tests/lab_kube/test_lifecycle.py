"""Patches, the status and scale subresources, finalizers, namespace cascade, garbage collection, logs."""
from .conftest import unique
from .helpers import (JSON_PATCH, MERGE, STRATEGIC, configmap, deployment, expect_failure, failure, names, owner_ref,
                      pod, wait_gone)


def test_merge_patch_merges_maps_and_null_removes(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("merged", {"a": "1", "b": "2"}))
    patched = core.patch_namespaced_config_map("merged", namespace, {"metadata": {"labels": {"a": None, "c": "3"}}},
                                               _content_type=MERGE)
    assert patched.metadata.labels == {"b": "2", "c": "3"}


def test_json_patch_applies_operations_and_a_failed_test_is_422(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("ops"))
    patched = core.patch_namespaced_config_map("ops", namespace, [
        {"op": "add", "path": "/data/extra", "value": "x"}, {"op": "remove", "path": "/data/key"},
        {"op": "test", "path": "/data/extra", "value": "x"}], _content_type=JSON_PATCH)
    assert patched.data == {"extra": "x"}
    expect_failure(422, "Invalid", core.patch_namespaced_config_map, "ops", namespace,
                   [{"op": "test", "path": "/data/extra", "value": "y"}], _content_type=JSON_PATCH)


def test_an_unknown_json_patch_operation_is_400(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("badop"))
    body = expect_failure(400, "BadRequest", core.patch_namespaced_config_map, "badop", namespace,
                          [{"op": "frobnicate", "path": "/data"}], _content_type=JSON_PATCH)
    assert "frobnicate" in body["message"], body


def test_strategic_merge_patch_merges_containers_and_env_by_name(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("smp"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28", "env": [{"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "busybox:1.36"}]}}}}
    patched = apps.patch_namespaced_deployment("smp", namespace, patch, _content_type=STRATEGIC)
    containers = [(c.name, c.image, [(e.name, e.value) for e in c.env or ()])
                  for c in patched.spec.template.spec.containers]
    assert containers == [("web", "nginx:1.28", [("A", "1"), ("B", "2")]), ("sidecar", "busybox:1.36", [])]
    assert patched.metadata.generation == 2, patched.metadata


def test_strategic_merge_patch_deletes_list_items_with_the_patch_directive(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("smpdel"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}}}
    patched = apps.patch_namespaced_deployment("smpdel", namespace, patch, _content_type=STRATEGIC)
    assert patched.spec.template.spec.containers[0].env is None


def test_status_subresource_changes_only_status(core, namespace):
    core.create_namespaced_pod(namespace, pod("st"))
    ready = {"type": "Ready", "status": "True"}
    patched = core.patch_namespaced_pod_status(
        "st", namespace, {"metadata": {"labels": {"ignored": "yes"}}, "status": {"phase": "Running",
                                                                                 "conditions": [ready]}},
        _content_type=MERGE)
    assert (patched.status.phase, patched.metadata.labels) == ("Running", None), patched
    main = core.patch_namespaced_pod("st", namespace, {"metadata": {"labels": {"kept": "yes"}},
                                                       "status": {"phase": "Failed"}}, _content_type=MERGE)
    assert (main.status.phase, main.metadata.labels) == ("Running", {"kept": "yes"}), main


def test_status_conditions_merge_by_type_with_strategic_patch(core, namespace):
    core.create_namespaced_pod(namespace, pod("conds"))
    core.patch_namespaced_pod_status("conds", namespace, {"status": {"conditions": [
        {"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}, _content_type=STRATEGIC)
    patched = core.patch_namespaced_pod_status("conds", namespace, {"status": {"conditions": [
        {"type": "Ready", "status": "True"}]}}, _content_type=STRATEGIC)
    assert [(c.type, c.status) for c in patched.status.conditions] == [("Ready", "True"), ("Initialized", "True")]


def test_generation_follows_spec_not_status(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("gen"))
    apps.patch_namespaced_deployment_status("gen", namespace, {"status": {"replicas": 1}}, _content_type=MERGE)
    labelled = apps.patch_namespaced_deployment("gen", namespace, {"metadata": {"labels": {"x": "y"}}},
                                                _content_type=MERGE)
    scaled = apps.patch_namespaced_deployment("gen", namespace, {"spec": {"replicas": 3}}, _content_type=MERGE)
    assert (labelled.metadata.generation, scaled.metadata.generation) == (1, 2)


def test_scale_subresource_reads_and_sets_replicas(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("scaled", replicas=2))
    scale = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 2, "app=scaled")
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 5}}, _content_type=MERGE)
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 5


def test_finalizers_hold_a_deleted_object_until_removed(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("held", finalizers=["lab.proxqa.io/hold"]))
    core.delete_namespaced_config_map("held", namespace)
    marked = core.read_namespaced_config_map("held", namespace)
    assert marked.metadata.deletion_timestamp is not None, marked.metadata
    body = expect_failure(422, "Invalid", core.patch_namespaced_config_map, "held", namespace,
                          {"metadata": {"finalizers": ["lab.proxqa.io/hold", "lab.proxqa.io/new"]}},
                          _content_type=MERGE)
    assert "no new finalizers can be added" in body["message"], body
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}}, _content_type=MERGE)
    expect_failure(404, "NotFound", core.read_namespaced_config_map, "held", namespace)


def test_deleting_a_namespace_terminates_it_and_cascades(core):
    name = unique("doomed")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_pod(name, pod("worker"))
    core.create_namespaced_config_map(name, configmap("held", finalizers=["lab.proxqa.io/hold"]))
    core.delete_namespace(name)
    terminating = core.read_namespace(name)
    assert terminating.status.phase == "Terminating", terminating.status
    body = expect_failure(403, "Forbidden", core.create_namespaced_config_map, name, configmap("late"))
    assert "is being terminated" in body["message"], body
    wait_gone(core.list_namespaced_pod, name, name="worker")
    assert names(core.list_namespaced_config_map(name)) == ["held"]
    assert core.read_namespace(name).status.phase == "Terminating"
    core.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": []}}, _content_type=MERGE)
    wait_gone(core.list_namespace, name=name)


def test_namespaces_carry_their_name_label(core, namespace):
    assert core.read_namespace(namespace).metadata.labels == {"kubernetes.io/metadata.name": namespace}


def test_the_default_namespace_cannot_be_deleted(core):
    expect_failure(403, "Forbidden", core.delete_namespace, "default")


def _owned_chain(apps, core, namespace, name):
    """A Deployment owning a ReplicaSet owning a Pod, as the controllers would make them."""
    owner = apps.create_namespaced_deployment(namespace, deployment(name))
    replica_set = deployment(name + "-rs")
    replica_set.update(kind="ReplicaSet")
    replica_set["metadata"]["ownerReferences"] = [owner_ref(owner)]
    owned = apps.create_namespaced_replica_set(namespace, replica_set)
    core.create_namespaced_pod(namespace, pod(name + "-pod", ownerReferences=[owner_ref(owned)]))


def test_deleting_an_owner_collects_its_dependents(apps, core, namespace):
    _owned_chain(apps, core, namespace, "gc")
    apps.delete_namespaced_deployment("gc", namespace)
    assert (names(apps.list_namespaced_replica_set(namespace)), names(core.list_namespaced_pod(namespace))) == ([], [])


def test_orphan_propagation_keeps_dependents_without_the_owner_reference(apps, core, namespace):
    _owned_chain(apps, core, namespace, "orphans")
    apps.delete_namespaced_deployment("orphans", namespace, propagation_policy="Orphan")
    kept = apps.read_namespaced_replica_set("orphans-rs", namespace)
    assert kept.metadata.owner_references is None, kept.metadata
    assert names(core.list_namespaced_pod(namespace)) == ["orphans-pod"]


def test_foreground_deletion_waits_for_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, configmap("owner"))
    core.create_namespaced_config_map(namespace, configmap("dependent", ownerReferences=[owner_ref(owner)],
                                                           finalizers=["lab.proxqa.io/hold"]))
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Foreground")
    waiting = core.read_namespaced_config_map("owner", namespace)
    assert waiting.metadata.finalizers == ["foregroundDeletion"], waiting.metadata
    core.patch_namespaced_config_map("dependent", namespace, {"metadata": {"finalizers": None}}, _content_type=MERGE)
    assert names(core.list_namespaced_config_map(namespace)) == []


def test_delete_preconditions_on_uid_are_409(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("guarded"))
    status, body = failure(core.delete_namespaced_config_map, "guarded", namespace,
                           body={"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert (status, body["reason"]) == (409, "Conflict"), body


def test_pod_log_reads_what_the_lab_recorded(core, namespace):
    text = "probe: connect 10.96.0.1:443 ok\nprobe: done\n"
    core.create_namespaced_pod(namespace, pod("logged", containers=("probe", "side"),
                                              annotations={"logs.lab.proxqa.io/probe": text}))
    assert core.read_namespaced_pod_log("logged", namespace, container="probe") == text
    assert core.read_namespaced_pod_log("logged", namespace, container="probe", tail_lines=1) == "probe: done\n"
    assert core.read_namespaced_pod_log("logged", namespace, container="side") == ""
    status, _body = failure(core.read_namespaced_pod_log, "logged", namespace)
    assert status == 400


def test_delete_collection_by_label(core, namespace):
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map(namespace, configmap(name, {"tier": tier}))
    core.delete_collection_namespaced_config_map(namespace, label_selector="tier=web")
    assert names(core.list_namespaced_config_map(namespace)) == ["c"]


def test_unknown_resource_paths_are_404(custom):
    body = expect_failure(404, "NotFound", custom.list_cluster_custom_object, "nothing.lab.proxqa.io", "v1", "ghosts")
    assert body["message"] == "the server could not find the requested resource", body
