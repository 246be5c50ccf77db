"""Namespaces: creation defaults, Terminating on delete, emptying by the registry's namespace
finalization, and protection of spec.finalizers from ordinary updates."""

from __future__ import annotations

import asyncio

import pytest
from registry_harness import configmap, ctx, eventually, expect_status, pod, start_registry, store_of

from kubelite.api.errors import StatusError
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions


async def _gone(registry: Registry, name: str) -> bool:
    try:
        await store_of(registry, "", "namespaces").get("", name)
    except StatusError as exc:
        return exc.code == 404
    return False


async def test_new_namespace_is_active_with_the_kubernetes_finalizer(registry: Registry) -> None:
    created = await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "fresh"}}, ctx())
    assert created["status"] == {"phase": "Active"}
    assert created["spec"]["finalizers"] == ["kubernetes"]
    assert created["metadata"]["labels"]["kubernetes.io/metadata.name"] == "fresh"


async def test_deleting_a_namespace_marks_it_terminating_empties_it_and_removes_it(
    registry: Registry,
) -> None:
    namespaces = store_of(registry, "", "namespaces")
    cms = store_of(registry, "", "configmaps")
    await namespaces.create("", {"metadata": {"name": "doomed"}}, ctx())
    for i in range(3):
        await cms.create("doomed", configmap(f"c{i}"), ctx())
    await store_of(registry, "", "secrets").create(
        "doomed", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, ctx()
    )
    await cms.create("default", configmap("bystander"), ctx())

    terminating, now = await namespaces.delete("", "doomed", DeleteOptions(), ctx())
    assert now is False
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["status"]["phase"] == "Terminating"

    await eventually(lambda: _gone(registry, "doomed"), what="namespace removal")
    assert (await cms.list("doomed", ListOptions())).items == []
    assert (await store_of(registry, "", "secrets").list("doomed", ListOptions())).items == []
    assert [o["metadata"]["name"] for o in (await cms.list("default", ListOptions())).items] == ["bystander"]


async def test_namespace_waits_for_finalizers_of_its_content(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    cms = store_of(registry, "", "configmaps")
    await namespaces.create("", {"metadata": {"name": "slow"}}, ctx())
    await cms.create("slow", configmap("held", finalizers=["example.com/hold"]), ctx())
    await cms.create("slow", configmap("free"), ctx())
    await namespaces.delete("", "slow", DeleteOptions(), ctx())

    async def only_held_left() -> bool:
        names = [o["metadata"]["name"] for o in (await cms.list("slow", ListOptions())).items]
        return names == ["held"]

    await eventually(only_held_left, what="the free configmap to be deleted")
    held = await cms.get("slow", "held")
    assert held["metadata"]["deletionTimestamp"]
    ns = await namespaces.get("", "slow")
    assert ns["status"]["phase"] == "Terminating"
    # content may still be updated while terminating; removing the finalizer lets everything go
    held["metadata"]["finalizers"] = []
    await cms.update("slow", "held", held, ctx())
    await eventually(lambda: _gone(registry, "slow"), what="namespace removal")


async def test_pods_in_a_deleted_namespace_are_removed(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    pods = store_of(registry, "", "pods")
    await namespaces.create("", {"metadata": {"name": "apps"}}, ctx())
    await pods.create("apps", pod("unscheduled"), ctx())
    await namespaces.delete("", "apps", DeleteOptions(), ctx())
    await eventually(lambda: _gone(registry, "apps"), what="namespace removal")
    assert (await pods.list("apps", ListOptions())).items == []


async def test_deleting_a_terminating_namespace_again_changes_nothing(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    cms = store_of(registry, "", "configmaps")
    await namespaces.create("", {"metadata": {"name": "twice"}}, ctx())
    await cms.create("twice", configmap("held", finalizers=["example.com/hold"]), ctx())
    first, _ = await namespaces.delete("", "twice", DeleteOptions(), ctx())
    second, now = await namespaces.delete("", "twice", DeleteOptions(), ctx())
    assert now is False
    assert second["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]


async def test_ordinary_update_cannot_drop_spec_finalizers(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    created = await namespaces.create("", {"metadata": {"name": "keep"}}, ctx())
    created["spec"]["finalizers"] = []
    created["metadata"]["labels"]["team"] = "a"
    updated, _ = await namespaces.update("", "keep", created, ctx())
    assert updated["metadata"]["labels"]["team"] == "a"
    # upstream's namespace strategy copies spec.finalizers from the stored object on update;
    # only the finalize subresource changes them
    assert updated["spec"]["finalizers"] == ["kubernetes"]


async def test_finalize_subresource_changes_spec_finalizers(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    created = await namespaces.create("", {"metadata": {"name": "fin"}}, ctx())
    created["spec"]["finalizers"] = ["kubernetes", "example.com/extra"]
    updated, _ = await namespaces.update("", "fin", created, ctx(), subresource="finalize")
    assert updated["spec"]["finalizers"] == ["kubernetes", "example.com/extra"]


async def test_missing_namespace_on_get_is_not_found(registry: Registry) -> None:
    await expect_status(store_of(registry, "", "namespaces").get("", "nope"), 404, "NotFound")


async def test_stop_finishes_while_a_namespace_is_terminating() -> None:
    registry = await start_registry()
    namespaces = store_of(registry, "", "namespaces")
    await namespaces.create("", {"metadata": {"name": "stuck"}}, ctx())
    await store_of(registry, "", "configmaps").create(
        "stuck", configmap("held", finalizers=["example.com/hold"]), ctx()
    )
    await namespaces.delete("", "stuck", DeleteOptions(), ctx())
    # stop while the namespace finalizer is still busy with the namespace's content
    try:
        await asyncio.wait_for(registry.stop(), 5.0)
    except TimeoutError:
        pytest.fail("Registry.stop() hangs while a namespace is being finalized")
