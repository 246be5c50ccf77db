"""Running the host's networking tools (nft, ip, conntrack) from the event loop: argv in, stdout
out, a CommandError carrying stderr when the tool fails or is missing.

Must not build command lines for anyone (the callers know their tools) nor retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


class CommandError(Exception):
    def __init__(self, argv: Sequence[str], code: int, stderr: str):
        self.argv = tuple(argv)
        self.code = code
        self.stderr = stderr
        super().__init__(f"{' '.join(argv[:3])}{' …' if len(argv) > 3 else ''} exited {code}: {stderr.strip()[:2000]}")


Runner = Callable[[Sequence[str], bytes | None], Awaitable[str]]


async def run_command(argv: Sequence[str], stdin: bytes | None = None) -> str:
    """Run argv to completion; its stdout, or CommandError (code 127 when the tool is missing)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from None
    try:
        out, err = await process.communicate(stdin)
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        raise CommandError(argv, process.returncode or 1, err.decode(errors="replace"))
    return out.decode(errors="replace")
