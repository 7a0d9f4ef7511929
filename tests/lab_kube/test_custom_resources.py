"""CustomResourceDefinitions created at run time: discovery, the dynamic client, CustomObjectsApi."""
import pytest
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from .conftest import unique
from .helpers import MERGE, expect_failure, wait_gone

GROUP, VERSION = "lab.proxqa.io", "v1"


def crd_body(plural: str, kind: str, scope: str = "Namespaced") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": scope,
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [plural[:4]]},
                 "versions": [{"name": VERSION, "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}},
                               "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                        "statusReplicasPath": ".status.replicas"}},
                               "additionalPrinterColumns": [
                                   {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}}


@pytest.fixture
def widgets(api):
    """A namespaced CRD made for one test: (plural, kind); deleted afterwards."""
    plural = unique("widgets").replace("-", "")
    kind = "Widget" + plural[-6:].upper()
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd_body(plural, kind))
    yield plural, kind
    extensions.delete_custom_resource_definition(f"{plural}.{GROUP}")


@pytest.fixture
def dyn(api, tmp_path):
    return dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))


def widget(kind: str, name: str, size: int = 1) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
            "spec": {"size": size, "replicas": 1}}


def test_a_created_crd_is_established_and_served(api, widgets):
    plural, kind = widgets
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{plural}.{GROUP}")
    assert {c.type: c.status for c in crd.status.conditions} == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == kind
    served = client.ApisApi(api).get_api_versions()
    assert GROUP in [group.name for group in served.groups]


def test_the_dynamic_client_finds_and_uses_a_kind_created_at_run_time(dyn, widgets, namespace):
    plural, kind = widgets
    resource = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind=kind)
    assert (resource.name, resource.namespaced) == (plural, True)
    created = resource.create(body=widget(kind, "w1"), namespace=namespace)
    assert created.metadata.uid
    resource.patch(body={"spec": {"size": 3}}, name="w1", namespace=namespace, content_type=MERGE)
    resource.status.patch(body={"metadata": {"name": "w1"}, "status": {"phase": "Ready"}}, name="w1",
                          namespace=namespace, content_type=MERGE)
    got = resource.get(name="w1", namespace=namespace)
    assert (got.spec.size, got.status.phase, got.metadata.generation) == (3, "Ready", 2)
    assert [item.metadata.name for item in resource.get(namespace=namespace).items] == ["w1"]
    resource.delete(name="w1", namespace=namespace)
    assert resource.get(namespace=namespace).items == []


def test_custom_objects_api_with_status_and_scale(custom, widgets, namespace):
    plural, kind = widgets
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, widget(kind, "w2"))
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, "w2",
                                                 {"status": {"replicas": 1, "ready": True}})
    custom.patch_namespaced_custom_object_scale(GROUP, VERSION, namespace, plural, "w2", {"spec": {"replicas": 4}})
    got = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, "w2")
    assert (got["spec"]["replicas"], got["status"]) == (4, {"replicas": 1, "ready": True})
    scale = custom.get_namespaced_custom_object_scale(GROUP, VERSION, namespace, plural, "w2")
    assert (scale["spec"], scale["status"]) == ({"replicas": 4}, {"replicas": 1})


def test_strategic_merge_patch_of_a_custom_object_is_415(custom, widgets, namespace):
    plural, kind = widgets
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, widget(kind, "w3"))
    expect_failure(415, "UnsupportedMediaType", custom.patch_namespaced_custom_object, GROUP, VERSION, namespace,
                   plural, "w3", {"spec": {"size": 2}}, _content_type="application/strategic-merge-patch+json")


def test_deleting_a_crd_removes_its_objects_and_its_api(api, custom, dyn, namespace):
    plural = unique("gadgets").replace("-", "")
    kind = "Gadget" + plural[-6:].upper()
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd_body(plural, kind))
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, widget(kind, "g1"))
    extensions.delete_custom_resource_definition(f"{plural}.{GROUP}")
    wait_gone(extensions.list_custom_resource_definition, name=f"{plural}.{GROUP}")
    expect_failure(404, "NotFound", custom.list_namespaced_custom_object, GROUP, VERSION, namespace, plural)
    dyn.resources.invalidate_cache()
    with pytest.raises(ResourceNotFoundError):
        dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind=kind)


def test_cluster_scoped_custom_objects(api, custom):
    plural = unique("realms").replace("-", "")
    kind = "Realm" + plural[-6:].upper()
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd_body(plural, kind, scope="Cluster"))
    custom.create_cluster_custom_object(GROUP, VERSION, plural, widget(kind, "global"))
    listed = custom.list_cluster_custom_object(GROUP, VERSION, plural)
    extensions.delete_custom_resource_definition(f"{plural}.{GROUP}")
    assert [(item["metadata"]["name"], "namespace" in item["metadata"]) for item in listed["items"]] == [
        ("global", False)]


def test_a_crd_whose_name_is_not_plural_dot_group_is_422(api):
    body = crd_body("things", "Thing")
    body["metadata"]["name"] = "wrong.lab.proxqa.io"
    status = expect_failure(422, "Invalid", client.ApiextensionsV1Api(api).create_custom_resource_definition, body)
    assert "spec.names.plural" in status["message"], status


def test_the_dynamic_client_watches_custom_objects(dyn, widgets, namespace):
    _plural, kind = widgets
    resource = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind=kind)
    since = resource.get(namespace=namespace).metadata.resourceVersion
    resource.create(body=widget(kind, "watched"), namespace=namespace)
    resource.delete(name="watched", namespace=namespace)
    seen = [(event["type"], event["object"].metadata.name)
            for event in resource.watch(namespace=namespace, resource_version=since, timeout=1)]
    assert seen == [("ADDED", "watched"), ("DELETED", "watched")]


def test_server_side_apply_through_the_dynamic_client(dyn, widgets, namespace):
    _plural, kind = widgets
    resource = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind=kind)
    resource.server_side_apply(body=widget(kind, "applied", size=1), name="applied", namespace=namespace,
                               field_manager="qa")
    resource.server_side_apply(body=widget(kind, "applied", size=5), name="applied", namespace=namespace,
                               field_manager="qa")
    assert resource.get(name="applied", namespace=namespace).spec.size == 5
