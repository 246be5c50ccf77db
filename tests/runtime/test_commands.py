"""Running tools from the loop: output, exit codes and errors; input bigger than a pipe while the
child writes as much back; a child that ignores its input; timeouts and cancellation kill the
child; the same under uvloop (the server's loop)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import uvloop

from kubelite.runtime import commands
from kubelite.runtime.oci import commands as oci_commands
from kubelite.runtime.oci.errors import OciCommandError


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_output_exit_code_and_environment() -> None:
    done = await commands.run(["sh", "-c", 'echo out; echo err >&2; echo "$PATH"; exit 3'])
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n" + commands.BASE_ENV["PATH"].encode() + b"\n", b"err\n")
    assert done.argv[0] == "sh" and done.error_text() == "err"
    custom = await commands.run(["sh", "-c", "echo $ONLY"], env={"ONLY": "me", "PATH": "/usr/bin:/bin"})
    assert custom.stdout == b"me\n"


async def test_big_input_and_output_at_once() -> None:
    data = os.urandom(1024 * 1024)
    done = await commands.run(["cat"], stdin=data)
    assert done.returncode == 0 and done.stdout == data


async def test_a_child_that_ignores_its_input() -> None:
    done = await commands.run(["true"], stdin=b"x" * (1024 * 1024))
    assert done.returncode == 0


async def test_check_raises_the_tools_message() -> None:
    with pytest.raises(OciCommandError, match="^no such thing$"):
        await oci_commands.check(["sh", "-c", "echo 'no such thing' >&2; exit 1"])
    with pytest.raises(OciCommandError, match="exited with 4"):
        await oci_commands.check(["sh", "-c", "exit 4"])
    with pytest.raises(FileNotFoundError):
        await commands.run(["/nonexistent/tool"])


async def test_a_timeout_kills_the_child() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await commands.run(["sh", "-c", "echo $$; exec sleep 30"], timeout=0.3)
    assert time.monotonic() - started < 5


async def test_cancelling_kills_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    task = asyncio.create_task(commands.run(["sh", "-c", f"echo $$ > {marker}; exec sleep 30"]))
    while not marker.exists() or not marker.read_text().strip():
        await asyncio.sleep(0.01)
    pid = int(marker.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(pid)


def test_under_uvloop() -> None:
    async def main() -> tuple[commands.Completed, list[commands.Completed]]:
        one = await commands.run(["cat"], stdin=b"hello")
        many = await asyncio.gather(*(commands.run(["sh", "-c", f"exit {i}"]) for i in range(20)))
        return one, list(many)

    one, many = uvloop.run(main())
    assert one.stdout == b"hello"
    assert [done.returncode for done in many] == list(range(20))
