"""The kubelet's HTTPS API (port 10250 by default), which the API server calls to stream:
GET /containerLogs/{namespace}/{pod}/{container}, /exec/{namespace}/{pod}/{container} and
/attach/... as WebSocket `v5.channel.k8s.io` (or v4), /portForward/{namespace}/{pod}?port=N as
upstream's WebSocket port-forward (`v4.channel.k8s.io`: data channel 2i and error channel 2i+1 per
port, each starting with the port as two little-endian bytes; we also honour a v5-style
`255 <channel>` message as "the client will send no more" on a data channel), /healthz, and the
Prometheus documents /metrics/resource and /metrics (kubelet/metrics.py writes them).
Every request must carry a client certificate from the cluster CA (or a bearer token the
configured verifier accepts) of an allowed user or group: 401 without, 403 for others.

Must not run containers or read log files itself (a ContainerStreams does), nor read the API:
pods come from the kubelet's own view through `lookup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from kubelite.api import remotecommand as rc
from kubelite.api.prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from kubelite.kubelet import metrics
from kubelite.kubelet.crilogs import LogOptions
from kubelite.kubelet.streams import ContainerStreams, PodLookup, StreamError, find_container
from kubelite.runtime.base import PodStatus, ResourceUsage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Identity = tuple[str, tuple[str, ...]]  # (user, groups)
API_SERVER_USER = "kube-apiserver-kubelet-client"
STREAM_CHUNK = 32 * 1024
INBOUND_MESSAGES = 64  # client messages buffered per stream before we stop reading the socket


@dataclass(frozen=True)
class KubeletAuth:
    """Who may use the kubelet's API: a verified client certificate (CN = user, O = groups) or a
    bearer token `verify_token` maps to an identity; then the user or one group must be allowed."""

    allowed_users: frozenset[str] = frozenset({API_SERVER_USER})
    allowed_groups: frozenset[str] = frozenset({"system:masters"})
    verify_token: Callable[[str], Identity | None] | None = None

    def identify(self, request: web.Request) -> Identity | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip() or self.verify_token is None:
                return None
            return self.verify_token(token.strip())
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        return certificate_identity(ssl_object.getpeercert() if ssl_object is not None else None)

    def allows(self, identity: Identity) -> bool:
        user, groups = identity
        return user in self.allowed_users or any(group in self.allowed_groups for group in groups)


def certificate_identity(peercert: dict[str, Any] | None) -> Identity | None:
    """(CN, O values) of a peer certificate the TLS layer verified; None without one."""
    if not peercert:
        return None
    user = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.extend(part for part in value.split(",") if part)
    return (user, tuple(groups)) if user else None


def kubelet_ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    """The serving context: our certificate, and client certificates checked against the CA
    (optional at the TLS layer so that a missing one is answered with 401, not a failed handshake)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def _prometheus(text: str) -> web.Response:
    return web.Response(body=text.encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


def _flag(request: web.Request, name: str) -> bool:
    return rc.parse_bool(request.query.get(name))


def _non_negative(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise StreamError(f'invalid value for {name}: "{value}"') from None
    if number < 0:
        raise StreamError(f"{name} must not be negative")
    return number


@dataclass
class _Channels:
    """What the client sends on an exec/attach WebSocket, split per purpose."""

    # bounded: a client that sends faster than the command reads waits (the socket stops being read)
    stdin: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(INBOUND_MESSAGES))
    resize: asyncio.Queue[rc.TerminalSize | None] = field(default_factory=asyncio.Queue)


async def _drain_queue(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while (item := await queue.get()) is not None:
        yield item


class MetricsSource(Protocol):
    """What /metrics and /metrics/resource read: a runtime that lists its pods and measures usage."""

    async def list_pods(self) -> list[PodStatus]: ...

    async def resource_usage(self) -> ResourceUsage: ...


class KubeletServer:
    def __init__(
        self,
        streams: ContainerStreams,
        lookup: PodLookup,
        *,
        auth: KubeletAuth | None = None,
        wall_clock: Callable[[], float] = time.time,
        metrics_source: MetricsSource | None = None,
        node_name: str = "",
    ):
        """`lookup("namespace/name")`: the pod as this kubelet knows it (its informer cache).
        `metrics_source` (may also be set later): without it /metrics/resource reports
        resource_scrape_error 1."""
        self.streams = streams
        self.lookup = lookup
        self.auth = auth or KubeletAuth()
        self.wall_clock = wall_clock
        self.metrics_source = metrics_source
        self.node_name = node_name
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/metrics/resource", self._resource_metrics)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self._exec)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{container}", self._attach)
            app.router.add_route(method, "/portForward/{namespace}/{pod}", self._port_forward)
        return app

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext) -> None:
        """Serve on host:port (0 picks a free port, then in `self.port`)."""
        if self._runner is not None:
            return
        listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET, backlog=128)
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, listener, ssl_context=ssl_context).start()
        self._runner = runner
        self.port = int(listener.getsockname()[1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ------------------------------------------------------------------ auth
    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        identity = self.auth.identify(request)
        if identity is None:
            return _text(401, "Unauthorized")
        if not self.auth.allows(identity):
            verb = "get" if request.method == "GET" else "create"
            subresource = "metrics" if request.path.startswith("/metrics") else "proxy"
            return _text(403, f"Forbidden (user={identity[0]}, verb={verb}, resource=nodes, subresource={subresource})")
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except StreamError as exc:
            return _text(exc.code, exc.message)

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _resource_metrics(self, request: web.Request) -> web.StreamResponse:
        usage: ResourceUsage | None = None
        if self.metrics_source is not None:
            try:
                usage = await self.metrics_source.resource_usage()
            except Exception:
                log.exception("reading resource usage failed")
        return _prometheus(metrics.resource_metrics(usage))

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        pods = await self.metrics_source.list_pods() if self.metrics_source is not None else []
        return _prometheus(metrics.kubelet_metrics(self.node_name, pods))

    def _pod(self, request: web.Request, container: str | None = None) -> Obj:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        pod = self.lookup(f"{namespace}/{name}")
        if pod is None:
            raise StreamError(f'pod "{namespace}/{name}" does not exist', 404)
        if container is not None and find_container(pod, container) is None:
            raise StreamError(f'container "{container}" not found in pod "{namespace}/{name}"', 404)
        return pod

    # ------------------------------------------------------------------ logs
    def _log_options(self, request: web.Request) -> LogOptions:
        since_ns: int | None = None
        since_seconds = _non_negative(request, "sinceSeconds")
        if since_seconds is not None:
            since_ns = int((self.wall_clock() - since_seconds) * 1_000_000_000)
        since_time = request.query.get("sinceTime")
        if since_time:
            try:
                moment = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
            except ValueError:
                raise StreamError(f'invalid value for sinceTime: "{since_time}"') from None
            since_ns = int(moment.timestamp() * 1_000_000_000)
        limit = _non_negative(request, "limitBytes")
        return LogOptions(
            follow=_flag(request, "follow"),
            previous=_flag(request, "previous"),
            tail_lines=_non_negative(request, "tailLines"),
            since_ns=since_ns,
            timestamps=_flag(request, "timestamps"),
            limit_bytes=limit if limit else None,
        )

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        container = request.match_info["container"]
        pod = self._pod(request, container)
        chunks = self.streams.logs(pod, container, self._log_options(request))
        try:
            first = await anext(chunks, b"")  # errors surface here, before any byte is sent
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            if first:
                await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ exec / attach
    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=False)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=True)

    async def _remote_command(self, request: web.Request, attach: bool) -> web.StreamResponse:
        container = request.match_info["container"]
        pod = self._pod(request, container)
        try:
            options = rc.ExecOptions.from_kubelet_query(container, _multi(request), attach=attach)
        except ValueError as exc:
            raise StreamError(str(exc)) from None
        ws = web.WebSocketResponse(protocols=rc.WEBSOCKET_EXEC_PROTOCOLS, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise StreamError("exec and attach are served over WebSocket (v5.channel.k8s.io or v4.channel.k8s.io) only")
        await ws.prepare(request)
        channels = _Channels()
        v5 = ws.ws_protocol == rc.CHANNEL_V5

        async def send(channel: int, data: bytes) -> None:
            if not ws.closed:
                await ws.send_bytes(rc.channel_message(channel, data))

        async def stdout(data: bytes) -> None:
            await send(rc.STDOUT, data)

        async def stderr(data: bytes) -> None:
            await send(rc.STDERR, data)

        # an empty message on the first channel we write tells the client the stream is ready
        first = rc.STDOUT if options.stdout else rc.STDERR if options.stderr else rc.ERROR
        await send(first, b"")
        run = asyncio.create_task(self._run(pod, options, channels, stdout if options.stdout else None, stderr if options.stderr else None))
        reader = asyncio.create_task(_read_client(ws, channels, v5))
        try:
            done, _ = await asyncio.wait({run, reader}, return_when=asyncio.FIRST_COMPLETED)
            if run in done:
                await send(rc.ERROR, rc.encode_status(run.result()))
        finally:
            for task in (run, reader):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await ws.close()
        return ws

    async def _run(
        self,
        pod: Obj,
        options: rc.ExecOptions,
        channels: _Channels,
        stdout: Callable[[bytes], Any] | None,
        stderr: Callable[[bytes], Any] | None,
    ) -> dict[str, Any]:
        stdin = _drain_queue(channels.stdin) if options.stdin else None
        resize = _drain_queue(channels.resize) if options.tty else None
        try:
            if options.command:
                code = await self.streams.exec(
                    pod, options.container, options.command, stdin=stdin, stdout=stdout, stderr=stderr, tty=options.tty, resize=resize
                )
                return rc.success_status() if code == 0 else rc.exit_code_status(options.command, code)
            await self.streams.attach(pod, options.container, stdin=stdin, stdout=stdout, stderr=stderr, tty=options.tty, resize=resize)
            return rc.success_status()
        except StreamError as exc:
            return rc.failure_status(exc.message)
        except Exception as exc:
            log.exception("%s in %s failed", "exec" if options.command else "attach", options.container)
            return rc.failure_status(f"error executing command in container: {exc}")

    # ------------------------------------------------------------------ port-forward
    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        try:
            ports = rc.parse_ports(request.query.getall("port", []))
        except ValueError as exc:
            raise StreamError(str(exc)) from None
        if not ports:
            raise StreamError('query parameter "port" is required')
        ws = web.WebSocketResponse(protocols=rc.PORT_FORWARD_WEBSOCKET, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise StreamError("port-forward is served over WebSocket (v4.channel.k8s.io) only")
        await ws.prepare(request)
        forwards = [_PortForward(self.streams, pod, port, 2 * index, ws) for index, port in enumerate(ports)]
        for forward in forwards:
            await forward.announce()
        tasks = [asyncio.create_task(forward.run()) for forward in forwards]
        reader = asyncio.create_task(_read_port_forward_client(ws, forwards))
        all_done: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*tasks))
        waiting: set[asyncio.Future[Any]] = {reader, all_done}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pending: list[asyncio.Future[Any]] = [*tasks, reader, all_done]
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for forward in forwards:
                forward.close()
            await ws.close()
        return ws


def _multi(request: web.Request) -> dict[str, list[str]]:
    return {key: request.query.getall(key) for key in request.query}


async def _read_client(ws: web.WebSocketResponse, channels: _Channels, v5: bool) -> None:
    """Route the client's messages; returns when the client closes the WebSocket (which ends the
    command: the client is gone)."""
    decoder = rc.ResizeDecoder()
    stdin_open = True
    try:
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                continue
            channel, data = rc.split_message(message.data)
            if channel == rc.STDIN and stdin_open:
                if data:
                    await channels.stdin.put(data)
            elif channel == rc.RESIZE:
                for size in decoder.feed(data):
                    channels.resize.put_nowait(size)
            elif channel == rc.CLOSE and v5 and data[:1] == bytes((rc.STDIN,)) and stdin_open:
                stdin_open = False
                await channels.stdin.put(None)
    finally:
        channels.resize.put_nowait(None)


class _PortForward:
    """One forwarded port of a kubelet port-forward WebSocket."""

    def __init__(self, streams: ContainerStreams, pod: Obj, port: int, data_channel: int, ws: web.WebSocketResponse):
        self.streams = streams
        self.pod = pod
        self.port = port
        self.data_channel = data_channel
        self.error_channel = data_channel + 1
        self.ws = ws
        self.inbound: asyncio.Queue[bytes | None] = asyncio.Queue(INBOUND_MESSAGES)
        self._writer: asyncio.StreamWriter | None = None

    async def announce(self) -> None:
        prefix = rc.port_prefix(self.port)
        await self.ws.send_bytes(rc.channel_message(self.data_channel, prefix))
        await self.ws.send_bytes(rc.channel_message(self.error_channel, prefix))

    async def run(self) -> None:
        try:
            reader, writer = await self.streams.port_forward(self.pod, self.port)
        except StreamError as exc:
            meta = self.pod.get("metadata") or {}
            message = f"error forwarding port {self.port} to pod {meta.get('name', '')}, uid {meta.get('uid', '')}: {exc.message}"
            if not self.ws.closed:
                await self.ws.send_bytes(rc.channel_message(self.error_channel, message.encode()))
            return
        self._writer = writer
        upstream = asyncio.create_task(self._to_pod(writer))
        try:
            while data := await reader.read(STREAM_CHUNK):
                if self.ws.closed:
                    break
                await self.ws.send_bytes(rc.channel_message(self.data_channel, data))
        except ConnectionError:
            pass
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upstream

    async def _to_pod(self, writer: asyncio.StreamWriter) -> None:
        while (data := await self.inbound.get()) is not None:
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def _read_port_forward_client(ws: web.WebSocketResponse, forwards: list[_PortForward]) -> None:
    by_channel = {forward.data_channel: forward for forward in forwards}
    async for message in ws:
        if message.type != WSMsgType.BINARY:
            continue
        channel, data = rc.split_message(message.data)
        if channel in by_channel and data:
            await by_channel[channel].inbound.put(data)
        elif channel == rc.CLOSE and data and data[0] in by_channel:
            await by_channel[data[0]].inbound.put(None)
    # the client is gone: returning ends every forward
