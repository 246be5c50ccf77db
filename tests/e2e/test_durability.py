"""Durability of a real `kubelite server` on SQLite: every create acknowledged with a 201 survives a
SIGKILL of the server in the middle of a stream of concurrent writes, and objects, the CA and the
admin token survive a clean SIGTERM restart.

Must not look inside the data dir's database: everything is checked through the HTTPS API, as a
client would see it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.e2e.server_harness import RunningServer, start_server

pytestmark = pytest.mark.e2e

WRITERS = 8
KILL_AFTER_ACKS = 400  # acknowledged creates before the SIGKILL
NAMESPACE = "durability"


def credentials(kubeconfig: Path) -> tuple[str, str, str]:
    """(server URL, bearer token, CA PEM) from the kubeconfig the server wrote."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return cluster["server"], config["users"][0]["user"]["token"], ca_pem


def session_for(server: RunningServer) -> aiohttp.ClientSession:
    url, token, ca_pem = credentials(server.kubeconfig)
    assert url == server.url
    return aiohttp.ClientSession(
        base_url=url,
        connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cadata=ca_pem)),
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def create_namespace(session: aiohttp.ClientSession, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    async with session.post("/api/v1/namespaces", json=body) as resp:
        assert resp.status == 201, await resp.text()


async def create_configmap(session: aiohttp.ClientSession, name: str, data: dict[str, str]) -> tuple[int, Any]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    async with session.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps", data=orjson.dumps(body),
                            headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
        raw = await resp.read()
        return resp.status, orjson.loads(raw) if raw else None


async def get_configmap(session: aiohttp.ClientSession, name: str) -> tuple[int, Any]:
    async with session.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}") as resp:
        return resp.status, orjson.loads(await resp.read())


def kill_hard(server: RunningServer) -> None:
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    assert server.process.returncode == -signal.SIGKILL


async def test_acknowledged_creates_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    acknowledged: dict[str, dict[str, Any]] = {}  # name -> the object the 201 returned
    in_flight = 0
    in_flight_at_kill = -1
    killed = asyncio.Event()
    try:
        async with session_for(server) as session:
            await create_namespace(session, NAMESPACE)

            async def writer(w: int) -> None:
                nonlocal in_flight
                for i in range(100_000):
                    name = f"w{w}-{i}"
                    data = {"writer": str(w), "sequence": str(i), "payload": f"{name}-" + "d" * 200}
                    in_flight += 1
                    try:
                        status, obj = await create_configmap(session, name, data)
                    except (aiohttp.ClientError, OSError, TimeoutError):
                        assert killed.is_set(), "a create failed before the server was killed"
                        return
                    finally:
                        in_flight -= 1
                    if status != 201:
                        assert killed.is_set(), f"create {name}: {status} {obj}"
                        return
                    assert obj["data"] == data
                    acknowledged[name] = obj
                    if len(acknowledged) >= KILL_AFTER_ACKS and not killed.is_set():
                        kill()

            def kill() -> None:
                nonlocal in_flight_at_kill
                in_flight_at_kill = in_flight  # other writers' requests were sent and are unanswered
                kill_hard(server)
                killed.set()

            await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(WRITERS))), 60)
    finally:
        server.stop()
    assert killed.is_set()
    # the SIGKILL landed while creates were on the wire, not between two calm moments
    assert in_flight_at_kill >= 1
    assert len(acknowledged) >= KILL_AFTER_ACKS

    restarted = start_server(data_dir)
    try:
        assert any(line.startswith("kubelite ready") for line in restarted.output)
        async with session_for(restarted) as session:
            missing, wrong = [], []
            for name, acked in acknowledged.items():
                status, obj = await get_configmap(session, name)
                if status != 200:
                    missing.append(name)
                    continue
                if (
                    obj["data"] != acked["data"]
                    or obj["metadata"]["uid"] != acked["metadata"]["uid"]
                    or obj["metadata"]["resourceVersion"] != acked["metadata"]["resourceVersion"]
                ):
                    wrong.append(name)
            assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {missing[:5]}"
            assert not wrong, f"{len(wrong)} acknowledged creates changed, e.g. {wrong[:5]}"

            # the store is writable after recovery and resourceVersions keep increasing
            highest = max(int(obj["metadata"]["resourceVersion"]) for obj in acknowledged.values())
            status, obj = await create_configmap(session, "after-recovery", {"k": "v"})
            assert status == 201, obj
            assert int(obj["metadata"]["resourceVersion"]) > highest
    finally:
        assert restarted.stop() == 0


async def test_clean_restart_keeps_objects_token_and_ca(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        url, token, ca_pem = credentials(server.kubeconfig)
        async with session_for(server) as session:
            await create_namespace(session, NAMESPACE)
            created = {}
            for i in range(20):
                status, obj = await create_configmap(session, f"keep-{i}", {"index": str(i)})
                assert status == 201, obj
                created[obj["metadata"]["name"]] = obj
    finally:
        assert server.stop() == 0
    assert "kubelite stopped" in server.text

    restarted = start_server(data_dir, port=server.port)
    try:
        assert any(line.startswith("kubelite ready") for line in restarted.output)
        assert credentials(restarted.kubeconfig) == (url, token, ca_pem)
        async with session_for(restarted) as session:
            for name, before in created.items():
                status, obj = await get_configmap(session, name)
                assert status == 200, obj
                assert obj["data"] == before["data"]
                assert obj["metadata"]["uid"] == before["metadata"]["uid"]
                assert obj["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
            async with session.get(f"/api/v1/namespaces/{NAMESPACE}") as resp:
                assert resp.status == 200
                assert (await resp.json())["status"]["phase"] == "Active"
            async with session.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps") as resp:
                listed = await resp.json()
            names = {item["metadata"]["name"] for item in listed["items"]}
            assert set(created) <= names
    finally:
        assert restarted.stop() == 0
