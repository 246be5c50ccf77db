"""Reading a container monitor's first report (conmon's or the process monitor's sync pipe): one
line from a pipe, without blocking the event loop.

Must not parse the report or decide anything from it; callers add their own timeout.
"""

from __future__ import annotations

import asyncio
import os


async def read_line(fd: int) -> bytes:
    """The first line written to `fd` (without its newline), or what came before end-of-file."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    ready = asyncio.Event()
    buffer = b""
    loop.add_reader(fd, ready.set)
    try:
        while b"\n" not in buffer:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                ready.clear()
                await ready.wait()
                continue
            if not chunk:
                break
            buffer += chunk
    finally:
        loop.remove_reader(fd)
    return buffer.split(b"\n", 1)[0]
