"""pods/log, pods/exec, pods/attach and pods/portforward: the API server finds the pod's node,
calls that node's kubelet, and translates between what the client speaks and the one protocol
it speaks to kubelets:

- logs: a streamed GET of /containerLogs, relayed chunk by chunk as text/plain;
- exec/attach: WebSocket `v5.channel.k8s.io` (or v4) to the kubelet. A WebSocket client's
  messages are relayed as they are; a SPDY/3.1 client's streams (error, stdin, stdout, stderr,
  resize) are mapped to channels and back, stdin's FIN becoming the v5 close message;
- port-forward: one kubelet WebSocket (`v4.channel.k8s.io`, ?port=N) per forwarded connection.
  A SPDY client (raw, or tunnelled in WebSocket messages as `SPDY/3.1+portforward.k8s.io`) opens
  an error and a data stream per connection (paired by requestid); a WebSocket v4 client's
  connection is relayed as it is.

Must not implement containers or protocols' framing (the kubelet, kubelite/api/spdy.py and
kubelite/api/remotecommand.py do), nor hold kubelet connections beyond one request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from kubelite.api import errors
from kubelite.api import remotecommand as rc
from kubelite.apiserver.kubeletclient import KubeletClient
from kubelite.apiserver.spdysession import SpdySession, SpdyStream, serve_session, upgrade_to_spdy
from kubelite.registry.registry import Registry
from kubelite.registry.store import Store

Obj = dict[str, Any]
POD_SUBRESOURCES = frozenset(("log", "exec", "attach", "portforward"))
STREAM_CREATION_TIMEOUT = 30.0  # how long a SPDY client has to open the streams it asked for
CLOSE_GRACE = 2.0  # after our last FIN, how long the client has to say GOAWAY before we hang up
LOG_PARAMS = ("follow", "previous", "timestamps", "tailLines", "limitBytes", "sinceSeconds", "sinceTime")


class StreamingAPI:
    def __init__(self, registry: Registry, kubelets: KubeletClient):
        self.registry = registry
        self.kubelets = kubelets

    async def serve(self, request: web.Request, pods: Store, namespace: str, name: str, subresource: str) -> web.StreamResponse:
        pod = await pods.get(namespace, name)
        if subresource == "log":
            if request.method != "GET":
                raise errors.method_not_allowed(f"{request.method} is not supported on pods/log")
            return await self._logs(request, pod)
        if request.method not in ("GET", "POST"):
            raise errors.method_not_allowed(f"{request.method} is not supported on pods/{subresource}")
        if subresource in ("exec", "attach"):
            return await self._remote_command(request, pod, attach=subresource == "attach")
        if subresource == "portforward":
            return await self._port_forward(request, pod)
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})

    async def _node(self, pod: Obj) -> Obj:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        nodes = self.registry.store("", "v1", "nodes")
        assert nodes is not None
        return await nodes.get("", node_name)

    # ------------------------------------------------------------------ logs
    async def _logs(self, request: web.Request, pod: Obj) -> web.StreamResponse:
        meta = pod["metadata"]
        container = choose_container(pod, request.query.get("container", ""))
        params = log_params(request.query, meta["name"])
        if not (pod.get("spec") or {}).get("nodeName"):
            return web.Response(text="", content_type="text/plain")  # upstream: nothing to read yet
        node = await self._node(pod)
        upstream = await self.kubelets.get(node, f"/containerLogs/{meta['namespace']}/{meta['name']}/{container}", params)
        try:
            if upstream.status != 200:
                text = (await upstream.text()).strip()
                raise errors.StatusError(upstream.status, _reason(upstream.status), text or f"kubelet answered {upstream.status}")
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (TimeoutError, aiohttp.ClientError):
                pass  # the kubelet went away mid-stream: end the log where it stopped
            await response.write_eof()
            return response
        finally:
            upstream.release()

    # ------------------------------------------------------------------ exec / attach
    async def _remote_command(self, request: web.Request, pod: Obj, attach: bool) -> web.StreamResponse:
        query = {key: request.query.getall(key) for key in request.query}
        try:
            options = rc.ExecOptions.from_api_query(query, attach=attach)
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from None
        container = choose_container(pod, options.container)
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            verb = "attach to" if attach else "exec into"
            raise errors.bad_request(f"cannot {verb} a container in a completed pod; current phase is {phase}")
        options = rc.ExecOptions(container, options.command, options.stdin, options.stdout, options.stderr, options.tty)
        node = await self._node(pod)
        meta = pod["metadata"]
        path = f"/{'attach' if attach else 'exec'}/{meta['namespace']}/{meta['name']}/{container}"
        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade == "websocket":
            offered = rc.parse_protocols(request.headers.getall("Sec-WebSocket-Protocol", []))
            protocol = rc.negotiate(offered, rc.WEBSOCKET_EXEC_PROTOCOLS)
            if protocol is None:
                raise errors.bad_request(f"requested protocol(s) are not supported: {offered}; supports {list(rc.WEBSOCKET_EXEC_PROTOCOLS)}")
            kubelet = await self.kubelets.websocket(node, path, options.kubelet_query(), (protocol,))
            client = web.WebSocketResponse(protocols=(protocol,), max_msg_size=0)
            await client.prepare(request)
            await relay_websockets(client, kubelet)
            return client
        if upgrade.startswith("spdy/"):
            protocol = _spdy_protocol(request, rc.SPDY_EXEC_PROTOCOLS)
            kubelet = await self.kubelets.websocket(node, path, options.kubelet_query(), (rc.CHANNEL_V5,))
            try:
                connection = await upgrade_to_spdy(request, protocol)
                bridge = _ExecOverSpdy(options, kubelet)
                session = SpdySession(connection.write, bridge.on_stream)
                await bridge.run(session, connection.read)
                connection.close()
                return connection.response
            finally:
                await kubelet.close()
        raise errors.bad_request("Upgrade request required")

    # ------------------------------------------------------------------ port-forward
    async def _port_forward(self, request: web.Request, pod: Obj) -> web.StreamResponse:
        node = await self._node(pod)
        meta = pod["metadata"]
        path = f"/portForward/{meta['namespace']}/{meta['name']}"

        async def dial(port: int) -> aiohttp.ClientWebSocketResponse:
            return await self.kubelets.websocket(node, path, [("port", str(port))], rc.PORT_FORWARD_WEBSOCKET)

        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade == "websocket":
            offered = rc.parse_protocols(request.headers.getall("Sec-WebSocket-Protocol", []))
            if rc.PORT_FORWARD_TUNNEL in offered:
                client = web.WebSocketResponse(protocols=(rc.PORT_FORWARD_TUNNEL,), max_msg_size=0)
                await client.prepare(request)
                bridge = _PortForwardOverSpdy(dial, meta)
                session = SpdySession(client.send_bytes, bridge.on_stream)
                try:
                    await serve_session(session, lambda: _binary_message(client))
                finally:
                    await bridge.stop()
                    await client.close()
                return client
            protocol = rc.negotiate(offered, rc.PORT_FORWARD_WEBSOCKET)
            if protocol is None:
                raise errors.bad_request(f"requested protocol(s) are not supported: {offered}")
            try:
                ports = rc.parse_ports(request.query.getall("ports", []))
            except ValueError as exc:
                raise errors.bad_request(str(exc)) from None
            if not ports:
                raise errors.bad_request('query parameter "ports" is required')
            kubelet = await self.kubelets.websocket(node, path, [("port", str(p)) for p in ports], (protocol,))
            client = web.WebSocketResponse(protocols=(protocol,), max_msg_size=0)
            await client.prepare(request)
            await relay_websockets(client, kubelet)
            return client
        if upgrade.startswith("spdy/"):
            protocol = _spdy_protocol(request, (rc.PORT_FORWARD_SPDY,))
            connection = await upgrade_to_spdy(request, protocol)
            bridge = _PortForwardOverSpdy(dial, meta)
            session = SpdySession(connection.write, bridge.on_stream)
            try:
                await serve_session(session, connection.read)
            finally:
                await bridge.stop()
                connection.close()
            return connection.response
        raise errors.bad_request("Upgrade request required")


# ---------------------------------------------------------------------- request checks
def choose_container(pod: Obj, requested: str) -> str:
    """The container a request means: the one named (it must exist) or the pod's only one."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    regular = [c.get("name", "") for c in spec.get("containers") or []]
    init = [c.get("name", "") for c in spec.get("initContainers") or []]
    ephemeral = [c.get("name", "") for c in spec.get("ephemeralContainers") or []]
    if requested:
        if requested in regular or requested in init or requested in ephemeral:
            return requested
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    if len(regular) == 1:
        return regular[0]
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(regular)}]"
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    if ephemeral:
        message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
    raise errors.bad_request(message)


def log_params(query: Any, pod_name: str) -> list[tuple[str, str]]:
    """PodLogOptions from the query, checked as upstream validates them, as kubelet parameters."""
    numbers: dict[str, int] = {}
    for key in ("tailLines", "limitBytes", "sinceSeconds"):
        value = query.get(key)
        if value not in (None, ""):
            try:
                numbers[key] = int(value)
            except ValueError:
                raise errors.bad_request(f'invalid value for {key}: "{value}"') from None
    causes = []
    if numbers.get("tailLines", 0) < 0:
        causes.append(errors.cause("tailLines", f"Invalid value: {numbers['tailLines']}: must be greater than or equal to 0"))
    if "limitBytes" in numbers and numbers["limitBytes"] < 1:
        causes.append(errors.cause("limitBytes", f"Invalid value: {numbers['limitBytes']}: must be greater than 0"))
    if "sinceSeconds" in numbers and numbers["sinceSeconds"] < 1:
        causes.append(errors.cause("sinceSeconds", f"Invalid value: {numbers['sinceSeconds']}: must be greater than 0"))
    since_time = query.get("sinceTime") or ""
    if since_time:
        try:
            datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f'parsing time "{since_time}" as RFC3339: invalid value for sinceTime') from None
        if "sinceSeconds" in numbers:
            causes.append(errors.cause("", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", "FieldValueForbidden"))
    if causes:
        raise errors.invalid("PodLogOptions", "", pod_name, causes)
    params = []
    for key in LOG_PARAMS:
        value = query.get(key)
        if value in (None, ""):
            continue
        if key in ("follow", "previous", "timestamps"):
            if rc.parse_bool(value):
                params.append((key, "true"))
        else:
            params.append((key, str(value)))
    return params


def _spdy_protocol(request: web.Request, supported: tuple[str, ...]) -> str:
    offered = rc.parse_protocols(request.headers.getall(rc.STREAM_PROTOCOL_HEADER, []))
    protocol = rc.negotiate(offered, supported)
    if protocol is None:
        raise errors.forbidden(
            f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server supports {list(supported)}"
        )
    return protocol


def _reason(code: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(code, "InternalError")


# ---------------------------------------------------------------------- relays
async def _binary_message(ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> bytes:
    """The next non-empty binary message's payload; b"" once the WebSocket closed."""
    while True:
        message = await ws.receive()
        if message.type == WSMsgType.BINARY:
            if message.data:
                return bytes(message.data)
        elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return b""


async def relay_websockets(client: web.WebSocketResponse, kubelet: aiohttp.ClientWebSocketResponse) -> None:
    """Pass binary messages both ways until either side closes, then close the other."""

    async def pipe(source: Any, sink: Any) -> None:
        while data := await _binary_message(source):
            if sink.closed:
                return
            await sink.send_bytes(data)

    tasks = [asyncio.create_task(pipe(kubelet, client)), asyncio.create_task(pipe(client, kubelet))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await kubelet.close()
        await client.close()


class _ExecOverSpdy:
    """One exec/attach: the client's SPDY streams on one side, a kubelet WebSocket (v5) on the other."""

    def __init__(self, options: rc.ExecOptions, kubelet: aiohttp.ClientWebSocketResponse):
        self.kubelet = kubelet
        self.expected = {"error"}
        for kind, wanted in (("stdin", options.stdin), ("stdout", options.stdout), ("stderr", options.stderr), ("resize", options.tty)):
            if wanted:
                self.expected.add(kind)
        self.streams: dict[str, SpdyStream] = {}
        self.ready = asyncio.Event()

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.header(rc.STREAM_TYPE_HEADER)
        if kind in self.expected and kind not in self.streams:
            self.streams[kind] = stream
            if kind in ("error", "stdout", "stderr"):
                stream.discard()  # the client never writes on these
        else:
            stream.discard()
        if self.expected <= self.streams.keys():
            self.ready.set()

    async def run(self, session: SpdySession, read: Callable[[], Awaitable[bytes]]) -> None:
        reading = asyncio.create_task(serve_session(session, read))
        helpers: list[asyncio.Task[None]] = []
        try:
            ready = asyncio.create_task(self.ready.wait())
            await asyncio.wait({ready, reading}, timeout=STREAM_CREATION_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if not self.ready.is_set():
                return
            if "stdin" in self.streams:
                helpers.append(asyncio.create_task(self._stdin(self.streams["stdin"])))
            if "resize" in self.streams:
                helpers.append(asyncio.create_task(self._resize(self.streams["resize"])))
            output = asyncio.create_task(self._output())
            await asyncio.wait({output, reading}, return_when=asyncio.FIRST_COMPLETED)
            if output.done():
                for kind in ("stdout", "stderr", "error"):
                    if kind in self.streams:
                        await self.streams[kind].close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.goaway.wait(), CLOSE_GRACE)
            else:
                output.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await output
        finally:
            for task in (*helpers, reading):
                task.cancel()
            for task in (*helpers, reading):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            session.connection_lost()

    async def _output(self) -> None:
        """Kubelet channels to the client's streams, until the kubelet closes."""
        targets = {rc.STDOUT: "stdout", rc.STDERR: "stderr", rc.ERROR: "error"}
        while message := await _binary_message(self.kubelet):
            channel, data = rc.split_message(message)
            stream = self.streams.get(targets.get(channel, ""))
            if stream is not None and data:
                await stream.write(data)

    async def _stdin(self, stream: SpdyStream) -> None:
        async for data in stream.chunks():
            await self.kubelet.send_bytes(rc.channel_message(rc.STDIN, data))
        if not self.kubelet.closed:
            await self.kubelet.send_bytes(rc.close_message(rc.STDIN))

    async def _resize(self, stream: SpdyStream) -> None:
        decoder = rc.ResizeDecoder()
        async for data in stream.chunks():
            for size in decoder.feed(data):
                await self.kubelet.send_bytes(rc.channel_message(rc.RESIZE, size.encode()))


class _PortForwardOverSpdy:
    """A SPDY port-forward session: each (error, data) stream pair with one requestid becomes one
    kubelet WebSocket for the stream's port."""

    def __init__(self, dial: Callable[[int], Awaitable[aiohttp.ClientWebSocketResponse]], pod_meta: Obj):
        self.dial = dial
        self.pod_meta = pod_meta
        self.pending: dict[str, dict[str, SpdyStream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.header(rc.STREAM_TYPE_HEADER)
        if kind not in (rc.PORT_FORWARD_DATA, rc.PORT_FORWARD_ERROR):
            stream.discard()
            self._spawn(stream.close())
            return
        request_id = stream.header(rc.REQUEST_ID_HEADER)
        pair = self.pending.setdefault(request_id, {})
        pair[kind] = stream
        if len(pair) == 2:
            del self.pending[request_id]
            self._spawn(self._forward(pair[rc.PORT_FORWARD_DATA], pair[rc.PORT_FORWARD_ERROR]))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _forward(self, data: SpdyStream, error: SpdyStream) -> None:
        error.discard()  # the client closes its side of the error stream at once
        kubelet: aiohttp.ClientWebSocketResponse | None = None
        try:
            try:
                port = rc.parse_ports([data.header(rc.PORT_HEADER)])[0]
            except ValueError as exc:
                await error.write(str(exc).encode())
                return
            try:
                kubelet = await self.dial(port)
            except errors.StatusError as exc:
                name, uid = self.pod_meta.get("name", ""), self.pod_meta.get("uid", "")
                await error.write(f"error forwarding port {port} to pod {name}, uid {uid}: {exc.message}".encode())
                return
            upload = asyncio.create_task(self._upload(data, kubelet))
            try:
                await self._download(kubelet, data, error)
            finally:
                upload.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await upload
        finally:
            data.discard()
            await error.close()
            await data.close()
            if kubelet is not None:
                await kubelet.close()

    @staticmethod
    async def _upload(data: SpdyStream, kubelet: aiohttp.ClientWebSocketResponse) -> None:
        async for chunk in data.chunks():
            await kubelet.send_bytes(rc.channel_message(0, chunk))
        if not kubelet.closed:  # the client's connection half-closed: let the pod's see EOF
            await kubelet.send_bytes(rc.close_message(0))

    @staticmethod
    async def _download(kubelet: aiohttp.ClientWebSocketResponse, data: SpdyStream, error: SpdyStream) -> None:
        prefix_left = {0: 2, 1: 2}  # each channel opens with the port, two bytes
        while message := await _binary_message(kubelet):
            channel, payload = rc.split_message(message)
            if channel not in prefix_left:
                continue
            skip = min(prefix_left[channel], len(payload))
            prefix_left[channel] -= skip
            payload = payload[skip:]
            if payload:
                await (data if channel == 0 else error).write(payload)
