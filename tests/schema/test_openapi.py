"""/openapi/v3 documents: what kubectl's fieldValidation check and `kubectl explain` read."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kubelite.schema.builtins import default_catalogue
from kubelite.schema.catalogue import Catalogue, ResourceInfo, Subresource
from kubelite.schema.openapi import (
    OpenAPIV3Documents,
    document_hash,
    group_version_path,
    openapi_v3_group_version,
    openapi_v3_root,
)

CRONTAB = ResourceInfo(
    group="stable.example.com",
    version="v1",
    resource="crontabs",
    kind="CronTab",
    singular="crontab",
    namespaced=True,
    crd=True,
    subresources=(
        Subresource("status", "CronTab", "stable.example.com", "v1"),
        Subresource("scale", "Scale", "autoscaling", "v1"),
    ),
)
CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A cron tab.",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {"cronSpec": {"type": "string", "description": "The cron line."}},
        }
    },
}
DEPLOYMENT_GVK = {"group": "apps", "kind": "Deployment", "version": "v1"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture(scope="module")
def apps(catalogue: Catalogue) -> dict[str, Any]:
    return openapi_v3_group_version(catalogue, "apps", "v1")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """kubectl's supportsQueryParamV3: the first PATCH operation for the GVK decides."""
    for _, method, op in operations(doc):
        if method == "patch" and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" for p in op.get("parameters", []))
    return False


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` or a single-`allOf` wrapper to the named component, as explain does."""
    if "$ref" in schema:
        return doc["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    if "allOf" in schema and "properties" not in schema:
        return resolve(doc, schema["allOf"][0])
    return schema


def walk(node: Any, visit: Any) -> None:
    visit(node)
    if isinstance(node, dict):
        for value in node.values():
            walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            walk(value, visit)


def test_document_header(apps: dict[str, Any]) -> None:
    assert apps["openapi"] == "3.0.0"
    assert apps["info"] == {"title": "Kubernetes", "version": "v1.33.0"}


def test_deployment_patch_carries_gvk_action_and_field_validation(apps: dict[str, Any]) -> None:
    item = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == DEPLOYMENT_GVK
    assert patch["x-kubernetes-action"] == "patch"
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    assert set(item) == {"parameters", "get", "put", "patch", "delete"}
    collection = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert (
        apps["paths"]["/apis/apps/v1/deployments"]["get"]["operationId"]
        == "listAppsV1DeploymentForAllNamespaces"
    )
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]


def test_every_patchable_builtin_supports_field_validation(catalogue: Catalogue) -> None:
    docs = {
        (g, v): openapi_v3_group_version(catalogue, g, v)
        for g in catalogue.groups()
        for v in catalogue.versions(g)
    }
    checked = 0
    for info in catalogue:
        gvk = {"group": info.group, "kind": info.kind, "version": info.version}
        doc = docs[(info.group, info.version)]
        if "patch" in info.verbs:
            checked += 1
            assert supports_field_validation(doc, gvk), info.group_resource
            for _, method, op in operations(doc):
                if method == "patch" and op["x-kubernetes-group-version-kind"] == gvk:
                    assert "fieldValidation" in [p["name"] for p in op["parameters"]]
        else:
            assert not supports_field_validation(doc, gvk)
    assert checked > 30


def test_every_operation_names_its_gvk_and_action(catalogue: Catalogue) -> None:
    doc = openapi_v3_group_version(catalogue, "", "v1")
    for path, _, op in operations(doc):
        assert set(op["x-kubernetes-group-version-kind"]) == {"group", "kind", "version"}, path
        assert op["x-kubernetes-action"] in (
            "get",
            "list",
            "post",
            "put",
            "patch",
            "delete",
            "deletecollection",
            "connect",
        )
    paths = doc["paths"]
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]["x-kubernetes-action"] == "get"
    exec_ = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert set(exec_) == {"parameters", "get", "post"}
    assert exec_["post"]["x-kubernetes-group-version-kind"]["kind"] == "PodExecOptions"
    assert exec_["post"]["x-kubernetes-action"] == "connect"
    eviction = paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]
    assert eviction["post"]["x-kubernetes-group-version-kind"] == {
        "group": "policy",
        "kind": "Eviction",
        "version": "v1",
    }
    assert "io.k8s.api.policy.v1.Eviction" in doc["components"]["schemas"]
    assert set(paths["/api/v1/namespaces/{namespace}/bindings"]) == {"parameters", "post"}
    assert "/api/v1/nodes/{name}" in paths and "/api/v1/namespaces/{namespace}/nodes/{name}" not in paths


def test_explain_deployment_spec_strategy(apps: dict[str, Any]) -> None:
    schemas = apps["components"]["schemas"]
    [deployment] = [
        s for s in schemas.values() if DEPLOYMENT_GVK in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert deployment["type"] == "object"
    spec = resolve(apps, deployment["properties"]["spec"])
    strategy_field = spec["properties"]["strategy"]
    assert strategy_field["description"]
    strategy = resolve(apps, strategy_field)
    assert strategy["description"].startswith("DeploymentStrategy describes")
    assert strategy["type"] == "object"
    assert set(strategy["properties"]) == {"type", "rollingUpdate"}
    assert strategy["properties"]["type"]["type"] == "string"
    rolling = resolve(apps, strategy["properties"]["rollingUpdate"])
    max_surge = rolling["properties"]["maxSurge"]
    assert max_surge["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    ]


def test_schema_conversion_rules(apps: dict[str, Any]) -> None:
    schemas = apps["components"]["schemas"]
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string"
    assert int_or_string["x-kubernetes-int-or-string"] is True
    assert int_or_string["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"] == [
        {"type": "string"},
        {"type": "number"},
    ]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["properties"]["apiVersion"] == {
        "description": deployment["properties"]["apiVersion"]["description"],
        "type": "string",
    }
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert "name" in schemas["io.k8s.api.core.v1.Container"]["required"]

    def no_json_schema_leftovers(node: Any) -> None:
        if isinstance(node, dict):
            assert not isinstance(node.get("type", ""), list), node
            assert not str(node.get("$ref", "")).startswith("#/$defs/"), node
            if "$ref" in node:
                assert set(node) == {"$ref"}, node

    walk(apps, no_json_schema_leftovers)


@pytest.mark.parametrize(
    "group_version", [("", "v1"), ("apps", "v1"), ("autoscaling", "v1"), ("events.k8s.io", "v1")]
)
def test_every_reference_resolves(catalogue: Catalogue, group_version: tuple[str, str]) -> None:
    doc = openapi_v3_group_version(catalogue, *group_version)
    names = doc["components"]["schemas"]
    refs: list[str] = []
    walk(doc, lambda node: refs.append(node["$ref"]) if isinstance(node, dict) and "$ref" in node else None)
    assert refs
    missing = {ref for ref in refs if ref.removeprefix("#/components/schemas/") not in names}
    assert not missing


def test_components_only_reach_what_the_group_version_needs(catalogue: Catalogue) -> None:
    doc = openapi_v3_group_version(catalogue, "coordination.k8s.io", "v1")
    names = set(doc["components"]["schemas"])
    assert "io.k8s.api.coordination.v1.Lease" in names and "io.k8s.api.coordination.v1.LeaseList" in names
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" in names
    assert not any(name.startswith("io.k8s.api.core.") for name in names)


def test_crd_schema_is_wrapped_like_upstream() -> None:
    catalogue = default_catalogue()
    catalogue.add(CRONTAB)
    doc = openapi_v3_group_version(catalogue, "stable.example.com", "v1", {"CronTab": CRONTAB_SCHEMA})
    schemas = doc["components"]["schemas"]
    crontab = schemas["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    ]
    assert crontab["description"] == "A cron tab."
    assert crontab["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert crontab["properties"]["apiVersion"]["type"] == "string"
    assert crontab["properties"]["spec"] == CRONTAB_SCHEMA["properties"]["spec"]
    assert "apiVersion" not in CRONTAB_SCHEMA["properties"]  # the input is not modified
    listing = schemas["com.example.stable.v1.CronTabList"]
    assert listing["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.stable.v1.CronTab"
    }
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    gvk = {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    assert supports_field_validation(doc, gvk)
    item = "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"
    assert (
        "application/strategic-merge-patch+json" not in doc["paths"][item]["patch"]["requestBody"]["content"]
    )
    status = doc["paths"][item + "/status"]["get"]
    assert status["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/com.example.stable.v1.CronTab"
    }
    scale = doc["paths"][item + "/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    # Without a schema, the kind is a free-form object (as upstream publishes it).
    bare = openapi_v3_group_version(catalogue, "stable.example.com", "v1")
    assert bare["components"]["schemas"]["com.example.stable.v1.CronTab"] == {
        "type": "object",
        "x-kubernetes-group-version-kind": [gvk],
    }


def test_root_lists_every_group_version_with_a_hash(catalogue: Catalogue) -> None:
    root = openapi_v3_root(catalogue, "kubelite-0.1.0")
    assert list(root) == ["paths"]
    assert "api/v1" in root["paths"] and "apis/apps/v1" in root["paths"]
    assert "apis/autoscaling/v2" in root["paths"] and "apis/autoscaling/v1" in root["paths"]
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}", url)
    assert openapi_v3_root(catalogue, "kubelite-0.1.0") == root
    assert (
        openapi_v3_root(catalogue, "kubelite-0.2.0")["paths"]["apis/apps/v1"] != root["paths"]["apis/apps/v1"]
    )
    given = openapi_v3_root(catalogue, "x", {"apis/apps/v1": "ABC"})
    assert given["paths"]["apis/apps/v1"]["serverRelativeURL"] == "/openapi/v3/apis/apps/v1?hash=ABC"
    assert group_version_path("", "v1") == "api/v1"


def test_documents_cache_hashes_and_invalidation() -> None:
    catalogue = default_catalogue()
    catalogue.add(CRONTAB)
    schemas: dict[str, Any] = {"CronTab": CRONTAB_SCHEMA}
    docs = OpenAPIV3Documents(catalogue, lambda g, v: schemas if g == "stable.example.com" else None)
    built = docs.document("stable.example.com", "v1")
    assert built is not None
    body, digest = built
    assert digest == document_hash(body)
    assert (
        json.loads(body)["components"]["schemas"]["com.example.stable.v1.CronTab"]["description"]
        == "A cron tab."
    )
    root = docs.root()
    url = root["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"]
    assert url == f"/openapi/v3/apis/stable.example.com/v1?hash={digest}"
    apps_url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]

    schemas["CronTab"] = {**CRONTAB_SCHEMA, "description": "Changed."}
    assert docs.document("stable.example.com", "v1") == built  # cached until invalidated
    docs.invalidate("stable.example.com", "v1")
    rebuilt = docs.document("stable.example.com", "v1")
    assert rebuilt is not None and rebuilt[1] != digest
    new_root = docs.root()
    assert new_root["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].endswith(rebuilt[1])
    assert new_root["paths"]["apis/apps/v1"]["serverRelativeURL"] == apps_url

    catalogue.remove("stable.example.com", "v1", "crontabs")  # a catalogue change drops the caches
    assert docs.document("stable.example.com", "v1") is None
    assert "apis/stable.example.com/v1" not in docs.root()["paths"]
    assert docs.document("nope.example.com", "v1") is None
