"""Running the host's networking tools (nft, ip, conntrack) from the event loop: argv in, stdout
out, a CommandError carrying stderr when the tool fails or is missing.

Must not build command lines for anyone (the callers know their tools) nor retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from kubelite.runtime import commands

COMMAND_TIMEOUT = 60.0  # an nft swap of a large table takes about a second


class CommandError(Exception):
    def __init__(self, argv: Sequence[str], code: int, stderr: str):
        self.argv = tuple(argv)
        self.code = code
        self.stderr = stderr
        super().__init__(f"{' '.join(argv[:3])}{' …' if len(argv) > 3 else ''} exited {code}: {stderr.strip()[:2000]}")


Runner = Callable[[Sequence[str], bytes | None], Awaitable[str]]


async def run_command(argv: Sequence[str], stdin: bytes | None = None) -> str:
    """Run argv to completion (cheaply: kubelite.runtime.commands); its stdout, or CommandError
    (code 127 when the tool is missing)."""
    try:
        done = await commands.run(argv, stdin=stdin, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from None
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.decode(errors="replace"))
    return done.stdout.decode(errors="replace")
