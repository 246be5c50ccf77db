"""The garbage collector against a real in-process registry: background collection of dangling
dependents, orphaning, foreground deletion with blocking dependents, and references pruned when
a solid owner remains."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.controllers.garbagecollector import GarbageCollector, collectable_resources
from kubelite.schema.builtins import builtin_resources
from tests.controllers.core_controllers_harness import Env, environment, eventually, exists

Obj = dict[str, Any]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with environment(gc_running=True) as made:
        gc = GarbageCollector(made.client)
        await gc.start()
        try:
            yield made
        finally:
            await gc.stop()


def owner_ref(owner: Obj, block: bool = False) -> Obj:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def cm(name: str, *owners: Obj, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


async def gone(env: Env, name: str) -> bool:
    return not await exists(env.configmaps(), name)


def test_collectable_resources_skip_events_bindings_and_duplicate_storage() -> None:
    chosen = {(info.group, info.version, info.resource) for info in collectable_resources(builtin_resources())}
    assert ("", "v1", "pods") in chosen and ("apps", "v1", "replicasets") in chosen
    assert ("", "v1", "namespaces") in chosen
    assert ("", "v1", "events") not in chosen and ("events.k8s.io", "v1", "events") not in chosen
    assert ("", "v1", "bindings") not in chosen
    assert ("autoscaling", "v2", "horizontalpodautoscalers") in chosen
    assert ("autoscaling", "v1", "horizontalpodautoscalers") not in chosen


async def test_background_deletion_collects_dependents_across_resources(env: Env) -> None:
    owner = await env.configmaps().create(cm("owner"))
    await env.configmaps().create(cm("child", owner_ref(owner)))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "child-secret", "ownerReferences": [owner_ref(owner)]}}
    secrets = env.rc("", "v1", "secrets")
    await secrets.create(secret)
    await env.configmaps().delete("owner", propagation_policy="Background")
    await eventually(lambda: gone(env, "child"), what="configmap dependent collected")
    await eventually(lambda: _not(exists(secrets, "child-secret")), what="secret dependent collected")


async def _not(awaitable: Any) -> bool:
    return not await awaitable


async def test_dependent_of_absent_owner_or_other_uid_is_collected(env: Env) -> None:
    real = await env.configmaps().create(cm("real"))
    await env.configmaps().create(cm("no-owner", {**owner_ref(real), "name": "missing", "uid": "0000-missing"}))
    await env.configmaps().create(cm("wrong-uid", {**owner_ref(real), "uid": "0000-other"}))
    await env.configmaps().create(cm("kept", owner_ref(real)))
    await eventually(lambda: gone(env, "no-owner"), what="dependent of a missing owner collected")
    await eventually(lambda: gone(env, "wrong-uid"), what="dependent of a replaced owner collected")
    assert await exists(env.configmaps(), "kept")
    assert await exists(env.configmaps(), "real")


async def test_dangling_reference_beside_solid_owner_is_removed(env: Env) -> None:
    real = await env.configmaps().create(cm("solid"))
    dangling = {**owner_ref(real), "name": "ghost", "uid": "0000-ghost"}
    await env.configmaps().create(cm("mixed", owner_ref(real), dangling))

    async def pruned() -> bool:
        refs = (await env.configmaps().get("mixed"))["metadata"].get("ownerReferences") or []
        return [r["uid"] for r in refs] == [real["metadata"]["uid"]]

    await eventually(pruned, what="dangling reference removed")
    assert await exists(env.configmaps(), "mixed")


async def test_orphan_deletion_keeps_dependents_and_drops_their_references(env: Env) -> None:
    owner = await env.configmaps().create(cm("parent"))
    other = await env.configmaps().create(cm("other-parent"))
    await env.configmaps().create(cm("orphan-1", owner_ref(owner, block=True), owner_ref(other)))
    await env.configmaps().create(cm("orphan-2", owner_ref(owner)))
    await env.configmaps().delete("parent", propagation_policy="Orphan")
    await eventually(lambda: gone(env, "parent"), what="owner gone once orphaning finished")
    one = await env.configmaps().get("orphan-1")
    assert [r["uid"] for r in one["metadata"]["ownerReferences"]] == [other["metadata"]["uid"]]
    two = await env.configmaps().get("orphan-2")
    assert "ownerReferences" not in two["metadata"]


async def test_orphan_finalizer_added_by_hand_is_honoured(env: Env) -> None:
    owner = await env.configmaps().create(cm("held", finalizers=["orphan"]))
    await env.configmaps().create(cm("held-child", owner_ref(owner)))
    await env.configmaps().delete("held")  # no policy: the finalizer alone asks for orphaning
    await eventually(lambda: gone(env, "held"), what="owner with orphan finalizer gone")
    assert "ownerReferences" not in (await env.configmaps().get("held-child"))["metadata"]


async def test_foreground_deletion_waits_for_blocking_dependents(env: Env) -> None:
    owner = await env.configmaps().create(cm("fg"))
    await env.configmaps().create(cm("fg-blocker", owner_ref(owner, block=True), finalizers=["test.kubelite.io/hold"]))
    await env.configmaps().create(cm("fg-free", owner_ref(owner)))
    await env.configmaps().delete("fg", propagation_policy="Foreground")

    async def blocker_terminating() -> bool:
        return bool((await env.configmaps().get("fg-blocker"))["metadata"].get("deletionTimestamp"))

    await eventually(blocker_terminating, what="blocking dependent deleted")
    await eventually(lambda: gone(env, "fg-free"), what="non-blocking dependent collected")
    held = await env.configmaps().get("fg")
    assert "foregroundDeletion" in held["metadata"]["finalizers"]
    assert held["metadata"].get("deletionTimestamp")
    await env.configmaps().patch("fg-blocker", {"metadata": {"finalizers": None}})
    await eventually(lambda: gone(env, "fg"), what="owner gone once no blocking dependent remains")


async def test_foreground_deletion_cascades_through_generations(env: Env) -> None:
    top = await env.configmaps().create(cm("gen-0"))
    middle = await env.configmaps().create(cm("gen-1", owner_ref(top, block=True)))
    await env.configmaps().create(cm("gen-2", owner_ref(middle, block=True)))
    await env.configmaps().delete("gen-0", propagation_policy="Foreground")
    for name in ("gen-2", "gen-1", "gen-0"):
        await eventually(lambda name=name: gone(env, name), what=f"{name} collected")


async def test_foreground_finalizer_without_dependents_is_removed(env: Env) -> None:
    await env.configmaps().create(cm("lonely", finalizers=["foregroundDeletion"]))
    await env.configmaps().delete("lonely")
    await eventually(lambda: gone(env, "lonely"), what="foregroundDeletion finalizer removed")


async def test_cluster_scoped_dependent_of_namespaced_owner_is_left_alone(env: Env) -> None:
    owner = await env.configmaps().create(cm("ns-owner"))
    classes = env.rc("scheduling.k8s.io", "v1", "priorityclasses")
    name = f"{env.namespace}-pc"
    await classes.create(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name, "ownerReferences": [{**owner_ref(owner), "uid": "0000-nope"}]},
            "value": 10,
        }
    )
    # a dangling namespaced dependent created after it is collected: the collector has run past it
    await env.configmaps().create(cm("probe", {**owner_ref(owner), "uid": "0000-nope"}))
    await eventually(lambda: gone(env, "probe"), what="probe collected")
    assert await exists(classes, name)
