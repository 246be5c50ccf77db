"""The namespace controller against a real in-process registry (whose own namespace sweep is off),
in fake time: content of every resource is deleted after the grace delay, conditions report what
remains with upstream's reasons and messages, and the `kubernetes` finalizer goes last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.clock import FakeClock
from kubelite.controllers.namespace import NamespaceController
from tests.controllers.core_controllers_harness import Env, environment, eventually, exists

Obj = dict[str, Any]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with environment(lifecycle_inside=False) as made:
        yield made


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def controller(env: Env, clock: FakeClock) -> AsyncIterator[NamespaceController]:
    made = NamespaceController(env.client, clock=clock)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def conditions(namespace: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in (namespace.get("status") or {}).get("conditions") or []}


async def fill(env: Env) -> None:
    await env.configmaps().create({"metadata": {"name": "a"}, "data": {"k": "v"}})
    await env.rc("", "v1", "secrets").create({"metadata": {"name": "s"}})
    await env.rc("apps", "v1", "deployments").create(
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            },
        }
    )


async def test_terminating_namespace_is_emptied_then_finalized(env: Env, clock: FakeClock, controller: NamespaceController) -> None:
    await fill(env)
    namespaces = env.rc("", "v1", "namespaces")
    await namespaces.delete(env.namespace)
    await settle()
    clock.advance(4.0)
    await settle()
    assert await exists(env.configmaps(), "a"), "content is left alone during the grace delay"
    clock.advance(1.5)
    await eventually(lambda: _not(exists(namespaces, env.namespace)), what="namespace gone")
    assert not await exists(env.rc("apps", "v1", "deployments"), "web")


async def _not(awaitable: Any) -> bool:
    return not await awaitable


async def test_active_namespace_is_left_alone(env: Env, clock: FakeClock, controller: NamespaceController) -> None:
    await fill(env)
    clock.advance(60.0)
    await settle()
    await asyncio.sleep(0.1)
    assert await exists(env.configmaps(), "a")
    assert "conditions" not in ((await env.rc("", "v1", "namespaces").get(env.namespace)).get("status") or {})


async def test_conditions_report_content_held_by_finalizers(env: Env, clock: FakeClock, controller: NamespaceController) -> None:
    await env.configmaps().create({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    await env.configmaps().create({"metadata": {"name": "free"}})
    namespaces = env.rc("", "v1", "namespaces")
    await namespaces.delete(env.namespace)
    await settle()
    clock.advance(5.0)

    async def reported() -> bool:
        return CONTENT_REMAINING in conditions(await namespaces.get(env.namespace))

    CONTENT_REMAINING = "NamespaceContentRemaining"
    await eventually(reported, what="conditions reported")
    found = conditions(await namespaces.get(env.namespace))
    assert list(found) == [
        "NamespaceDeletionDiscoveryFailure",
        "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure",
        "NamespaceContentRemaining",
        "NamespaceFinalizersRemaining",
    ]
    assert found["NamespaceContentRemaining"]["status"] == "True"
    assert found["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert found["NamespaceContentRemaining"]["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    assert found["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert found["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    )
    assert found["NamespaceDeletionContentFailure"] == {
        **found["NamespaceDeletionContentFailure"],
        "status": "False",
        "reason": "ContentDeleted",
        "message": "All content successfully deleted, may be waiting on finalization",
    }
    assert found["NamespaceDeletionDiscoveryFailure"]["reason"] == "ResourcesDiscovered"
    assert not await exists(env.configmaps(), "free")
    ns = await namespaces.get(env.namespace)
    assert ns["spec"]["finalizers"] == ["kubernetes"]

    await env.configmaps().patch("held", {"metadata": {"finalizers": None}})
    await settle()
    clock.advance(8.0)  # 15/2 + 1 seconds after the last pass
    await eventually(lambda: _not(exists(namespaces, env.namespace)), what="namespace gone once content went")


async def test_custom_resources_are_deleted_too(env: Env, clock: FakeClock, controller: NamespaceController) -> None:
    crds = env.rc("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    await crds.create(
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    }
                ],
            },
        }
    )
    widgets = env.client.resource("example.com", "v1", "widgets", namespaced=True).namespace(env.namespace)

    async def served() -> bool:
        try:
            await widgets.list()
        except Exception:
            return False
        return True

    await eventually(served, what="CRD served")
    await widgets.create({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    namespaces = env.rc("", "v1", "namespaces")
    await namespaces.delete(env.namespace)
    await settle()
    clock.advance(5.0)
    await eventually(lambda: _not(exists(namespaces, env.namespace)), what="namespace gone")
    assert (await widgets.list())["items"] == []
