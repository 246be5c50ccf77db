"""Running one probe or lifecycle hook action against a container, as upstream's prober and
handler runner do: httpGet (to the pod's IP; 200-399 succeeds; `kube-probe/<version>` agent),
tcpSocket (a connection to the pod's IP), exec (in the container through the runtime; exit 0
succeeds), each bounded by a timeout. Answers (success, message) with upstream's messages.

Must not loop, count thresholds or decide restarts (probes.py and pods.py do).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import ssl
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from kubelite import KUBERNETES_VERSION

Obj = dict[str, Any]

MAX_BODY = 10 * 1024
USER_AGENT = f"kube-probe/{'.'.join(KUBERNETES_VERSION.lstrip('v').split('.')[:2])}"


@runtime_checkable
class ExecRuntime(Protocol):
    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]: ...


def resolve_port(port: Any, container: Obj) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for declared in container.get("ports") or []:
        if declared.get("name") == text:
            return int(declared.get("containerPort") or 0)
    raise ValueError(f"couldn't find port: {text} in {container.get('name', '')}")


def _dial_error(ip: str, port: int, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"dial tcp {ip}:{port}: i/o timeout"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {ip}:{port}: connect: connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return f"dial tcp {ip}:{port}: connect: {exc.strerror.lower()}"
    return f"dial tcp {ip}:{port}: {exc}"


async def http_get(ip: str, container: Obj, action: Obj, timeout: float) -> tuple[bool, str]:
    try:
        port = resolve_port(action.get("port"), container)
    except ValueError as exc:
        return False, str(exc)
    scheme = str(action.get("scheme") or "HTTP").lower()
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{ip}:{port}{path}"
    headers = {"Host": f"{ip}:{port}", "User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
    for header in action.get("httpHeaders") or []:
        headers[str(header.get("name"))] = str(header.get("value") or "")
    context: ssl.SSLContext | None = None
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                reader, writer = await asyncio.open_connection(ip, port, ssl=context)
            except OSError as exc:
                return False, f'Get "{url}": {_dial_error(ip, port, exc)}'
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.decode(errors="replace").split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                return False, f'Get "{url}": malformed HTTP response {status_line[:64]!r}'
            code = int(parts[1])
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except (OSError, ssl.SSLError) as exc:
        return False, f'Get "{url}": {exc}'
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def tcp_socket(ip: str, container: Obj, action: Obj, timeout: float) -> tuple[bool, str]:
    try:
        port = resolve_port(action.get("port"), container)
    except ValueError as exc:
        return False, str(exc)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(ip, port)
    except (OSError, TimeoutError) as exc:
        return False, _dial_error(ip, port, exc)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def run_exec(runtime: ExecRuntime, pod_uid: str, container: Obj, action: Obj, timeout: float) -> tuple[bool, str]:
    command = [str(part) for part in action.get("command") or []]
    try:
        code, stdout, stderr = await runtime.exec_sync(pod_uid, str(container["name"]), command, timeout)
    except TimeoutError:
        return False, f"command {shlex.join(command)!r} timed out"
    except Exception as exc:  # the container stopped, the runtime refused
        return False, str(exc)
    if code == 0:
        return True, ""
    output = (stdout + stderr).decode(errors="replace")
    return False, output


async def run_action(runtime: ExecRuntime | None, pod_uid: str, ip: str, container: Obj, action: Obj, timeout: float) -> tuple[bool, str]:
    """One probe or hook: whichever handler `action` names."""
    if "httpGet" in action:
        return await http_get(ip, container, action["httpGet"] or {}, timeout)
    if "tcpSocket" in action:
        return await tcp_socket(ip, container, action["tcpSocket"] or {}, timeout)
    if "exec" in action:
        if runtime is None:
            return False, "exec is not supported by this runtime"
        return await run_exec(runtime, pod_uid, container, action["exec"] or {}, timeout)
    if "sleep" in action:
        await asyncio.sleep(min(float((action["sleep"] or {}).get("seconds") or 0), timeout))
        return True, ""
    return False, "unknown probe or handler type"
