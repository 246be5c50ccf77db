"""The OCI runtime's use of host commands: `kubelite.runtime.commands` (vfork-cheap children
awaited on the loop) plus `check`, which turns a failure into an OciCommandError.

Must not spawn processes any other way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubelite.runtime.commands import BASE_ENV, DEFAULT_TIMEOUT, Completed, run, wait_exit
from kubelite.runtime.oci.errors import OciCommandError

__all__ = ["BASE_ENV", "DEFAULT_TIMEOUT", "Completed", "check", "run", "wait_exit"]


async def check(
    argv: Sequence[str], *, stdin: bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Completed:
    """run(), raising OciCommandError with the tool's message when it fails."""
    done = await run(argv, stdin=stdin, env=env, timeout=timeout)
    if done.returncode != 0:
        raise OciCommandError(done.error_text())
    return done
