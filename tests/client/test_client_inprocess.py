"""InProcessTransport specifics: what it hands out is the caller's to keep and change (objects,
list items, watch events, write results) without touching what the server serves; bookmarks;
watchers released when the stream is closed; the user and field manager of its writes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client, ResourceClient
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from tests.client.client_harness import configmap, expect_status
from tests.registry.registry_harness import start_registry


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = await start_registry()
    try:
        yield reg
    finally:
        await asyncio.wait_for(reg.stop(), 5)


def configmaps(registry: Registry, **kwargs: object) -> ResourceClient:
    transport = InProcessTransport(registry, **kwargs)  # type: ignore[arg-type]
    return Client(transport).resource("", "v1", "configmaps").namespace("default")


async def served(registry: Registry, name: str) -> dict[str, str]:
    store = registry.store("", "v1", "configmaps")
    assert store is not None
    return (await store.get("default", name))["data"]


async def test_returned_objects_belong_to_the_caller(registry: Registry) -> None:
    cms = configmaps(registry)
    created = await cms.create(configmap("a", {"k": "v"}))
    created["data"]["k"] = "changed"
    got = await cms.get("a")
    got["data"]["k"] = "changed"
    listed = await cms.list()
    listed["items"][0]["data"]["k"] = "changed"
    assert await served(registry, "a") == {"k": "v"}
    same = await cms.update(await cms.get("a"))  # a no-op write answers with the stored object
    same["data"]["k"] = "changed"
    patched = await cms.patch("a", {"metadata": {"labels": {"l": "1"}}})
    patched["data"]["k"] = "changed"
    assert await served(registry, "a") == {"k": "v"}


async def test_inputs_are_not_modified(registry: Registry) -> None:
    cms = configmaps(registry)
    sent = configmap("a", {"k": "v"})
    await cms.create(sent)
    assert sent == configmap("a", {"k": "v"})
    current = await cms.get("a")
    replacement = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": current["metadata"]["resourceVersion"]}, "data": {"k": "w"}}
    snapshot = {**replacement, "metadata": dict(replacement["metadata"])}  # type: ignore[dict-item]
    await cms.update(replacement)
    assert replacement == snapshot


async def test_watch_events_are_copies(registry: Registry) -> None:
    cms = configmaps(registry)
    await cms.create(configmap("a", {"k": "v"}))
    async with contextlib.aclosing(cms.watch()) as events:
        event = await anext(events)
        assert event.type == "ADDED"
        event.object["data"]["k"] = "changed"
        await cms.patch("a", {"data": {"k2": "v2"}})
        modified = await anext(events)
        modified.object["data"]["k2"] = "changed"
    assert await served(registry, "a") == {"k": "v", "k2": "v2"}


async def test_bookmarks_carry_the_current_revision(registry: Registry) -> None:
    cms = configmaps(registry, bookmark_every=0.05)
    listed = await cms.list()
    # another resource moves the revision on; a quiet watch still learns it
    await Client(InProcessTransport(registry)).resource("", "v1", "namespaces").create({"metadata": {"name": "other"}})
    revision = registry.watch_cache.revision
    assert revision > int(listed["metadata"]["resourceVersion"])
    async with contextlib.aclosing(cms.watch(resource_version=listed["metadata"]["resourceVersion"], allow_bookmarks=True)) as events:
        event = await asyncio.wait_for(anext(events), 2)
    assert event.type == "BOOKMARK"
    assert event.object["kind"] == "ConfigMap" and event.object["apiVersion"] == "v1"
    assert int(event.object["metadata"]["resourceVersion"]) >= revision  # (the namespace's service account may follow)


async def test_no_bookmarks_unless_asked_and_timeouts_end_the_stream(registry: Registry) -> None:
    cms = configmaps(registry, bookmark_every=0.01)
    listed = await cms.list()
    seen = []
    async with contextlib.aclosing(cms.watch(resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=0.2)) as events:
        async for event in events:
            seen.append(event)
    assert seen == []


async def test_closing_the_stream_releases_the_watcher(registry: Registry) -> None:
    cms = configmaps(registry)
    store = registry.store("", "v1", "configmaps")
    assert store is not None
    before = len(store.cache.watchers)
    events = cms.watch()
    await cms.create(configmap("a"))
    await anext(events)
    assert len(store.cache.watchers) == before + 1
    await events.aclose()
    assert len(store.cache.watchers) == before


async def test_writes_name_the_transport_manager_and_user(registry: Registry) -> None:
    cms = configmaps(registry, manager="my-controller")
    created = await cms.create(configmap("a"))
    assert [m["manager"] for m in created["metadata"]["managedFields"]] == ["my-controller"]
    patched = await cms.patch("a", {"data": {"x": "1"}}, field_manager="explicit")
    assert {m["manager"] for m in patched["metadata"]["managedFields"]} == {"my-controller", "explicit"}
    reviews = Client(InProcessTransport(registry, UserInfo("alice", ("devs",)))).resource(
        "authentication.k8s.io", "v1", "selfsubjectreviews"
    )
    review = await reviews.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"]["username"] == "alice"


async def test_unknown_subresources_and_forced_non_apply_patches_are_refused(registry: Registry) -> None:
    cms = configmaps(registry)
    await cms.create(configmap("a"))
    await expect_status(cms.get("a", subresource="scale"), 404)
    await expect_status(cms.patch("a", {"data": {}}, force=True), 422, "Invalid")


async def test_components_read_without_managed_fields_and_writes_keep_them(registry: Registry) -> None:
    admin = configmaps(registry)
    component = configmaps(registry, without_managed_fields=True)
    created = await admin.create(configmap("trimmed", {"a": "1"}), field_manager="creator")
    assert created["metadata"]["managedFields"]

    listed = (await component.list())["items"]
    assert [item["metadata"]["name"] for item in listed] == ["trimmed"]
    assert "managedFields" not in listed[0]["metadata"]
    watch = component.watch(resource_version=created["metadata"]["resourceVersion"])
    try:
        changed = dict(listed[0], data={"a": "2"})
        await component.update(changed, field_manager="changer")
        event = await asyncio.wait_for(anext(watch), 5)
    finally:
        await watch.aclose()
    assert event.type == "MODIFIED" and "managedFields" not in event.object["metadata"]
    managers = {entry["manager"] for entry in (await admin.get("trimmed"))["metadata"]["managedFields"]}
    assert managers == {"creator", "changer"}
    # the stored object still has them: the trimming is a view
    store = registry.store("", "v1", "configmaps")
    assert store is not None and (await store.get("default", "trimmed"))["metadata"]["managedFields"]
