"""The official `kubernetes` Python client, unchanged, against a real `kubelite server`: CRUD of
built-in kinds, selectors, watch resumption, every patch type, server-side apply, CRDs and their
objects, paging, optimistic concurrency, generateName, deletecollection and dry-run.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

CRD_GROUP = "pyclient.kubelite.example.com"
CRD_PLURAL = "widgets"
CRD_NAME = f"{CRD_PLURAL}.{CRD_GROUP}"


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def api(server: Any) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
    api_client = client.ApiClient(configuration)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def ns(core: client.CoreV1Api) -> Iterator[str]:
    name = f"py-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except ApiException:
        pass


# ---------------------------------------------------------------------------------------------- helpers
def status_of(exc: ApiException) -> dict[str, Any]:
    """The Status object the server sent with an error."""
    assert exc.body, f"no body on {exc.status} error"
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    assert body["code"] == exc.status, body
    return body


def expect_error(call: Callable[[], Any], code: int, reason: str) -> dict[str, Any]:
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status == code, info.value.body
    body = status_of(info.value)
    assert body["reason"] == reason, body
    return body


def config_map(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def deployment(name: str, replicas: int = 1, containers: list[client.V1Container] | None = None) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=containers or [client.V1Container(name="app", image="nginx:1.25")]),
            ),
        ),
    )


def cm_names(items: list[client.V1ConfigMap]) -> list[str]:
    return [item.metadata.name for item in items]


# ---------------------------------------------------------------------------------------------- CRUD
def test_config_map_crud(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, config_map("settings", {"color": "blue"}, {"app": "demo"}))
    assert created.metadata.name == "settings"
    assert created.metadata.namespace == ns
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.data == {"color": "blue"}

    read = core.read_namespaced_config_map("settings", ns)
    assert read.metadata.uid == created.metadata.uid
    assert read.metadata.resource_version == created.metadata.resource_version

    read.data["size"] = "large"
    replaced = core.replace_namespaced_config_map("settings", ns, read)
    assert replaced.data == {"color": "blue", "size": "large"}
    assert replaced.metadata.resource_version != created.metadata.resource_version
    assert replaced.metadata.uid == created.metadata.uid

    body = expect_error(lambda: core.create_namespaced_config_map(ns, config_map("settings")), 409, "AlreadyExists")
    assert body["message"] == 'configmaps "settings" already exists'
    assert body["details"]["name"] == "settings" and body["details"]["kind"] == "configmaps"

    listed = core.list_namespaced_config_map(ns, label_selector="app=demo")
    assert cm_names(listed.items) == ["settings"]
    assert listed.items[0].data == {"color": "blue", "size": "large"}

    core.delete_namespaced_config_map("settings", ns)
    body = expect_error(lambda: core.read_namespaced_config_map("settings", ns), 404, "NotFound")
    assert body["message"] == 'configmaps "settings" not found'
    assert body["details"]["name"] == "settings" and body["details"]["kind"] == "configmaps"
    assert body["details"].get("group", "") == ""
    assert core.list_namespaced_config_map(ns, label_selector="app=demo").items == []


def test_deployment_crud(apps: client.AppsV1Api, ns: str) -> None:
    created = apps.create_namespaced_deployment(ns, deployment("web", replicas=2))
    assert created.metadata.generation == 1
    assert created.spec.replicas == 2
    # upstream defaulting for apps/v1 Deployments
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.strategy.rolling_update.max_unavailable == "25%"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    container = created.spec.template.spec.containers[0]
    assert container.termination_message_path == "/dev/termination-log"
    assert container.image_pull_policy == "IfNotPresent"
    assert created.spec.template.spec.restart_policy == "Always"
    assert created.spec.template.spec.dns_policy == "ClusterFirst"

    # read-modify-write races the deployment controller's own writes: retry on 409, as clients must
    for _attempt in range(20):
        read = apps.read_namespaced_deployment("web", ns)
        read.spec.replicas = 3
        try:
            replaced = apps.replace_namespaced_deployment("web", ns, read)
            break
        except ApiException as exc:
            if exc.status != 409:
                raise
    assert replaced.spec.replicas == 3
    assert replaced.metadata.generation == 2

    labelled = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"tier": "front"}}})
    assert labelled.metadata.labels == {"app": "web", "tier": "front"}
    assert labelled.metadata.generation == 2  # metadata changes do not bump the generation

    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items] == ["web"]
    apps.delete_namespaced_deployment("web", ns)
    body = expect_error(lambda: apps.read_namespaced_deployment("web", ns), 404, "NotFound")
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"]["group"] == "apps"


def test_service_crud(core: client.CoreV1Api, ns: str) -> None:
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="frontend"),
        spec=client.V1ServiceSpec(
            selector={"app": "frontend"}, ports=[client.V1ServicePort(port=80, target_port=8080)]
        ),
    )
    created = core.create_namespaced_service(ns, svc)
    assert created.spec.type == "ClusterIP"
    assert created.spec.cluster_ip and created.spec.cluster_ip != "None"
    assert created.spec.cluster_ips == [created.spec.cluster_ip]
    assert created.spec.ports[0].protocol == "TCP"
    assert created.spec.ports[0].target_port == 8080
    assert created.spec.session_affinity == "None"

    read = core.read_namespaced_service("frontend", ns)
    read.metadata.labels = {"exposed": "yes"}
    replaced = core.replace_namespaced_service("frontend", ns, read)
    assert replaced.metadata.labels == {"exposed": "yes"}
    assert replaced.spec.cluster_ip == created.spec.cluster_ip

    read = core.read_namespaced_service("frontend", ns)
    read.spec.cluster_ip = "10.0.0.250" if created.spec.cluster_ip != "10.0.0.250" else "10.0.0.251"
    read.spec.cluster_ips = [read.spec.cluster_ip]
    body = expect_error(lambda: core.replace_namespaced_service("frontend", ns, read), 422, "Invalid")
    assert "spec.clusterIPs[0]" in [c.get("field") for c in body["details"]["causes"]] or "spec.clusterIP" in [
        c.get("field") for c in body["details"]["causes"]
    ]
    assert core.read_namespaced_service("frontend", ns).spec.cluster_ip == created.spec.cluster_ip

    core.delete_namespaced_service("frontend", ns)
    expect_error(lambda: core.read_namespaced_service("frontend", ns), 404, "NotFound")


# ---------------------------------------------------------------------------------------------- selectors
def test_list_with_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, config_map("one", labels={"app": "a", "tier": "x"}))
    core.create_namespaced_config_map(ns, config_map("two", labels={"app": "b"}))
    core.create_namespaced_config_map(ns, config_map("three", labels={"app": "c", "tier": "y"}))

    def names(**kwargs: Any) -> list[str]:
        return sorted(n for n in cm_names(core.list_namespaced_config_map(ns, **kwargs).items) if n != "kube-root-ca.crt")

    assert names(label_selector="app=a") == ["one"]
    assert names(label_selector="app==b") == ["two"]
    assert names(label_selector="app!=a") == ["three", "two"]
    assert names(label_selector="app in (a,c)") == ["one", "three"]
    assert names(label_selector="app notin (a,c)") == ["two"]
    assert names(label_selector="tier") == ["one", "three"]
    assert names(label_selector="!tier") == ["two"]
    assert names(label_selector="app in (a,b,c),tier=y") == ["three"]
    assert names(label_selector="app=zzz") == []

    assert names(field_selector="metadata.name=two") == ["two"]
    assert names(field_selector="metadata.name==two") == ["two"]
    assert names(field_selector="metadata.name!=two") == ["one", "three"]
    assert names(field_selector=f"metadata.namespace={ns}", label_selector="app=c") == ["three"]
    assert names(field_selector="metadata.name=one", label_selector="app=b") == []

    # field selectors also work across namespaces
    everywhere = core.list_config_map_for_all_namespaces(field_selector="metadata.name=three", label_selector="app=c")
    assert [(i.metadata.namespace, i.metadata.name) for i in everywhere.items] == [(ns, "three")]


# ---------------------------------------------------------------------------------------------- watch
def test_watch_resumes_from_list_resource_version(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, config_map("before", {"k": "0"}))
    listed = core.list_namespaced_config_map(ns)
    rv = listed.metadata.resource_version
    assert rv

    core.create_namespaced_config_map(ns, config_map("w1", {"k": "1"}))
    core.patch_namespaced_config_map("w1", ns, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("w1", ns)

    events: list[tuple[str, str, str | None]] = []
    w = watch.Watch()
    deadline = time.monotonic() + 15
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10):
        obj = event["object"]
        events.append((event["type"], obj.metadata.name, (obj.data or {}).get("k")))
        if len(events) >= 3 or time.monotonic() > deadline:
            w.stop()
    assert events == [("ADDED", "w1", "1"), ("MODIFIED", "w1", "2"), ("DELETED", "w1", "2")]


def test_watch_with_label_selector_sees_only_matching(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, config_map("ignored", labels={"watch": "no"}))
    core.create_namespaced_config_map(ns, config_map("seen", labels={"watch": "yes"}))
    w = watch.Watch()
    seen: list[tuple[str, str]] = []
    for event in w.stream(
        core.list_namespaced_config_map, ns, resource_version=rv, label_selector="watch=yes", timeout_seconds=3
    ):
        seen.append((event["type"], event["object"].metadata.name))
        w.stop()
    assert seen == [("ADDED", "seen")]


# ---------------------------------------------------------------------------------------------- patches
def test_patch_types(apps: client.AppsV1Api, api: client.ApiClient, ns: str) -> None:
    containers = [client.V1Container(name="app", image="nginx:1.25"), client.V1Container(name="sidecar", image="busybox:1")]
    apps.create_namespaced_deployment(ns, deployment("patched", containers=containers))

    # strategic merge (the client's choice for an object body): containers merge by name
    strategic = apps.patch_namespaced_deployment(
        "patched", ns, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}}
    )
    assert [(c.name, c.image) for c in strategic.spec.template.spec.containers] == [
        ("app", "nginx:1.26"),
        ("sidecar", "busybox:1"),
    ]
    assert strategic.metadata.generation == 2

    # strategic $patch: delete directive removes the named element
    deleted = apps.patch_namespaced_deployment(
        "patched", ns, {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    )
    assert [c.name for c in deleted.spec.template.spec.containers] == ["app"]

    # JSON merge patch: lists are replaced wholesale, null deletes
    apps.patch_namespaced_deployment(
        "patched", ns, {"metadata": {"labels": {"gone": "soon", "keep": "me"}}}
    )
    merged = apps.patch_namespaced_deployment(
        "patched",
        ns,
        {
            "metadata": {"labels": {"gone": None}},
            "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "redis:7"}]}}},
        },
        _content_type="application/merge-patch+json",
    )
    assert [(c.name, c.image) for c in merged.spec.template.spec.containers] == [("only", "redis:7")]
    assert merged.metadata.labels == {"app": "patched", "keep": "me"}
    # defaults are applied to the merged result
    assert merged.spec.template.spec.containers[0].termination_message_policy == "File"

    # JSON patch (the client's choice for a list body)
    json_patched = apps.patch_namespaced_deployment(
        "patched",
        ns,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels/added", "value": "yes"},
            {"op": "remove", "path": "/metadata/labels/keep"},
        ],
    )
    assert json_patched.spec.replicas == 4
    assert json_patched.metadata.labels == {"app": "patched", "added": "yes"}

    before = apps.read_namespaced_deployment("patched", ns)
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment(
            "patched",
            ns,
            [{"op": "test", "path": "/spec/replicas", "value": 99}, {"op": "replace", "path": "/spec/replicas", "value": 7}],
        )
    assert info.value.status == 422, info.value.body
    after = apps.read_namespaced_deployment("patched", ns)
    assert after.spec.replicas == 4
    assert after.metadata.generation == before.metadata.generation  # (the controller may write status)

    # a patch that makes the object invalid is rejected with the field named, and nothing changes
    body = expect_error(
        lambda: apps.patch_namespaced_deployment(
            "patched", ns, {"spec": {"replicas": -1}}, _content_type="application/merge-patch+json"
        ),
        422,
        "Invalid",
    )
    assert body["details"]["causes"][0]["field"] == "spec.replicas"
    unchanged = apps.read_namespaced_deployment("patched", ns)
    assert unchanged.spec.replicas == 4 and unchanged.metadata.generation == before.metadata.generation


# ---------------------------------------------------------------------------------------------- apply
APPLY = "application/apply-patch+yaml"


def applied_cm(ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": ns}, "data": data}


def owners(cm: client.V1ConfigMap) -> dict[str, set[str]]:
    """manager -> data keys it owns."""
    result: dict[str, set[str]] = {}
    for entry in cm.metadata.managed_fields or []:
        fields = entry.fields_v1 or {}
        keys = {k[2:] for k in (fields.get("f:data") or {}) if k.startswith("f:")}
        result.setdefault(entry.manager, set()).update(keys)
    return result


def test_server_side_apply(core: client.CoreV1Api, ns: str) -> None:
    created = core.patch_namespaced_config_map(
        "applied", ns, applied_cm(ns, {"a": "1", "b": "1"}), field_manager="mgr-a", _content_type=APPLY
    )
    assert created.data == {"a": "1", "b": "1"}
    [entry] = created.metadata.managed_fields
    assert entry.manager == "mgr-a" and entry.operation == "Apply" and entry.api_version == "v1"
    assert entry.fields_type == "FieldsV1"
    assert owners(created) == {"mgr-a": {"a", "b"}}

    # a different manager setting a field to another value conflicts
    body = expect_error(
        lambda: core.patch_namespaced_config_map(
            "applied", ns, applied_cm(ns, {"a": "2"}), field_manager="mgr-b", _content_type=APPLY
        ),
        409,
        "Conflict",
    )
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "mgr-a": .data.a'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "mgr-a"', "field": ".data.a"}
    ]
    assert core.read_namespaced_config_map("applied", ns).data == {"a": "1", "b": "1"}

    # the same value is shared ownership, not a conflict
    shared = core.patch_namespaced_config_map(
        "applied", ns, applied_cm(ns, {"b": "1"}), field_manager="mgr-b", _content_type=APPLY
    )
    assert owners(shared) == {"mgr-a": {"a", "b"}, "mgr-b": {"b"}}

    # force takes the field over
    forced = core.patch_namespaced_config_map(
        "applied", ns, applied_cm(ns, {"a": "2", "b": "1"}), field_manager="mgr-b", force=True, _content_type=APPLY
    )
    assert forced.data == {"a": "2", "b": "1"}
    assert owners(forced) == {"mgr-a": {"b"}, "mgr-b": {"a", "b"}}

    # mgr-a stops applying b: it stays, because mgr-b still owns it
    kept = core.patch_namespaced_config_map("applied", ns, applied_cm(ns, {}), field_manager="mgr-a", _content_type=APPLY)
    assert kept.data == {"a": "2", "b": "1"}
    # mgr-b stops applying a: a is removed, it had no other owner
    dropped = core.patch_namespaced_config_map(
        "applied", ns, applied_cm(ns, {"b": "1"}), field_manager="mgr-b", _content_type=APPLY
    )
    assert dropped.data == {"b": "1"}

    # an Update by another manager is recorded with operation Update
    updated = core.patch_namespaced_config_map("applied", ns, {"data": {"c": "3"}}, field_manager="editor")
    entries = {(e.manager, e.operation) for e in updated.metadata.managed_fields}
    assert ("editor", "Update") in entries and ("mgr-b", "Apply") in entries

    # apply without a field manager is rejected as invalid PatchOptions
    before = core.read_namespaced_config_map("applied", ns)
    body = expect_error(
        lambda: core.patch_namespaced_config_map("applied", ns, applied_cm(ns, {"z": "1"}), _content_type=APPLY),
        422,
        "Invalid",
    )
    assert body["message"] == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    assert body["details"]["kind"] == "PatchOptions" and body["details"]["group"] == "meta.k8s.io"
    assert body["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}
    ]
    assert core.read_namespaced_config_map("applied", ns).metadata.resource_version == before.metadata.resource_version


# ---------------------------------------------------------------------------------------------- CRDs
def widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": CRD_PLURAL, "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "minimum": 1},
                                        "color": {"type": "string", "default": "red"},
                                    },
                                },
                                "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                            },
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def widgets(api: client.ApiClient) -> Iterator[client.CustomObjectsApi]:
    ext = client.ApiextensionsV1Api(api)
    created = ext.create_custom_resource_definition(widget_crd())
    assert created.metadata.name == CRD_NAME
    deadline = time.monotonic() + 20
    while True:
        crd = ext.read_custom_resource_definition(CRD_NAME)
        conditions = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
        if conditions.get("Established") == "True":
            assert conditions.get("NamesAccepted") == "True"
            break
        assert time.monotonic() < deadline, f"CRD never became Established: {conditions}"
        time.sleep(0.2)
    assert crd.status.accepted_names.kind == "Widget"
    yield client.CustomObjectsApi(api)
    ext.delete_custom_resource_definition(CRD_NAME)


def widget(name: str, size: int, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": ns, "labels": {"shape": "round"}},
        "spec": {"size": size},
    }


def test_custom_objects(widgets: client.CustomObjectsApi, ns: str) -> None:
    args = (CRD_GROUP, "v1", ns, CRD_PLURAL)
    created = widgets.create_namespaced_custom_object(*args, widget("w1", 3, ns))
    assert created["kind"] == "Widget" and created["apiVersion"] == f"{CRD_GROUP}/v1"
    assert created["spec"] == {"size": 3, "color": "red"}  # schema default applied
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["uid"]

    got = widgets.get_namespaced_custom_object(*args, "w1")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    widgets.create_namespaced_custom_object(*args, widget("w2", 5, ns))
    listed = widgets.list_namespaced_custom_object(*args)
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1", "w2"]
    assert listed["metadata"]["resourceVersion"]
    selected = widgets.list_namespaced_custom_object(*args, field_selector="metadata.name=w2", label_selector="shape=round")
    assert [i["metadata"]["name"] for i in selected["items"]] == ["w2"]

    # merge patch is the client's default for custom objects
    patched = widgets.patch_namespaced_custom_object(*args, "w1", {"spec": {"size": 4, "color": None}})
    assert patched["spec"] == {"size": 4, "color": "red"}
    assert patched["metadata"]["generation"] == 2

    # the main resource ignores status; the status subresource ignores everything else
    ignored = widgets.patch_namespaced_custom_object(*args, "w1", {"status": {"phase": "Sneaky"}})
    assert "status" not in ignored
    status = widgets.patch_namespaced_custom_object_status(
        *args, "w1", {"status": {"phase": "Ready"}, "spec": {"size": 100}}
    )
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["size"] == 4
    assert status["metadata"]["generation"] == 2
    assert widgets.get_namespaced_custom_object_status(*args, "w1")["status"] == {"phase": "Ready"}

    # schema validation: the field is named
    body = expect_error(
        lambda: widgets.create_namespaced_custom_object(*args, widget("bad", 0, ns)), 422, "Invalid"
    )
    assert body["details"]["causes"][0]["field"] == "spec.size"
    assert body["message"].startswith(f'Widget.{CRD_GROUP} "bad" is invalid: spec.size')
    wrong_type = widget("bad", 1, ns)
    wrong_type["spec"]["size"] = "huge"
    body = expect_error(lambda: widgets.create_namespaced_custom_object(*args, wrong_type), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.size"
    expect_error(lambda: widgets.get_namespaced_custom_object(*args, "bad"), 404, "NotFound")

    widgets.delete_namespaced_custom_object(*args, "w1")
    body = expect_error(lambda: widgets.get_namespaced_custom_object(*args, "w1"), 404, "NotFound")
    assert body["message"] == f'{CRD_NAME} "w1" not found'
    assert [i["metadata"]["name"] for i in widgets.list_namespaced_custom_object(*args)["items"]] == ["w2"]


# ---------------------------------------------------------------------------------------------- paging
def test_paging_with_limit_and_continue(core: client.CoreV1Api, ns: str) -> None:
    expected = [f"page-{i:02d}" for i in range(7)]
    for name in reversed(expected):
        core.create_namespaced_config_map(ns, config_map(name, labels={"paged": "yes"}))

    first = core.list_namespaced_config_map(ns, label_selector="paged=yes", limit=3)
    assert cm_names(first.items) == expected[:3]
    assert first.metadata._continue
    # with a selector the server cannot know how many remain, so upstream leaves the count unset
    assert first.metadata.remaining_item_count is None

    # objects created after the first page are not part of the paged snapshot
    core.create_namespaced_config_map(ns, config_map("page-99", labels={"paged": "yes"}))

    second = core.list_namespaced_config_map(ns, label_selector="paged=yes", limit=3, _continue=first.metadata._continue)
    assert cm_names(second.items) == expected[3:6]
    assert second.metadata.resource_version == first.metadata.resource_version
    assert second.metadata._continue

    third = core.list_namespaced_config_map(ns, label_selector="paged=yes", limit=3, _continue=second.metadata._continue)
    assert cm_names(third.items) == expected[6:]
    assert not third.metadata._continue
    assert third.metadata.remaining_item_count is None

    # without a selector the remaining count is given
    everything = cm_names(core.list_namespaced_config_map(ns).items)
    unselected = core.list_namespaced_config_map(ns, limit=2)
    assert cm_names(unselected.items) == everything[:2]
    assert unselected.metadata.remaining_item_count == len(everything) - 2

    body = expect_error(
        lambda: core.list_namespaced_config_map(ns, limit=3, _continue="not-a-token"), 400, "BadRequest"
    )
    assert "continue" in body["message"]


# ---------------------------------------------------------------------------------------------- concurrency
def test_replace_with_stale_resource_version_conflicts(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, config_map("occ", {"v": "0"}))
    first = core.read_namespaced_config_map("occ", ns)
    second = core.read_namespaced_config_map("occ", ns)

    first.data = {"v": "1"}
    core.replace_namespaced_config_map("occ", ns, first)

    second.data = {"v": "2"}
    body = expect_error(lambda: core.replace_namespaced_config_map("occ", ns, second), 409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "occ": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert body["details"]["name"] == "occ" and body["details"]["kind"] == "configmaps"
    assert core.read_namespaced_config_map("occ", ns).data == {"v": "1"}

    # a patch carrying a stale resourceVersion conflicts too
    stale = second.metadata.resource_version
    expect_error(
        lambda: core.patch_namespaced_config_map("occ", ns, {"metadata": {"resourceVersion": stale}, "data": {"v": "3"}}),
        409,
        "Conflict",
    )
    assert core.read_namespaced_config_map("occ", ns).data == {"v": "1"}


# ---------------------------------------------------------------------------------------------- generateName
def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"), data={"x": "y"})
    a = core.create_namespaced_config_map(ns, body)
    b = core.create_namespaced_config_map(ns, body)
    for made in (a, b):
        assert made.metadata.name.startswith("gen-")
        assert len(made.metadata.name) == len("gen-") + 5
        assert made.metadata.generate_name == "gen-"
    assert a.metadata.name != b.metadata.name
    assert core.read_namespaced_config_map(a.metadata.name, ns).data == {"x": "y"}


# ---------------------------------------------------------------------------------------------- deletecollection
def test_delete_collection(core: client.CoreV1Api, ns: str) -> None:
    for i in range(4):
        core.create_namespaced_config_map(ns, config_map(f"batch-{i}", labels={"batch": "yes"}))
    core.create_namespaced_config_map(ns, config_map("survivor", labels={"batch": "no"}))

    core.delete_collection_namespaced_config_map(ns, label_selector="batch=yes")
    remaining = [n for n in cm_names(core.list_namespaced_config_map(ns).items) if n != "kube-root-ca.crt"]
    assert remaining == ["survivor"]

    core.delete_collection_namespaced_config_map(ns, field_selector="metadata.name=survivor")
    assert [n for n in cm_names(core.list_namespaced_config_map(ns).items) if n != "kube-root-ca.crt"] == []


# ---------------------------------------------------------------------------------------------- dry run
def test_dry_run_changes_nothing(core: client.CoreV1Api, ns: str) -> None:
    rv_before = core.list_namespaced_config_map(ns).metadata.resource_version

    returned = core.create_namespaced_config_map(ns, config_map("dry", {"a": "1"}), dry_run="All")
    assert returned.metadata.name == "dry"
    assert returned.data == {"a": "1"}
    assert returned.metadata.creation_timestamp is not None
    expect_error(lambda: core.read_namespaced_config_map("dry", ns), 404, "NotFound")
    assert "dry" not in cm_names(core.list_namespaced_config_map(ns).items)

    # dry-run validation still runs
    expect_error(
        lambda: core.create_namespaced_config_map(ns, config_map("Not_Valid"), dry_run="All"), 422, "Invalid"
    )

    core.create_namespaced_config_map(ns, config_map("real", {"a": "1"}))
    real = core.read_namespaced_config_map("real", ns)
    real.data = {"a": "2"}
    would_be = core.replace_namespaced_config_map("real", ns, real, dry_run="All")
    assert would_be.data == {"a": "2"}
    patched = core.patch_namespaced_config_map("real", ns, {"data": {"a": "3"}}, dry_run="All")
    assert patched.data == {"a": "3"}
    core.delete_namespaced_config_map("real", ns, dry_run="All")
    after = core.read_namespaced_config_map("real", ns)
    assert after.data == {"a": "1"}
    assert after.metadata.resource_version != rv_before

    # nothing the dry runs did shows up on a watch
    w = watch.Watch()
    seen = []
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=rv_before, timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
    assert ("ADDED", "dry") not in seen
    assert [s for s in seen if s[1] == "real"] == [("ADDED", "real")]
