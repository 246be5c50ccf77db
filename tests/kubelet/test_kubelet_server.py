"""The kubelet's HTTPS API over real TLS: client-certificate authentication (401, 403), logs,
exec over WebSocket v5 (stdin, its close message, the Status channel), and WebSocket
port-forward (port prefixes, data both ways, half-close, errors)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelite.api import remotecommand as rc
from kubelite.apiserver.certs import ensure_pki, issue_client_certificate
from kubelite.kubelet.crilogs import format_record
from kubelite.kubelet.server import KubeletServer, kubelet_ssl_context
from kubelite.kubelet.streams import HostProcessStreams
from tests.apiserver.streaming_harness import issue_kubelet_serving_cert

Obj = dict[str, Any]

POD: Obj = {
    "metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
    "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    "status": {"phase": "Running", "containerStatuses": [{"name": "app", "state": {"terminated": {}}}]},
}


@dataclass
class Kubelet:
    base: str
    tls_dir: Path
    log_root: Path

    def client_context(self, user: str | None, groups: list[str] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.tls_dir / "ca.crt"))
        if user is not None:
            cert, key = self.tls_dir / f"{user}.crt", self.tls_dir / f"{user}.key"
            pki = ensure_pki(self.tls_dir)
            issue_client_certificate(pki, user, groups or [], cert, key)
            context.load_cert_chain(str(cert), str(key))
        return context

    def session(self, user: str | None = "kube-apiserver-kubelet-client", groups: list[str] | None = None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.client_context(user, groups)))


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[Kubelet]:
    tls = tmp_path / "tls"
    pki = ensure_pki(tls)
    cert, key = issue_kubelet_serving_cert(tls)
    log_root = tmp_path / "pods"
    pods = {"default/web": POD}
    server = KubeletServer(HostProcessStreams(log_root, poll=0.01), pods.get)
    await server.start("127.0.0.1", 0, kubelet_ssl_context(str(cert), str(key), str(pki.ca_cert)))
    try:
        yield Kubelet(f"https://127.0.0.1:{server.port}", tls, log_root)
    finally:
        await server.stop()


async def test_callers_must_present_an_allowed_identity(kubelet: Kubelet) -> None:
    async with kubelet.session(user=None) as anonymous, anonymous.get(kubelet.base + "/healthz") as response:
        assert (response.status, (await response.text()).strip()) == (401, "Unauthorized")
    async with kubelet.session(user="jane", groups=["developers"]) as jane, jane.get(kubelet.base + "/containerLogs/default/web/app") as response:
        assert response.status == 403
        assert (await response.text()).strip() == "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy)"
    async with kubelet.session() as apiserver, apiserver.get(kubelet.base + "/healthz") as response:
        assert (response.status, await response.text()) == (200, "ok")


async def test_container_logs(kubelet: Kubelet) -> None:
    directory = kubelet.log_root / "uid-1" / "app"
    directory.mkdir(parents=True)
    (directory / "0.log").write_bytes(format_record(1735689600_000000000, "stdout", b"one") + format_record(1735689601_000000000, "stdout", b"two"))
    async with kubelet.session() as session:
        async with session.get(kubelet.base + "/containerLogs/default/web/app", params={"tailLines": "1", "timestamps": "true"}) as response:
            assert response.status == 200 and response.content_type == "text/plain"
            assert await response.text() == "2025-01-01T00:00:01Z two\n"
        async with session.get(kubelet.base + "/containerLogs/default/web/app", params={"previous": "true"}) as response:
            assert response.status == 400
            assert (await response.text()).strip() == 'previous terminated container "app" in pod "web" not found'
        async with session.get(kubelet.base + "/containerLogs/default/nope/app") as response:
            assert response.status == 404


async def exec_messages(ws: aiohttp.ClientWebSocketResponse) -> list[tuple[int, bytes]]:
    received = []
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            received.append(rc.split_message(message.data))
    return received


async def test_exec_over_websocket_v5(kubelet: Kubelet) -> None:
    params = [("command", "sh"), ("command", "-c"), ("command", "cat; echo bye >&2; exit 2"), ("input", "1"), ("output", "1"), ("error", "1")]
    async with kubelet.session() as session, session.ws_connect(kubelet.base + "/exec/default/web/app", params=params, protocols=(rc.CHANNEL_V5,)) as ws:
        assert ws.protocol == rc.CHANNEL_V5
        await ws.send_bytes(rc.channel_message(rc.STDIN, b"typed\n"))
        await ws.send_bytes(rc.close_message(rc.STDIN))
        received = await exec_messages(ws)
    assert received[0] == (rc.STDOUT, b""), "an empty first message tells the client we are ready"
    stdout = b"".join(data for channel, data in received if channel == rc.STDOUT)
    stderr = b"".join(data for channel, data in received if channel == rc.STDERR)
    status = json.loads(b"".join(data for channel, data in received if channel == rc.ERROR))
    assert (stdout, stderr, rc.status_exit_code(status)) == (b"typed\n", b"bye\n", 2)
    assert received[-1][0] == rc.ERROR, "the Status comes last"


async def test_exec_that_cannot_start_reports_an_internal_error(kubelet: Kubelet) -> None:
    params = [("command", "no-such-command-x"), ("output", "1")]
    async with kubelet.session() as session, session.ws_connect(kubelet.base + "/exec/default/web/app", params=params, protocols=(rc.CHANNEL_V4,)) as ws:
        received = await exec_messages(ws)
    status = json.loads(b"".join(data for channel, data in received if channel == rc.ERROR))
    assert status["reason"] == "InternalError" and 'executable file not found in $PATH' in status["message"]
    async with kubelet.session() as session, session.post(kubelet.base + "/exec/default/web/app", params=params) as response:
        assert response.status == 400 and "WebSocket" in await response.text()


async def test_port_forward_over_websocket(kubelet: Kubelet) -> None:
    async def upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client half-closes
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upper, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with kubelet.session() as session:
            url = kubelet.base + "/portForward/default/web"
            async with session.ws_connect(url, params=[("port", str(port))], protocols=rc.PORT_FORWARD_WEBSOCKET) as ws:
                await ws.send_bytes(rc.channel_message(0, b"hello "))
                await ws.send_bytes(rc.channel_message(0, b"pod"))
                await ws.send_bytes(rc.close_message(0))
                received = await exec_messages(ws)
    finally:
        server.close()
        await server.wait_closed()
    prefix = rc.port_prefix(port)
    assert received[:2] == [(0, prefix), (1, prefix)]
    assert b"".join(data for channel, data in received[2:] if channel == 0) == b"HELLO POD"
    async with kubelet.session() as session, session.ws_connect(url, params=[("port", str(port))], protocols=rc.PORT_FORWARD_WEBSOCKET) as ws:
        received = await exec_messages(ws)
    errors = b"".join(data for channel, data in received[2:] if channel == 1).decode()
    assert errors.startswith(f"error forwarding port {port} to pod web, uid uid-1: failed to connect to localhost:{port}")
