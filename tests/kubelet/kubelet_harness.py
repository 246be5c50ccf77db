"""Helpers for the kubelet tests: a client over a real in-process Registry (with the namespaces a
cluster bootstraps), pod builders, and driving a FakeClock while the loop does the work.

Must not reach into kubelet internals beyond what a test needs to observe.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]


@asynccontextmanager
async def cluster_client() -> AsyncIterator[Client]:
    registry = await start_registry(namespaces=("default", "kube-node-lease"))
    client = Client(InProcessTransport(registry, manager="kubelet-tests", bookmark_every=0.5))
    try:
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(registry.stop(), 5.0)


def pod(name: str, node: str = "", namespace: str = "default", **spec: Any) -> Obj:
    body: Obj = {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": body}


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "condition", clock: FakeClock | None = None, step: float = 0.0
) -> None:
    """Poll `condition` (advancing the fake clock by `step` between polls) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        if clock is not None and step:
            clock.advance(step)
        await asyncio.sleep(0.01)


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None
