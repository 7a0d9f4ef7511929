"""Watches through kubernetes.watch.Watch: initial state, resourceVersion replay, selectors, bookmarks, 410."""
import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from .conftest import module_server, unique
from .helpers import MERGE, configmap, deployment

WATCH_WINDOW = 100      # changes the module's server keeps for watches to resume from


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    yield from module_server(tmp_path_factory, "--watch-window", str(WATCH_WINDOW))


def events(func, *args, **kwargs) -> list[tuple[str, str]]:
    """(type, name) of every event of a watch that the server ends after one second."""
    stream = watch.Watch().stream(func, *args, timeout_seconds=1, _request_timeout=15, **kwargs)
    return [(event["type"], event["raw_object"]["metadata"].get("name")) for event in stream]


def current_version(core, namespace) -> str:
    return core.list_namespaced_config_map(namespace).metadata.resource_version


def test_a_watch_without_resource_version_starts_with_the_current_objects(core, namespace):
    for name in ("a", "b"):
        core.create_namespaced_config_map(namespace, configmap(name))
    assert events(core.list_namespaced_config_map, namespace) == [("ADDED", "a"), ("ADDED", "b")]


def test_a_watch_from_a_resource_version_replays_the_changes_after_it(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("before"))
    since = current_version(core, namespace)
    core.create_namespaced_config_map(namespace, configmap("x"))
    core.patch_namespaced_config_map("x", namespace, {"data": {"key": "new"}}, _content_type=MERGE)
    core.delete_namespaced_config_map("x", namespace)
    assert events(core.list_namespaced_config_map, namespace, resource_version=since) == [
        ("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]


def test_objects_entering_and_leaving_a_label_selector_are_added_and_deleted(core, namespace):
    since = current_version(core, namespace)
    core.create_namespaced_config_map(namespace, configmap("moving", {"tier": "web"}))
    for tier in ("db", "web"):
        core.patch_namespaced_config_map("moving", namespace, {"metadata": {"labels": {"tier": tier}}},
                                         _content_type=MERGE)
    core.delete_namespaced_config_map("moving", namespace)
    assert events(core.list_namespaced_config_map, namespace, resource_version=since, label_selector="tier=web") == [
        ("ADDED", "moving"), ("DELETED", "moving"), ("ADDED", "moving"), ("DELETED", "moving")]


def test_a_field_selector_narrows_a_watch(core, namespace):
    since = current_version(core, namespace)
    for name in ("wanted", "other"):
        core.create_namespaced_config_map(namespace, configmap(name))
    assert events(core.list_namespaced_config_map, namespace, resource_version=since,
                  field_selector="metadata.name=wanted") == [("ADDED", "wanted")]


def test_a_watch_over_all_namespaces_sees_each_of_them(core, namespace):
    other = unique("qa")
    core.create_namespace({"metadata": {"name": other}})
    since = current_version(core, namespace)
    label = unique("run")
    for where in (namespace, other):
        core.create_namespaced_config_map(where, configmap("shared", {"run": label}))
    stream = watch.Watch().stream(core.list_config_map_for_all_namespaces, resource_version=since,
                                  label_selector=f"run={label}", timeout_seconds=1, _request_timeout=15)
    seen = sorted(event["raw_object"]["metadata"]["namespace"] for event in stream)
    core.delete_namespace(other)
    assert seen == sorted([namespace, other])


def test_watches_of_other_groups_work_the_same(apps, namespace):
    since = apps.list_namespaced_deployment(namespace).metadata.resource_version
    apps.create_namespaced_deployment(namespace, deployment("web"))
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 4}}, _content_type=MERGE)
    assert events(apps.list_namespaced_deployment, namespace, resource_version=since) == [
        ("ADDED", "web"), ("MODIFIED", "web")]


def test_a_watch_asking_for_bookmarks_ends_with_one(core, namespace):
    since = current_version(core, namespace)
    last = core.create_namespaced_config_map(namespace, configmap("marked")).metadata.resource_version
    stream = watch.Watch().stream(core.list_namespaced_config_map, namespace, resource_version=since,
                                  allow_watch_bookmarks=True, timeout_seconds=1, _request_timeout=15)
    seen = [(event["type"], event["raw_object"]["metadata"]) for event in stream]
    assert [kind for kind, _meta in seen] == ["ADDED", "BOOKMARK"], seen
    assert int(seen[-1][1]["resourceVersion"]) >= int(last), seen


def test_a_watch_delivers_changes_made_while_it_is_open(kube, core, namespace):
    """The first event proves the watch is registered; the second change can only arrive live."""
    since = current_version(core, namespace)
    core.create_namespaced_config_map(namespace, configmap("first"))
    writer_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    writer = client.CoreV1Api(writer_client)
    seen, watcher = [], watch.Watch()
    for event in watcher.stream(core.list_namespaced_config_map, namespace, resource_version=since,
                                timeout_seconds=10, _request_timeout=15):
        seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
        if len(seen) == 1:
            writer.create_namespaced_config_map(namespace, configmap("second"))
        if len(seen) == 2:
            watcher.stop()
    writer_client.close()
    assert seen == [("ADDED", "first"), ("ADDED", "second")]


def test_a_resource_version_older_than_the_history_is_410_expired(core, namespace):
    since = current_version(core, namespace)
    core.create_namespaced_config_map(namespace, configmap("busy"))
    for index in range(WATCH_WINDOW + 5):
        core.patch_namespaced_config_map("busy", namespace, {"data": {"n": str(index)}}, _content_type=MERGE)
    with pytest.raises(ApiException) as expired:
        events(core.list_namespaced_config_map, namespace, resource_version=since)
    assert (expired.value.status, expired.value.reason.split(":")[0]) == (410, "Expired"), expired.value
