"""Helpers for the registry tests: a real Registry over a MemoryBackend, object builders, and small
async utilities (waiting for a condition, reading watch events, expecting a Status error).

Must not reach into registry internals beyond what a caller of Store/Registry would use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.registry.context import RequestContext
from kubelite.registry.registry import Registry
from kubelite.registry.store import Store
from kubelite.registry.watchcache import CachedEvent, Watcher
from kubelite.schema.builtins import default_catalogue
from kubelite.schema.definitions import Definitions
from kubelite.storage.memory import MemoryBackend

Obj = dict[str, Any]


async def start_registry(
    backend: MemoryBackend | None = None, namespaces: tuple[str, ...] = ("default",)
) -> Registry:
    registry = Registry(backend or MemoryBackend(), default_catalogue(), Definitions.load())
    await registry.start()
    for name in namespaces:
        await store_of(registry, "", "namespaces").create("", {"metadata": {"name": name}}, ctx())
    return registry


def ctx(**kwargs: Any) -> RequestContext:
    kwargs.setdefault("field_manager", "tests")
    return RequestContext(**kwargs)


def store_of(registry: Registry, group: str, resource: str, version: str = "") -> Store:
    store = registry.store(group, version, resource) if version else registry.store_for(group, resource)
    assert store is not None, f"no store for {resource}.{group}"
    return store


def configmap(
    name: str = "", data: dict[str, str] | None = None, labels: dict[str, str] | None = None, **meta: Any
) -> Obj:
    metadata: Obj = {"name": name, **meta} if name else dict(meta)
    if labels:
        metadata["labels"] = labels
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    if data is not None:
        obj["data"] = data
    return obj


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def pod(name: str, node: str = "", labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    metadata: Obj = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def service(
    name: str, kind: str = "ClusterIP", cluster_ip: str = "", node_port: int = 0, port: int = 80
) -> Obj:
    port_spec: Obj = {"port": port, "protocol": "TCP", "targetPort": port}
    if node_port:
        port_spec["nodePort"] = node_port
    spec: Obj = {"type": kind, "selector": {"app": name}, "ports": [port_spec]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await condition():
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def next_events(watcher: Watcher, count: int, timeout: float = 2.0) -> list[tuple[str, CachedEvent]]:
    """Exactly `count` events from `watcher` (fails on timeout or when the watcher closes first)."""
    events: list[tuple[str, CachedEvent]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(events) < count:
        remaining = deadline - loop.time()
        if remaining <= 0:
            pytest.fail(f"got {len(events)} of {count} watch events: {summarize(events)}")
        batch = await watcher.next_batch(remaining)
        if batch is None:
            pytest.fail(f"watcher closed after {len(events)} of {count} events: {summarize(events)}")
        events.extend(batch)
    assert len(events) == count, f"more events than expected: {summarize(events)}"
    return events


async def no_more_events(watcher: Watcher, wait: float = 0.2) -> None:
    batch = await watcher.next_batch(wait)
    assert batch == [], f"unexpected events: {summarize(batch or [])}"


def summarize(events: list[tuple[str, CachedEvent]]) -> list[tuple[str, str]]:
    return [(kind, event.name) for kind, event in events]


async def expect_status(awaitable: Awaitable[Any], code: int, reason: str | None = None) -> StatusError:
    with pytest.raises(StatusError) as caught:
        await awaitable
    error = caught.value
    assert error.code == code, f"expected {code}, got {error!r}"
    if reason is not None:
        assert error.reason == reason, f"expected reason {reason}, got {error!r}"
    return error


async def revision_of(registry: Registry) -> int:
    return await registry.backend.current_revision()
