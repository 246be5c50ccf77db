"""HTTPTransport specifics: kubectl's paths, kubeconfig credentials (token and client
certificate) against a real server, watch lines split across chunks, ERROR events, non-Status
error bodies and unreachable servers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import yaml
from aiohttp import web

from kubelite.api.errors import StatusError
from kubelite.client.client import Client, resource_ref
from kubelite.client.http import HTTPTransport, collection_path, from_kubeconfig, object_path
from kubelite.client.kubeconfig import KubeconfigError, load_kubeconfig
from kubelite.client.transport import Gone, ListOptions, TransportError, WatchOptions
from tests.client.client_harness import ServerHandle, expect_status
from tests.e2e.server_harness import free_port

PODS = resource_ref("", "v1", "pods")
DEPLOYMENTS = resource_ref("apps", "v1", "deployments")
NODES = resource_ref("", "v1", "nodes")


def test_paths_are_built_as_kubectl_builds_them() -> None:
    assert collection_path(PODS, "ns") == "/api/v1/namespaces/ns/pods"
    assert collection_path(PODS, None) == "/api/v1/pods"
    assert collection_path(PODS, "") == "/api/v1/pods"
    assert object_path(PODS, "ns", "p", "status") == "/api/v1/namespaces/ns/pods/p/status"
    assert collection_path(DEPLOYMENTS, "ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert object_path(DEPLOYMENTS, "ns", "web", "scale") == "/apis/apps/v1/namespaces/ns/deployments/web/scale"
    assert object_path(NODES, "ignored", "n1") == "/api/v1/nodes/n1"
    assert object_path(resource_ref("rbac.authorization.k8s.io", "v1", "clusterroles"), None, "system:a/b") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aa%2Fb"
    )


def test_kubeconfig_resolves_the_current_context(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "token").write_text("secret\n")
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://h:6443", "certificate-authority": "ca.crt"}}],
        "users": [
            {"name": "u", "user": {"tokenFile": "token"}},
            {"name": "v", "user": {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key-data": base64.b64encode(b"KEY").decode()}},
        ],
        "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}}, {"name": "two", "context": {"cluster": "c", "user": "v"}}],
        "current-context": "one",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    one = load_kubeconfig(path)
    assert (one.server, one.ca_pem, one.token, one.client_cert_pem) == ("https://h:6443", b"CA", "secret", None)
    two = load_kubeconfig(path, "two")
    assert (two.token, two.client_cert_pem, two.client_key_pem) == ("", b"CERT", b"KEY")
    with pytest.raises(KubeconfigError):
        load_kubeconfig(path, "three")


async def test_token_from_the_servers_kubeconfig(kubelite_server: ServerHandle) -> None:
    transport = from_kubeconfig(kubelite_server.kubeconfig)
    try:
        reviews = Client(transport).resource("authentication.k8s.io", "v1", "selfsubjectreviews")
        review = await reviews.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review["status"]["userInfo"]["username"] == "system:admin"
        namespaces = await Client(transport).resource("", "v1", "namespaces").list()
        assert "default" in {o["metadata"]["name"] for o in namespaces["items"]}
    finally:
        await transport.close()


async def test_client_certificate_from_a_kubeconfig(kubelite_server: ServerHandle, tmp_path: Path) -> None:
    tls = kubelite_server.data_dir / "tls"
    server = yaml.safe_load(kubelite_server.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    for name in ("ca.crt", "admin.crt", "admin.key"):
        (tmp_path / name).write_bytes((tls / name).read_bytes())
    config = {
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
        "users": [{"name": "admin", "user": {"client-certificate": "admin.crt", "client-key": "admin.key"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "admin"}}],
        "current-context": "x",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    transport = from_kubeconfig(tmp_path / "kubeconfig")
    try:
        reviews = Client(transport).resource("authentication.k8s.io", "v1", "selfsubjectreviews")
        review = await reviews.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review["status"]["userInfo"]["username"] == "kubelite-admin"
        assert "system:masters" in review["status"]["userInfo"]["groups"]
    finally:
        await transport.close()


async def test_without_credentials_the_server_answers_401(kubelite_server: ServerHandle) -> None:
    access = load_kubeconfig(kubelite_server.kubeconfig)
    transport = HTTPTransport.from_access(type(access)(access.server, access.ca_pem))
    try:
        await expect_status(transport.get(NODES, "", "x"), 401, "Unauthorized")
    finally:
        await transport.close()


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A plain-HTTP server: the watch of pods streams the chunks a test puts in the list."""
    chunks: list[bytes] = []

    async def pods(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.Response(status=502, text="upstream exploded")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/ns/pods", pods)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", chunks
    finally:
        await runner.cleanup()


def line(event_type: str, obj: dict[str, object]) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


async def test_watch_lines_split_across_chunks(fake_api: tuple[str, list[bytes]]) -> None:
    url, chunks = fake_api
    big = {"metadata": {"name": "big", "resourceVersion": "7"}, "data": "x" * 200_000}
    stream = line("ADDED", {"metadata": {"name": "a", "resourceVersion": "5"}}) + line("MODIFIED", big)
    stream += line("BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    chunks.extend([stream[:10], stream[10:60], stream[60:150_000], stream[150_000:]])
    transport = HTTPTransport(url)
    try:
        async with contextlib.aclosing(transport.watch(PODS, "ns", WatchOptions())) as events:
            got = [event async for event in events]
    finally:
        await transport.close()
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in got] == [("ADDED", "5"), ("MODIFIED", "7"), ("BOOKMARK", "9")]
    assert got[1].object == big


async def test_watch_error_events_raise(fake_api: tuple[str, list[bytes]]) -> None:
    url, chunks = fake_api
    expired = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version: 1 (5)", "reason": "Expired", "code": 410}
    chunks.append(line("ADDED", {"metadata": {"name": "a"}}) + line("ERROR", expired))
    transport = HTTPTransport(url)
    seen = []
    try:
        with pytest.raises(Gone) as caught:
            async for event in transport.watch(PODS, "ns", WatchOptions(resource_version="1")):
                seen.append(event.type)
        assert seen == ["ADDED"]
        assert caught.value.message == "too old resource version: 1 (5)"
        error = await expect_status(transport.list(PODS, "ns", ListOptions()), 502)
        assert error.message == "upstream exploded" and not isinstance(error, Gone)
    finally:
        await transport.close()


async def test_an_unreachable_server_is_a_transport_error() -> None:
    transport = HTTPTransport(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransportError):
            await transport.get(NODES, "", "x")
        with pytest.raises(TransportError):
            async for _event in transport.watch(PODS, "ns", WatchOptions()):
                pass
    finally:
        await transport.close()
    assert not isinstance(TransportError("x"), StatusError)
