"""Helpers for the client tests: a cluster reachable through either transport (in-process over a
real Registry, or HTTP to a real `kubelite server` process), a transport wrapper whose watch
streams a test can cut and hold back, a recorder of informer events, and polling.

Must not reach into client internals beyond what a component using the client would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.transport import ResourceRef, Transport, TransportError, WatchEvent, WatchOptions
from kubelite.registry.registry import Registry
from tests.e2e.server_harness import RunningServer, start_server

Obj = dict[str, Any]


class ServerHandle:
    """A `kubelite server` process that a test may restart on the same data dir and port."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.running = self._start(None)

    def _start(self, port: int | None) -> RunningServer:
        running = start_server(self.data_dir, "--disable-controller-manager", "--disable-scheduler", port=port)
        return running

    @property
    def kubeconfig(self) -> Path:
        return self.running.kubeconfig

    def restart(self) -> None:
        port = self.running.port
        self.running.stop()
        self.running = self._start(port)

    def stop(self) -> None:
        self.running.stop()


class GatedTransport:
    """Forwards everything to `inner`; `close_gate()` ends the open watch streams and holds new
    watches back until `open_gate()` (so a test can make a watcher miss events)."""

    def __init__(self, inner: Transport):
        self.inner = inner
        self.watched_from: list[str] = []
        self._open = asyncio.Event()
        self._open.set()
        self._cut = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close_gate(self) -> None:
        self._open.clear()
        self._cut.set()

    def open_gate(self) -> None:
        self._cut.clear()
        self._open.set()

    async def watch(self, ref: ResourceRef, namespace: str | None, opts: WatchOptions) -> AsyncGenerator[WatchEvent, None]:
        await self._open.wait()
        self.watched_from.append(opts.resource_version)
        inner = self.inner.watch(ref, namespace, opts)

        async def next_event() -> WatchEvent:
            return await inner.__anext__()

        pending: set[asyncio.Future[Any]] = set()
        try:
            while True:
                following = asyncio.ensure_future(next_event())
                cut = asyncio.ensure_future(self._cut.wait())
                pending = {following, cut}
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if self._cut.is_set():  # even if an event arrived too: it is missed
                    return
                try:
                    event = following.result()
                except StopAsyncIteration:
                    return
                yield event
        finally:
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await inner.aclose()


@dataclass
class Cluster:
    kind: str  # "inprocess" or "http"
    transport: GatedTransport
    client: Client
    namespace: str
    registry: Registry | None = None
    server: ServerHandle | None = None
    make_transport: Callable[[], Transport] | None = None
    extra_transports: list[Transport] = field(default_factory=list)

    def new_client(self) -> Client:
        """Another client of the same cluster with a transport of its own."""
        assert self.make_transport is not None
        transport = self.make_transport()
        self.extra_transports.append(transport)
        return Client(transport)

    async def expire_watch_positions(self) -> None:
        """Make every resourceVersion handed out so far too old to watch from. In-process the
        watch cache window is shrunk (the test has written more than it holds); over HTTP the
        server restarts, and its new watch cache starts at the current revision."""
        if self.server is not None:
            await asyncio.to_thread(self.server.restart)


def unique_namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def configmap(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, **meta}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data or {}}


@dataclass
class Recorder:
    """Informer handler calls as (type, name, resourceVersion[, old resourceVersion])."""

    events: list[tuple[str, ...]] = field(default_factory=list)

    @staticmethod
    def _name(obj: Obj) -> str:
        return str(obj["metadata"]["name"])

    @staticmethod
    def _rv(obj: Obj) -> str:
        return str(obj["metadata"].get("resourceVersion", ""))

    def on_add(self, obj: Obj) -> None:
        self.events.append(("add", self._name(obj), self._rv(obj)))

    def on_update(self, old: Obj, new: Obj) -> None:
        assert self._name(old) == self._name(new)
        self.events.append(("update", self._name(new), self._rv(new), self._rv(old)))

    def on_delete(self, obj: Obj) -> None:
        self.events.append(("delete", self._name(obj), self._rv(obj)))

    def of(self, name: str) -> list[str]:
        return [event[0] for event in self.events if event[1] == name]

    def summary(self) -> list[tuple[str, str]]:
        return [(event[0], event[1]) for event in self.events]


async def eventually(condition: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until `condition` holds (a transport hiccup counts as not yet); fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with contextlib.suppress(TransportError):
            result = condition()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def expect_status(awaitable: Awaitable[Any], code: int, reason: str | None = None) -> StatusError:
    with pytest.raises(StatusError) as caught:
        await awaitable
    error = caught.value
    assert error.code == code, f"expected {code}, got {error!r}"
    if reason is not None:
        assert error.reason == reason, f"expected reason {reason}, got {error!r}"
    return error
