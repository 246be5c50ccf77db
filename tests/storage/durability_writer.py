"""Helper process for test_sqlite's kill -9 test: writes to a SqliteBackend forever from 16
concurrent tasks and prints each write's key and value (flushed) only after the call returned.

Usage: python durability_writer.py DB_PATH
"""

from __future__ import annotations

import asyncio
import sys

from kubelite.storage.sqlite import SqliteBackend

WRITERS = 16


async def main(path: str) -> None:
    backend = SqliteBackend(path)
    await backend.start()
    counter = "/durable/counter"
    await backend.create(counter, b"0")

    async def creator(writer: int) -> None:
        index = 0
        while True:
            key, value = f"/durable/w{writer:02d}/{index:06d}", f"value-{writer}-{index}"
            await backend.create(key, value.encode())
            print(f"{key} {value}", flush=True)
            index += 1
            await asyncio.sleep(0)

    async def bumper() -> None:
        index = 1
        while True:
            await backend.update(counter, str(index).encode(), 0)
            print(f"{counter} {index}", flush=True)
            index += 1
            await asyncio.sleep(0)

    await asyncio.gather(bumper(), *(creator(w) for w in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
