"""`OciStreams`: the kubelet's ContainerStreams for the OCI runtime — exec runs `runc exec` (with
`--tty` on a pty for a terminal) inside the running container; logs, attach (output) and
port-forward are HostProcessStreams' over the runtime's CRI logs (DATA/pods) and the pod's network
namespace.

Must not speak HTTP (server.py does) nor start or stop containers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from kubelite.api.remotecommand import TerminalSize
from kubelite.kubelet.crilogs import LogOptions
from kubelite.kubelet.streams import (
    DEFAULT_PATH,
    HostProcessStreams,
    PodLookup,
    StreamError,
    Writer,
    find_container,
    run_in_pty,
    run_with_pipes,
)
from kubelite.runtime.oci.errors import ContainerStartError

Obj = dict[str, Any]


class OciExec(Protocol):
    def exec_argv(self, pod_uid: str, name: str, argv: Sequence[str], *, tty: bool = False) -> list[str]: ...

    def netns_path(self, pod_uid: str) -> str | None: ...


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


class OciStreams:
    def __init__(self, runtime: OciExec, log_root: Path, *, pod_lookup: PodLookup | None = None):
        self.runtime = runtime
        self.host = HostProcessStreams(log_root, pod_lookup=pod_lookup, netns_path=lambda pod: runtime.netns_path(_uid(pod)))

    def logs(self, pod: Obj, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        return self.host.logs(pod, container, options)

    async def exec(
        self,
        pod: Obj,
        container: str,
        command: Sequence[str],
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> int:
        if find_container(pod, container) is None:
            raise StreamError(f'container not found ("{container}")', 404)
        if not command:
            raise StreamError("you must specify at least 1 command")
        try:
            argv = self.runtime.exec_argv(_uid(pod), container, list(command), tty=tty)
        except ContainerStartError as exc:
            raise StreamError(f"unable to upgrade connection: {exc.message}", 500) from None
        env = {"PATH": os.environ.get("PATH") or DEFAULT_PATH}
        if tty:
            return await run_in_pty(argv, env, None, stdin, stdout, resize, raw=True)  # runc makes the container's terminal
        code = await run_with_pipes(argv, env, None, stdin, stdout, stderr)
        return code

    async def attach(
        self,
        pod: Obj,
        container: str,
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> None:
        await self.host.attach(pod, container, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty, resize=resize)

    async def port_forward(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.host.port_forward(pod, port)
