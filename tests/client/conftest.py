"""Fixtures for the client tests: `cluster` runs a test once per transport — in-process over a
real Registry on a MemoryBackend (watch cache window shrunk so a test can outrun it), and HTTP
against a real `kubelite server` process (one per test module, started only when used)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.http import from_kubeconfig
from kubelite.client.transport import Transport
from kubelite.registry import watchcache
from tests.client.client_harness import Cluster, GatedTransport, ServerHandle, unique_namespace
from tests.registry.registry_harness import start_registry

SMALL_WINDOW = 16  # events the in-process watch cache keeps per resource
STOP_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def kubelite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    handle = ServerHandle(tmp_path_factory.mktemp("kubelite-client"))
    yield handle
    handle.stop()


@pytest.fixture(params=["inprocess", "http"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "http":
        request.getfixturevalue("kubelite_server")
    return str(request.param)


@contextlib.asynccontextmanager
async def make_cluster(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    registry = None
    server: ServerHandle | None = None
    if kind == "inprocess":
        monkeypatch.setattr(watchcache, "EVENT_WINDOW", SMALL_WINDOW)
        registry = await start_registry()
        reg = registry

        def make() -> Transport:
            return InProcessTransport(reg, manager="client-tests", bookmark_every=0.5)
    else:
        server = request.getfixturevalue("kubelite_server")
        handle = server

        def make() -> Transport:
            return from_kubeconfig(handle.kubeconfig, user_agent="client-tests/1.0")

    gated = GatedTransport(make())
    client = Client(gated)  # type: ignore[arg-type]
    namespace = unique_namespace()
    await client.resource("", "v1", "namespaces").create({"metadata": {"name": namespace}})
    result = Cluster(kind, gated, client, namespace, registry, server, make)
    try:
        yield result
    finally:
        for transport in [gated.inner, *result.extra_transports]:
            await transport.close()
        if registry is not None:
            await asyncio.wait_for(registry.stop(), STOP_TIMEOUT)


@pytest.fixture
async def cluster(transport_kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    """The test runs once per transport."""
    async with make_cluster(transport_kind, request, monkeypatch) as made:
        yield made


@pytest.fixture
async def inprocess_cluster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    """For tests that drive time with a FakeClock, which needs the server in this process."""
    async with make_cluster("inprocess", request, monkeypatch) as made:
        yield made
