"""pods/proxy and services/proxy: how a request names its backend (scheme:name:port), which pod IP
and port or which ready endpoint it reaches, the path after `proxy`, upstream's errors; and the
relay itself against a local HTTP backend (headers both ways, streamed body, redirects through
the proxy path, a dial failure as 503)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from kubelite.api.errors import StatusError
from kubelite.apiserver.resourceproxy import (
    Backend,
    ResourceProxy,
    pod_backend,
    proxy_subpath,
    rewrite_location,
    service_backend,
    service_port_name,
    split_scheme_name_port,
)

POD = {
    "metadata": {"name": "web-1"},
    "spec": {"containers": [{"name": "side"}, {"name": "web", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]}]},
    "status": {"podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}]},
}
SERVICE = {"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}, {"name": "", "port": 81}]}}
ENDPOINTS = {
    "metadata": {"name": "web"},
    "subsets": [
        {"notReadyAddresses": [{"ip": "10.42.0.9"}], "ports": [{"name": "http", "port": 8080}]},
        {"addresses": [{"ip": "10.42.0.7"}, {"ip": "10.42.0.8"}], "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]},
    ],
}


def test_ids_are_name_port_or_scheme_name_port() -> None:
    assert split_scheme_name_port("web") == ("", "web", "")
    assert split_scheme_name_port("web:80") == ("", "web", "80")
    assert split_scheme_name_port("https:web:443") == ("https", "web", "443")
    assert split_scheme_name_port("web:http") == ("", "web", "http")
    for bad in ("ftp:web:21", ":80", "a:b:c:d", ""):
        assert split_scheme_name_port(bad) is None


def test_the_path_after_proxy_is_cleaned_and_keeps_its_trailing_slash() -> None:
    base = "/api/v1/namespaces/proxy/pods/proxy/proxy"
    assert proxy_subpath(base, "pods", "proxy") == (base, "")
    assert proxy_subpath(base + "/", "pods", "proxy") == (base, "/")
    assert proxy_subpath(base + "/a/b", "pods", "proxy") == (base, "/a/b")
    assert proxy_subpath(base + "/a//b/../c/", "pods", "proxy") == (base, "/a/c/")
    services = "/api/v1/namespaces/default/services/web:80/proxy"
    assert proxy_subpath(services + "/healthz", "services", "web:80") == (services, "/healthz")


def test_a_pod_is_reached_on_its_ip_and_the_port_asked_for_or_its_first_declared_one() -> None:
    assert pod_backend(POD, "", "") == Backend("http", "10.42.0.7", "8080")
    assert pod_backend(POD, "https", "8443") == Backend("https", "10.42.0.7", "8443")
    bare = {"spec": {"containers": [{"name": "c"}]}, "status": {"podIP": "10.42.0.7"}}
    assert str(pod_backend(bare, "", "").url("/x", "a=1")) == "http://10.42.0.7/x?a=1"
    for status in ({}, {"podIP": "127.0.0.1"}, {"podIP": "169.254.1.1"}):
        with pytest.raises(StatusError) as refused:
            pod_backend({**POD, "status": status}, "", "")
        assert (refused.value.code, refused.value.message) == (400, "address not allowed")


def test_a_service_port_number_means_that_port_s_name() -> None:
    assert service_port_name(SERVICE, "80") == "http"
    assert service_port_name(SERVICE, "81") == ""
    assert service_port_name(SERVICE, "metrics") == "metrics"
    with pytest.raises(StatusError) as missing:
        service_port_name(SERVICE, "82")
    assert (missing.value.code, missing.value.message) == (503, 'no service port 82 found for service "web"')


def test_a_service_reaches_a_ready_address_on_the_named_port() -> None:
    chosen = {service_backend(ENDPOINTS, "", "http", "web", pick=lambda n, i=i: i % n) for i in range(4)}
    assert chosen == {Backend("http", "10.42.0.7", "8080"), Backend("http", "10.42.0.8", "8080")}
    assert service_backend(ENDPOINTS, "https", "metrics", "web", pick=lambda n: 0) == Backend("https", "10.42.0.7", "9090")
    with pytest.raises(StatusError) as no_port:
        service_backend(ENDPOINTS, "", "grpc", "web:grpc")
    assert (no_port.value.code, no_port.value.message) == (503, 'no endpoints available for service "web:grpc"')
    with pytest.raises(StatusError) as empty:
        service_backend({"metadata": {"name": "web"}}, "", "", "web")
    assert empty.value.message == 'no endpoints available for service "web"'


def test_redirects_to_the_backend_go_through_the_proxy_path() -> None:
    backend = URL("http://10.42.0.7:8080/a")
    prefix = "/api/v1/namespaces/default/pods/web-1/proxy"
    assert rewrite_location("/login?next=/a", backend, prefix) == prefix + "/login?next=/a"
    assert rewrite_location("http://10.42.0.7:8080/b", backend, prefix) == prefix + "/b"
    assert rewrite_location("https://example.com/b", backend, prefix) == "https://example.com/b"
    assert rewrite_location("relative", backend, prefix) == "relative"


# ---------------------------------------------------------------------- the relay, end to end
async def _backend_app() -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {
            "X-Seen-Authorization": request.headers.get("Authorization", "-"),
            "X-Seen-Forwarded-Uri": request.headers.get("X-Forwarded-Uri", "-"),
            "X-Seen-Custom": request.headers.get("X-Custom", "-"),
            "Access-Control-Allow-Origin": "*",
        }
        return web.Response(text=f"{request.method} {request.path_qs} {body.decode()}", headers=headers)

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    app = web.Application()
    app.router.add_route("GET", "/moved", moved)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def relay_client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    backend = TestServer(await _backend_app(), host="127.0.0.1")
    await backend.start_server()
    proxy = ResourceProxy(registry=None, connect_timeout=2.0)  # type: ignore[arg-type]
    prefix = "/api/v1/namespaces/default/pods/web-1/proxy"

    async def front(request: web.Request) -> web.StreamResponse:
        port = int(request.query.get("port", str(backend.port)))
        target = Backend("http", "127.0.0.1", str(port))
        _, path = proxy_subpath(request.path, "pods", "web-1")
        try:
            return await proxy.relay(request, target, target.url(path, request.rel_url.raw_query_string), prefix)
        except StatusError as err:
            return web.Response(status=err.code, text=err.message)

    app = web.Application()
    app.router.add_route("*", prefix + "/{tail:.*}", front)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await backend.close()


async def test_the_relay_passes_method_body_query_and_headers(relay_client: TestClient[web.Request, web.Application]) -> None:
    prefix = "/api/v1/namespaces/default/pods/web-1/proxy"
    response = await relay_client.post(
        prefix + "/submit?a=1", data=b"payload", headers={"Authorization": "Bearer secret", "X-Custom": "yes"}
    )
    assert response.status == 200
    assert await response.text() == "POST /submit?a=1 payload"
    assert response.headers["X-Seen-Authorization"] == "-"  # the caller's credentials stay with the API server
    assert response.headers["X-Seen-Custom"] == "yes"
    assert response.headers["X-Seen-Forwarded-Uri"] == prefix + "/submit?a=1"
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_relay_rewrites_redirects_and_reports_dial_failures(relay_client: TestClient[web.Request, web.Application]) -> None:
    prefix = "/api/v1/namespaces/default/pods/web-1/proxy"
    moved = await relay_client.get(prefix + "/moved", allow_redirects=False)
    assert moved.status == 302 and moved.headers["Location"] == prefix + "/elsewhere"
    unused = TestServer(web.Application(), host="127.0.0.1")
    await unused.start_server()
    port = unused.port
    await unused.close()
    refused = await relay_client.get(prefix + f"/x?port={port}")
    assert refused.status == 503
    assert await refused.text() == f"error trying to reach service: dial tcp 127.0.0.1:{port}: connect: connection refused"
