"""Watches through Store.watch and the watch cache: initial ADDED events, resuming from a list's
resourceVersion, selector transitions, the event window (410), slow watchers, and shared encoding."""

from __future__ import annotations

import copy

import orjson
import pytest
from registry_harness import (
    configmap,
    ctx,
    expect_status,
    next_events,
    no_more_events,
    start_registry,
    store_of,
    summarize,
)

from kubelite.registry import watchcache
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions
from kubelite.registry.watchcache import CachedEvent
from kubelite.storage.memory import MemoryBackend


@pytest.mark.parametrize("rv", ["", "0"])
async def test_watch_without_resource_version_starts_with_synthetic_added(
    registry: Registry, rv: str
) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("b"), ctx())
    await cms.create("default", configmap("a"), ctx())
    watcher, initial = cms.watch("default", ListOptions(resource_version=rv))
    try:
        assert [(kind, obj["metadata"]["name"]) for kind, obj in initial] == [("ADDED", "a"), ("ADDED", "b")]
        await cms.create("default", configmap("c"), ctx())
        events = await next_events(watcher, 1)
        assert summarize(events) == [("ADDED", "c")]
    finally:
        watcher.close()


async def test_initial_events_respect_namespace_and_selector(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("a", labels={"app": "x"}), ctx())
    await cms.create("default", configmap("b"), ctx())
    await cms.create("other", configmap("c", labels={"app": "x"}), ctx())
    watcher, initial = cms.watch("default", ListOptions(label_selector="app=x"))
    watcher.close()
    assert [obj["metadata"]["name"] for _, obj in initial] == ["a"]
    all_ns, initial_all = cms.watch(None, ListOptions(label_selector="app=x"))
    all_ns.close()
    assert [obj["metadata"]["name"] for _, obj in initial_all] == ["a", "c"]


async def test_watch_resumes_from_a_list_resource_version(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("before"), ctx())
    listed = await cms.list("default", ListOptions())
    a = await cms.create("default", configmap("a", {"v": "1"}), ctx())
    a["data"] = {"v": "2"}
    await cms.update("default", "a", a, ctx())
    await cms.delete("default", "a", DeleteOptions(), ctx())
    await cms.create("default", configmap("b"), ctx())

    watcher, initial = cms.watch("default", ListOptions(resource_version=listed.resource_version))
    try:
        assert initial == []
        events = await next_events(watcher, 4)
        assert summarize(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "b")]
        revisions = [event.revision for _, event in events]
        assert revisions == sorted(revisions) and len(set(revisions)) == 4
        assert all(r > int(listed.resource_version) for r in revisions)
        assert [event.obj["metadata"]["resourceVersion"] for _, event in events] == [
            str(r) for r in revisions
        ]
        assert events[1][1].obj["data"] == {"v": "2"}
        # the DELETED event carries the last state at the delete's revision
        assert events[2][1].obj["data"] == {"v": "2"}
        # and it goes on with live events
        await cms.create("default", configmap("c"), ctx())
        assert summarize(await next_events(watcher, 1)) == [("ADDED", "c")]
    finally:
        watcher.close()


async def test_watch_from_resource_version_skips_other_namespaces(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    listed = await cms.list("default", ListOptions())
    await cms.create("other", configmap("elsewhere"), ctx())
    await cms.create("default", configmap("here"), ctx())
    watcher, _ = cms.watch("default", ListOptions(resource_version=listed.resource_version))
    try:
        assert summarize(await next_events(watcher, 1)) == [("ADDED", "here")]
        await no_more_events(watcher)
    finally:
        watcher.close()


async def test_watch_only_sees_its_resource(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    watcher, _ = cms.watch("default", ListOptions())
    try:
        await store_of(registry, "", "secrets").create(
            "default", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, ctx()
        )
        await no_more_events(watcher)
    finally:
        watcher.close()


async def test_filtered_watch_turns_modifications_into_added_and_deleted(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    obj = await cms.create("default", configmap("c"), ctx())
    watcher, initial = cms.watch("default", ListOptions(label_selector="app=web"))
    try:
        assert initial == []
        obj["metadata"]["labels"] = {"app": "web"}
        obj, _ = await cms.update("default", "c", obj, ctx())  # enters the selector
        obj["data"] = {"k": "v"}
        obj, _ = await cms.update("default", "c", obj, ctx())  # stays in it
        obj["metadata"]["labels"] = {"app": "db"}
        obj, _ = await cms.update("default", "c", obj, ctx())  # leaves it
        obj["data"] = {"k": "w"}
        obj, _ = await cms.update("default", "c", obj, ctx())  # stays outside
        await cms.delete("default", "c", DeleteOptions(), ctx())  # deleted while outside
        events = await next_events(watcher, 3)
        assert summarize(events) == [("ADDED", "c"), ("MODIFIED", "c"), ("DELETED", "c")]
        await no_more_events(watcher)
    finally:
        watcher.close()


async def test_filtered_watch_sees_deletes_of_matching_objects(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", labels={"app": "web"}), ctx())
    watcher, initial = cms.watch("default", ListOptions(label_selector="app=web"))
    try:
        assert len(initial) == 1
        await cms.delete("default", "c", DeleteOptions(), ctx())
        assert summarize(await next_events(watcher, 1)) == [("DELETED", "c")]
    finally:
        watcher.close()


async def test_field_selector_watch(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    watcher, _ = cms.watch("default", ListOptions(field_selector="metadata.name=wanted"))
    try:
        await cms.create("default", configmap("other"), ctx())
        await cms.create("default", configmap("wanted"), ctx())
        assert summarize(await next_events(watcher, 1)) == [("ADDED", "wanted")]
        await no_more_events(watcher)
    finally:
        watcher.close()


async def test_watch_with_unsupported_field_selector_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")

    async def open_watch() -> None:
        cms.watch("default", ListOptions(field_selector="data.x=y"))

    await expect_status(open_watch(), 400, "BadRequest")


async def test_watch_from_resource_version_older_than_the_window_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watchcache, "EVENT_WINDOW", 5)
    registry = await start_registry()
    try:
        cms = store_of(registry, "", "configmaps")
        first = await cms.create("default", configmap("c0"), ctx())
        for i in range(1, 10):
            await cms.create("default", configmap(f"c{i}"), ctx())
        old_rv = first["metadata"]["resourceVersion"]

        async def open_watch(rv: str) -> None:
            watcher, _ = cms.watch("default", ListOptions(resource_version=rv))
            watcher.close()

        error = await expect_status(open_watch(old_rv), 410, "Expired")
        assert error.message.startswith(f"too old resource version: {old_rv} (")
        # a recent resourceVersion is still served
        recent = await cms.list("default", ListOptions())
        watcher, _ = cms.watch("default", ListOptions(resource_version=str(int(recent.resource_version) - 2)))
        try:
            assert summarize(await next_events(watcher, 2)) == [("ADDED", "c8"), ("ADDED", "c9")]
        finally:
            watcher.close()
    finally:
        await registry.stop()


async def test_watch_from_before_the_cache_started_is_gone() -> None:
    backend = MemoryBackend()
    first = await start_registry(backend)
    cms = store_of(first, "", "configmaps")
    created = await cms.create("default", configmap("early"), ctx())
    await cms.create("default", configmap("later"), ctx())
    await first.stop()

    second = await start_registry(backend, namespaces=())
    try:
        cms2 = store_of(second, "", "configmaps")
        assert [o["metadata"]["name"] for o in (await cms2.list("default", ListOptions())).items] == [
            "early",
            "later",
        ]

        async def open_watch() -> None:
            cms2.watch("default", ListOptions(resource_version=created["metadata"]["resourceVersion"]))

        await expect_status(open_watch(), 410, "Expired")
    finally:
        await second.stop()


async def test_slow_watcher_is_closed_when_its_queue_overflows(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchcache, "WATCHER_QUEUE_LIMIT", 5)
    cms = store_of(registry, "", "configmaps")
    slow, _ = cms.watch("default", ListOptions())
    fast, _ = cms.watch("default", ListOptions())
    received = []
    for i in range(8):
        await cms.create("default", configmap(f"c{i}"), ctx())
        batch = await fast.next_batch(1.0)
        assert batch
        received.extend(batch)
    try:
        assert slow.closed and slow.overflowed
        assert slow not in cms.cache.watchers
        # what was queued before the overflow is still delivered, then the watcher ends
        queued = await slow.next_batch(0.1)
        assert queued is not None and summarize(queued) == [("ADDED", f"c{i}") for i in range(5)]
        assert await slow.next_batch(0.1) is None
        # the reader that kept up is unaffected
        assert not fast.closed
        assert summarize(received) == [("ADDED", f"c{i}") for i in range(8)]
    finally:
        fast.close()


async def test_closed_watcher_leaves_the_cache(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    watcher, _ = cms.watch("default", ListOptions())
    assert watcher in cms.cache.watchers
    watcher.close()
    assert watcher not in cms.cache.watchers
    assert await watcher.next_batch(0.1) is None
    await cms.create("default", configmap("after"), ctx())
    assert not watcher.queue, "a closed watcher was offered a new event"


async def test_watchers_share_one_event_and_its_encoding(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    watchers = [cms.watch("default", ListOptions())[0] for _ in range(3)]
    try:
        await cms.create("default", configmap("shared", {"k": "v"}), ctx())
        delivered: list[CachedEvent] = []
        for watcher in watchers:
            [(kind, event)] = await next_events(watcher, 1)
            assert kind == "ADDED"
            delivered.append(event)
        assert all(event is delivered[0] for event in delivered)

        calls: list[tuple[str, str]] = []

        def encoder(fmt: str):  # type: ignore[no-untyped-def]
            def encode(event_type: str, obj: dict) -> bytes:  # type: ignore[type-arg]
                calls.append((event_type, fmt))
                return orjson.dumps({"type": event_type, "object": obj, "fmt": fmt})

            return encode

        outputs = [event.encoded("ADDED", "json", encoder("json")) for event in delivered]
        assert calls == [("ADDED", "json")]
        assert all(out is outputs[0] for out in outputs)
        assert orjson.loads(outputs[0])["object"]["metadata"]["name"] == "shared"
        protobuf = [event.encoded("ADDED", "protobuf", encoder("protobuf")) for event in delivered]
        assert calls == [("ADDED", "json"), ("ADDED", "protobuf")]
        assert protobuf[0] != outputs[0]
        # a watcher that sees the event under another type (selector transition) gets its own bytes
        delivered[0].encoded("DELETED", "json", encoder("json"))
        assert calls[-1] == ("DELETED", "json") and len(calls) == 3
    finally:
        for watcher in watchers:
            watcher.close()


async def test_watch_event_objects_are_not_mutated_by_later_writes(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    watcher, _ = cms.watch("default", ListOptions())
    try:
        created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
        [(_, added)] = await next_events(watcher, 1)
        snapshot = copy.deepcopy(added.obj)
        created["data"] = {"v": "2"}
        await cms.update("default", "c", created, ctx())
        [(_, modified)] = await next_events(watcher, 1)
        assert added.obj == snapshot
        assert modified.obj["data"] == {"v": "2"}
        assert modified.prev is not None and modified.prev["data"] == {"v": "1"}
    finally:
        watcher.close()


async def test_send_initial_events_with_a_resource_version(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("a"), ctx())
    watcher, initial = cms.watch(
        "default", ListOptions(resource_version=created["metadata"]["resourceVersion"]), send_initial=True
    )
    watcher.close()
    assert [(kind, obj["metadata"]["name"]) for kind, obj in initial] == [("ADDED", "a")]


async def test_frozen_events_replay_like_fresh_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events older than HOT_EVENTS keep only bytes; a watch resuming across them, filtered by a
    selector, sees the same types, objects and resourceVersions as one that saw them live."""
    monkeypatch.setattr(watchcache, "HOT_EVENTS", 2)
    registry = await start_registry()
    try:
        cms = store_of(registry, "", "configmaps")
        start = (await cms.list("default", ListOptions())).resource_version
        live, _ = cms.watch("default", ListOptions(resource_version=start, label_selector="app=x"))
        obj = await cms.create("default", configmap("a", labels={"app": "x"}), ctx())
        obj["data"] = {"k": "1"}
        obj, _ = await cms.update("default", "a", obj, ctx())
        obj["metadata"]["labels"] = {"app": "y"}  # leaves the selection: DELETED for the watcher
        obj, _ = await cms.update("default", "a", obj, ctx())
        obj["metadata"]["labels"] = {"app": "x"}  # comes back: ADDED
        await cms.update("default", "a", obj, ctx())
        await cms.delete("default", "a", DeleteOptions(), ctx())
        await cms.create("default", configmap("b"), ctx())
        await cms.create("default", configmap("c"), ctx())
        expected = [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "a"), ("DELETED", "a")]
        seen_live = await next_events(live, 5)
        live.close()
        resource = next(cache for prefix, cache in registry.watch_cache.caches.items() if prefix.endswith("/configmaps/"))
        frozen = [event for event in resource.events if event._obj is None]
        assert len(frozen) >= 5, "the early events were not frozen"
        replay, _ = cms.watch("default", ListOptions(resource_version=start, label_selector="app=x"))
        try:
            seen_again = await next_events(replay, 5)
        finally:
            replay.close()
        assert summarize(seen_live) == summarize(seen_again) == expected
        for (_, before), (_, after) in zip(seen_live, seen_again, strict=True):
            assert before.obj == after.obj
            assert after.obj["metadata"]["resourceVersion"] == str(after.revision)
        modified = seen_again[1][1]
        assert modified.prev is not None and "data" not in modified.prev and modified.obj["data"] == {"k": "1"}
        assert modified.prev["metadata"]["resourceVersion"] == seen_again[0][1].obj["metadata"]["resourceVersion"]
    finally:
        await registry.stop()
