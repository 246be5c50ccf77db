"""CustomResourceDefinitions through the Registry: serving, Established status, validation,
pruning and defaulting of custom resources, multiple versions, and cleanup on CRD deletion."""

from __future__ import annotations

import copy
from typing import Any

from registry_harness import ctx, eventually, expect_status, store_of

from kubelite.registry.crds import CLEANUP_FINALIZER
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions, Store

Obj = dict[str, Any]

WIDGET_SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["blue", "red"], "default": "blue"},
                "replicas": {"type": "integer", "default": 1},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "phase": {"type": "string"}},
        },
    },
}


def widget_crd(scope: str = "Namespaced", extra_versions: tuple[str, ...] = ()) -> Obj:
    versions = [
        {
            "name": "v1",
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
            "subresources": {
                "status": {},
                "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
            },
        }
    ]
    for name in extra_versions:
        versions.append(
            {
                "name": name,
                "served": True,
                "storage": False,
                "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
            }
        )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
                "shortNames": ["wd"],
            },
            "versions": versions,
        },
    }


def widget(name: str, spec: Obj | None = None, version: str = "v1") -> Obj:
    return {
        "apiVersion": f"example.com/{version}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec if spec is not None else {"size": 3},
    }


async def install(registry: Registry, crd: Obj | None = None) -> Store:
    crds = store_of(registry, "apiextensions.k8s.io", "customresourcedefinitions")
    await crds.create("", crd or widget_crd(), ctx())
    store = registry.store("example.com", "v1", "widgets")
    assert store is not None, "the CRD's resource is not served once the create returned"
    return store


async def test_creating_a_crd_serves_its_resource(registry: Registry) -> None:
    assert registry.catalogue.get("example.com", "v1", "widgets") is None
    changes: list[int] = []
    registry.on_catalogue_change.append(lambda: changes.append(1))
    await install(registry)
    info = registry.catalogue.get("example.com", "v1", "widgets")
    assert info is not None
    assert (info.kind, info.singular, info.namespaced, info.short_names) == (
        "Widget",
        "widget",
        True,
        ("wd",),
    )
    assert info.subresource("status") is not None and info.subresource("scale") is not None
    assert changes, "catalogue listeners were not told"


async def test_crd_gets_the_cleanup_finalizer_and_becomes_established(registry: Registry) -> None:
    await install(registry)
    crds = store_of(registry, "apiextensions.k8s.io", "customresourcedefinitions")
    crd = await crds.get("", "widgets.example.com")
    assert CLEANUP_FINALIZER in crd["metadata"]["finalizers"]

    async def established() -> bool:
        status = (await crds.get("", "widgets.example.com")).get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

    await eventually(established, what="CRD Established")
    status = (await crds.get("", "widgets.example.com"))["status"]
    assert status["acceptedNames"]["plural"] == "widgets"
    assert status["acceptedNames"]["kind"] == "Widget"
    assert status["storedVersions"] == ["v1"]


async def test_invalid_crd_is_rejected(registry: Registry) -> None:
    crds = store_of(registry, "apiextensions.k8s.io", "customresourcedefinitions")
    bad = widget_crd()
    bad["metadata"]["name"] = "gadgets.example.com"
    error = await expect_status(crds.create("", bad, ctx()), 422, "Invalid")
    assert "metadata.name" in error.message
    assert registry.catalogue.get("example.com", "v1", "widgets") is None


async def test_custom_resource_is_pruned_and_defaulted(registry: Registry) -> None:
    widgets = await install(registry)
    created = await widgets.create(
        "default", widget("w1", {"size": 3, "unknown": "dropped", "free": {"any": 1}}), ctx()
    )
    spec = created["spec"]
    assert spec == {"size": 3, "color": "blue", "replicas": 1, "free": {"any": 1}}
    assert created["apiVersion"] == "example.com/v1" and created["kind"] == "Widget"
    assert created["metadata"]["generation"] == 1
    stored = await widgets.get("default", "w1")
    assert stored["spec"] == spec
    assert "unknown" not in stored["spec"]


async def test_unknown_top_level_fields_are_pruned(registry: Registry) -> None:
    widgets = await install(registry)
    obj = widget("w1")
    obj["extra"] = {"nope": True}
    created = await widgets.create("default", obj, ctx())
    assert "extra" not in created


async def test_custom_resource_is_validated(registry: Registry) -> None:
    widgets = await install(registry)
    error = await expect_status(
        widgets.create("default", widget("small", {"size": 0}), ctx()), 422, "Invalid"
    )
    assert error.message.startswith('Widget.example.com "small" is invalid: ')
    assert "spec.size" in error.message
    error = await expect_status(
        widgets.create("default", widget("nosize", {"color": "red"}), ctx()), 422, "Invalid"
    )
    assert "spec.size: Required value" in error.message
    error = await expect_status(
        widgets.create("default", widget("green", {"size": 2, "color": "green"}), ctx()), 422, "Invalid"
    )
    assert "spec.color" in error.message
    error = await expect_status(
        widgets.create("default", widget("typed", {"size": "big"}), ctx()), 422, "Invalid"
    )
    assert "spec.size" in error.message
    assert (await widgets.list("default", ListOptions())).items == []


async def test_custom_resource_updates_are_validated_and_bump_generation(registry: Registry) -> None:
    widgets = await install(registry)
    created = await widgets.create("default", widget("w"), ctx())
    created["spec"]["size"] = 11
    await expect_status(widgets.update("default", "w", copy.deepcopy(created), ctx()), 422, "Invalid")
    created["spec"]["size"] = 5
    updated, _ = await widgets.update("default", "w", created, ctx())
    assert updated["spec"]["size"] == 5
    assert updated["metadata"]["generation"] == 2


async def test_custom_resource_status_subresource(registry: Registry) -> None:
    widgets = await install(registry)
    obj = widget("w")
    obj["status"] = {"phase": "Ready"}
    created = await widgets.create("default", obj, ctx())
    assert "phase" not in (created.get("status") or {})
    created["status"] = {"phase": "Ready"}
    created["spec"]["size"] = 9
    updated, _ = await widgets.update("default", "w", created, ctx(), subresource="status")
    assert updated["status"] == {"phase": "Ready"}
    assert updated["spec"]["size"] == 3
    updated["status"] = {"phase": "Broken"}
    again, _ = await widgets.update("default", "w", updated, ctx())
    assert again["status"] == {"phase": "Ready"}


async def test_custom_resources_reject_strategic_merge_patch(registry: Registry) -> None:
    widgets = await install(registry)
    await widgets.create("default", widget("w"), ctx())
    await expect_status(
        widgets.patch("default", "w", "strategic", {"spec": {"size": 4}}, ctx()), 415, "UnsupportedMediaType"
    )
    patched, _ = await widgets.patch("default", "w", "merge", {"spec": {"size": 4}}, ctx())
    assert patched["spec"]["size"] == 4


async def test_custom_resource_apply(registry: Registry) -> None:
    widgets = await install(registry)
    obj, created = await widgets.patch(
        "default", "w", "apply", widget("w", {"size": 2}), ctx(field_manager="alice")
    )
    assert created is True
    assert obj["spec"] == {"size": 2, "color": "blue", "replicas": 1}


async def test_custom_resources_need_an_existing_namespace(registry: Registry) -> None:
    widgets = await install(registry)
    await expect_status(widgets.create("missing", widget("w"), ctx()), 404, "NotFound")


async def test_cluster_scoped_custom_resources(registry: Registry) -> None:
    widgets = await install(registry, widget_crd(scope="Cluster"))
    assert widgets.info.namespaced is False
    created = await widgets.create("", widget("global"), ctx())
    assert "namespace" not in created["metadata"]
    assert [o["metadata"]["name"] for o in (await widgets.list(None, ListOptions())).items] == ["global"]


async def test_all_served_versions_share_storage(registry: Registry) -> None:
    v1 = await install(registry, widget_crd(extra_versions=("v1beta1",)))
    beta = registry.store("example.com", "v1beta1", "widgets")
    assert beta is not None
    created = await beta.create("default", widget("w", version="v1beta1"), ctx())
    assert created["apiVersion"] == "example.com/v1beta1"
    via_v1 = await v1.get("default", "w")
    assert via_v1["apiVersion"] == "example.com/v1"
    assert via_v1["metadata"]["uid"] == created["metadata"]["uid"]
    stored = await registry.backend.get(v1.key("default", "w"))
    assert stored is not None and b'"apiVersion":"example.com/v1"' in stored.value


async def test_deleting_a_crd_deletes_its_custom_resources_and_unserves_it(registry: Registry) -> None:
    widgets = await install(registry)
    for name in ("a", "b", "c"):
        await widgets.create("default", widget(name), ctx())
    crds = store_of(registry, "apiextensions.k8s.io", "customresourcedefinitions")
    terminating, now = await crds.delete("", "widgets.example.com", DeleteOptions(), ctx())
    assert now is False
    assert terminating["metadata"]["deletionTimestamp"]

    async def crd_gone() -> bool:
        try:
            await crds.get("", "widgets.example.com")
        except Exception:
            return True
        return False

    await eventually(crd_gone, what="the CRD to go away")
    assert registry.store("example.com", "v1", "widgets") is None
    assert registry.catalogue.get("example.com", "v1", "widgets") is None
    leftovers = await registry.backend.range(widgets.prefix)
    assert leftovers.items == [], [kv.key for kv in leftovers.items]


async def test_recreated_crd_starts_empty(registry: Registry) -> None:
    widgets = await install(registry)
    await widgets.create("default", widget("old"), ctx())
    crds = store_of(registry, "apiextensions.k8s.io", "customresourcedefinitions")
    await crds.delete("", "widgets.example.com", DeleteOptions(), ctx())

    async def unserved() -> bool:
        return registry.store("example.com", "v1", "widgets") is None

    await eventually(unserved, what="the CRD to be unserved")
    widgets = await install(registry)
    assert (await widgets.list(None, ListOptions())).items == []
