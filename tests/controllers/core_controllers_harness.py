"""Helpers for the tests of the garbage collector, namespace, service account and endpoints
controllers: a real in-process Registry (MemoryBackend) reached through InProcessTransport, with
the registry's own stand-ins for those controllers switched as a test needs, plus small builders.

Must not reach into controller internals beyond their public API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client, ResourceClient
from kubelite.registry.registry import Registry
from tests.client.client_harness import eventually, unique_namespace
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]

__all__ = ["Env", "environment", "eventually", "exists", "unique_namespace"]


@dataclass
class Env:
    registry: Registry
    client: Client
    namespace: str

    def rc(self, group: str, version: str, resource: str, namespace: str | None = None) -> ResourceClient:
        client = self.client.resource(group, version, resource)
        return client.namespace(namespace or self.namespace) if client.ref.namespaced else client

    def configmaps(self, namespace: str | None = None) -> ResourceClient:
        return self.rc("", "v1", "configmaps", namespace)


@contextlib.asynccontextmanager
async def environment(*, gc_running: bool = False, lifecycle_inside: bool = True) -> AsyncIterator[Env]:
    """A started registry with a fresh test namespace. `gc_running` makes orphan/foreground
    deletions add their finalizers; `lifecycle_inside=False` stops the registry from emptying
    namespaces and creating default ServiceAccounts itself."""
    registry = await start_registry()
    registry.garbage_collector_running = gc_running
    registry.namespace_lifecycle_inside = lifecycle_inside
    client = Client(InProcessTransport(registry, manager="controller-tests", bookmark_every=0.5))
    namespace = unique_namespace()
    await client.resource("", "v1", "namespaces").create({"metadata": {"name": namespace}})
    try:
        yield Env(registry, client, namespace)
    finally:
        await client.close()
        await asyncio.wait_for(registry.stop(), 5.0)


async def exists(rc: ResourceClient, name: str) -> bool:
    try:
        await rc.get(name)
    except StatusError as err:
        if err.code == 404:
            return False
        raise
    return True
