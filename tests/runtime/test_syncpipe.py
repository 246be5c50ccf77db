"""kubelite.runtime.syncpipe: a monitor's first report from a pipe."""

from __future__ import annotations

import asyncio
import os

from kubelite.runtime.syncpipe import read_line


async def test_reads_the_first_line_written_in_pieces() -> None:
    read_end, write_end = os.pipe()
    try:
        reading = asyncio.ensure_future(read_line(read_end))
        os.write(write_end, b'{"pid": ')
        await asyncio.sleep(0.05)
        assert not reading.done()
        os.write(write_end, b'12}\n{"later": 1}\n')
        assert await asyncio.wait_for(reading, 2) == b'{"pid": 12}'
    finally:
        os.close(read_end)
        os.close(write_end)


async def test_end_of_file_gives_what_came_and_a_timeout_leaves_no_reader() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"partial")
    os.close(write_end)
    assert await read_line(read_end) == b"partial"
    os.close(read_end)
    read_end, write_end = os.pipe()
    try:
        try:
            await asyncio.wait_for(read_line(read_end), 0.05)
        except TimeoutError:
            pass
        else:
            raise AssertionError("no timeout")
        assert not asyncio.get_running_loop().remove_reader(read_end)  # already removed
    finally:
        os.close(read_end)
        os.close(write_end)
