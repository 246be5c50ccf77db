"""EtcdBackend beyond the conformance suite: endpoint failover and request failures."""

from __future__ import annotations

import uuid

import pytest
from storage_harness import take

from kubelite.storage.backend import StorageError
from kubelite.storage.etcd import EtcdBackend
from kubelite.storage.etcd_server import free_loopback_ports


def dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_loopback_ports(1)[0]}"


async def test_requests_and_watches_fail_over_to_a_reachable_endpoint(etcd_endpoint: str) -> None:
    backend = EtcdBackend([dead_endpoint(), etcd_endpoint + "/"])
    await backend.start()
    try:
        root = f"/t-{uuid.uuid4().hex[:12]}"
        revision = await backend.create(root + "/k", b"v")
        kv = await backend.get(root + "/k")
        assert kv is not None and kv.mod_revision == revision
        backend._active = 0  # point it back at the dead endpoint: the watch must move on by itself
        events = await take(backend.watch(root + "/", revision - 1), 1)
        assert [e.revision for e in events] == [revision]
    finally:
        await backend.close()


async def test_start_fails_when_no_endpoint_answers() -> None:
    backend = EtcdBackend([dead_endpoint(), dead_endpoint()])
    with pytest.raises(StorageError, match="no etcd endpoint reachable"):
        await backend.start()


async def test_requests_need_start() -> None:
    with pytest.raises(StorageError, match="not started"):
        await EtcdBackend(["http://127.0.0.1:1"]).get("/x")


def test_endpoints_are_required() -> None:
    with pytest.raises(ValueError):
        EtcdBackend([])


async def test_a_broken_watch_stream_resumes_without_gap_or_repeat(etcd_endpoint: str) -> None:
    backend = EtcdBackend([etcd_endpoint])
    await backend.start()
    try:
        root = f"/t-{uuid.uuid4().hex[:12]}"
        first = await backend.create(root + "/a", b"1")
        watch = backend.watch(root + "/", first - 1)
        assert [e.revision for e in await take(watch, 1)] == [first]
        for response in list(backend._streams):
            response.close()  # as if the connection to etcd dropped
        second = await backend.create(root + "/b", b"2")
        third = await backend.update(root + "/a", b"3", first)
        assert [e.revision for e in await take(watch, 2)] == [second, third]
        await watch.aclose()  # type: ignore[attr-defined]
    finally:
        await backend.close()


async def test_large_values_cross_the_gateway_intact(etcd_endpoint: str) -> None:
    backend = EtcdBackend([etcd_endpoint])
    await backend.start()
    try:
        root = f"/t-{uuid.uuid4().hex[:12]}"
        value = bytes(range(256)) * 2048  # 512 KiB: many stream chunks, every byte value
        revision = await backend.create(root + "/big", value)
        events = await take(backend.watch(root + "/", revision - 1), 1)
        assert events[0].kv.value == value
        assert (await backend.range(root + "/")).items[0].value == value
    finally:
        await backend.close()
