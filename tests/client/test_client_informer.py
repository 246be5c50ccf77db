"""Informers over both transports: ordered add/update/delete, indexes, late handlers, selectors,
recovery from a 410 by relisting (no lost or duplicated objects), and a clean stop."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client import reflector
from kubelite.client.cache import OWNER_UID_INDEX, index_by_owner_uid
from kubelite.client.client import ResourceClient
from kubelite.client.informer import Informer
from tests.client.client_harness import Cluster, Recorder, configmap, eventually

SELECTED = {"informer": "yes"}


def configmaps(cluster: Cluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace)


async def started(cluster: Cluster, recorder: Recorder, **kwargs: object) -> Informer:
    informer = Informer(configmaps(cluster), label_selector="informer=yes", **kwargs)  # type: ignore[arg-type]
    informer.add_handler(recorder.on_add, recorder.on_update, recorder.on_delete)
    informer.start()
    assert await informer.wait_for_sync(10), "informer did not sync"
    assert informer.has_synced()
    return informer


async def test_sees_adds_updates_and_deletes_in_order(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    await cms.create(configmap("before", {"v": "0"}, SELECTED))
    recorder = Recorder()
    informer = await started(cluster, recorder)
    try:
        assert recorder.summary() == [("add", "before")]
        created = await cms.create(configmap("a", {"v": "1"}, SELECTED))
        await cms.create(configmap("unselected", {"v": "1"}))
        created["data"] = {"v": "2"}
        updated = await cms.update(created)
        await cms.delete("a")
        await cms.create(configmap("b", {"v": "1"}, SELECTED))
        await eventually(lambda: len(recorder.events) >= 5, what="five informer events")
        await asyncio.sleep(0.1)
        assert recorder.summary() == [("add", "before"), ("add", "a"), ("update", "a"), ("delete", "a"), ("add", "b")]
        update = recorder.events[2]
        assert update[2] == updated["metadata"]["resourceVersion"]
        assert update[3] == created["metadata"]["resourceVersion"]
        assert sorted(informer.cache.list_keys()) == [f"{cluster.namespace}/b", f"{cluster.namespace}/before"]
        cached = informer.cache.get_by_name(cluster.namespace, "b")
        assert cached is not None and cached["data"] == {"v": "1"}
    finally:
        await informer.stop()


async def test_indexes_follow_changes(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    owner = await cms.create(configmap("owner", {}, SELECTED))
    owner_uid = owner["metadata"]["uid"]
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
    recorder = Recorder()
    informer = await started(cluster, recorder, indexers={OWNER_UID_INDEX: index_by_owner_uid})
    try:
        child = await cms.create(configmap("child", {}, SELECTED, ownerReferences=[reference]))
        await eventually(lambda: informer.cache.index_keys(OWNER_UID_INDEX, owner_uid) == [f"{cluster.namespace}/child"])
        assert [o["metadata"]["name"] for o in informer.cache.list_namespace(cluster.namespace)] == ["child", "owner"]
        child["metadata"]["ownerReferences"] = []
        await cms.update(child)
        await eventually(lambda: informer.cache.index_keys(OWNER_UID_INDEX, owner_uid) == [], what="index entry removed")
        assert informer.cache.by_index(OWNER_UID_INDEX, owner_uid) == []
    finally:
        await informer.stop()


async def test_late_handler_gets_existing_objects(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    await cms.create(configmap("one", {}, SELECTED))
    informer = await started(cluster, Recorder())
    try:
        late = Recorder()
        informer.add_handler(on_add=late.on_add)
        assert late.summary() == [("add", "one")]
    finally:
        await informer.stop()


async def test_relists_after_410_without_losing_or_duplicating(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    for name in ("keep", "change", "remove"):
        await cms.create(configmap(name, {"v": "1"}, SELECTED))
    recorder = Recorder()
    informer = await started(cluster, recorder)
    try:
        assert sorted(recorder.summary()) == [("add", "change"), ("add", "keep"), ("add", "remove")]
        recorder.events.clear()
        cluster.transport.close_gate()  # the informer misses everything from here on
        change = await cms.get("change")
        change["data"] = {"v": "2"}
        await cms.update(change)
        await cms.delete("remove")
        await cms.create(configmap("new", {"v": "1"}, SELECTED))
        churn = await cms.create(configmap("churn", {"n": "0"}))  # unselected: fills the window only
        for n in range(1, 25):
            churn["data"] = {"n": str(n)}
            churn = await cms.update(churn)
        await cluster.expire_watch_positions()
        relists = informer.reflector.relists
        cluster.transport.open_gate()

        def caught_up() -> bool:
            return sorted(informer.cache.list_keys()) == [f"{cluster.namespace}/{n}" for n in ("change", "keep", "new")]

        await eventually(caught_up, timeout=20, what="the informer to catch up")
        await asyncio.sleep(0.2)
        assert informer.reflector.relists > relists, "the resumed watch should have been refused with 410"
        assert sorted(recorder.summary()) == [("add", "new"), ("delete", "remove"), ("update", "change")]
        cached = informer.cache.get_by_name(cluster.namespace, "change")
        assert cached is not None and cached["data"] == {"v": "2"}
        # and it keeps following
        await cms.delete("keep")
        await eventually(lambda: recorder.of("keep") == ["delete"], what="a delete after the relist")
    finally:
        await informer.stop()


async def test_stop_ends_the_watch(cluster: Cluster) -> None:
    informer = await started(cluster, Recorder())
    task = informer._task
    await informer.stop()
    assert task is not None and task.done()
    if cluster.registry is not None:
        store = cluster.registry.store("", "v1", "configmaps")
        assert store is not None
        await eventually(lambda: not store.cache.watchers, what="the in-process watcher to close")


async def test_ended_streams_resume_without_relisting(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reflector, "WATCH_TIMEOUT_MIN", 0.5)  # the server ends each watch within 1s
    cms = configmaps(cluster)
    recorder = Recorder()
    informer = await started(cluster, recorder)
    try:
        await eventually(lambda: len(cluster.transport.watched_from) >= 3, what="watches to end and resume")
        await cms.create(configmap("late", {}, SELECTED))
        await eventually(lambda: recorder.of("late") == ["add"], what="the add")
        await asyncio.sleep(1.5)  # more streams end and resume meanwhile
        assert recorder.summary() == [("add", "late")]
        assert informer.reflector.relists == 0
        resumed = cluster.transport.watched_from
        assert all(int(a) <= int(b) for a, b in zip(resumed, resumed[1:], strict=False))
    finally:
        await informer.stop()
