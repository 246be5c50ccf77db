"""Storage benchmark: SQLite (the embedded default) against a real etcd started on loopback ports.

Prints one line per figure: puts/s with sequential awaits and with 16 concurrent writers (plus
put latency under concurrency), get p50/p99, and the time to range 1000 keys. No assertions on
timing. `measure_backends()` returns the same figures as a dict for bench/api.py.

Must not leave anything running: the etcd it starts is stopped by PID, temp dirs are removed.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubelite.storage.backend import Backend
from kubelite.storage.etcd import EtcdBackend
from kubelite.storage.etcd_server import LocalEtcd
from kubelite.storage.sqlite import SqliteBackend

VALUE = os.urandom(1024)  # about the size of a small Kubernetes object
WRITERS = 16
RANGE_KEYS = 1000


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _timed(call: Callable[[], Awaitable[object]], samples: list[float]) -> None:
    started = time.perf_counter()
    await call()
    samples.append(time.perf_counter() - started)


async def measure(backend: Backend, puts: int = 2000, gets: int = 2000) -> dict[str, float]:
    """Figures for one started backend (it writes under /bench/)."""
    figures: dict[str, float] = {}

    started = time.perf_counter()
    for i in range(puts):
        await backend.create(f"/bench/seq/{i:06d}", VALUE)
    figures["puts_per_s_sequential"] = puts / (time.perf_counter() - started)

    latencies: list[float] = []

    async def writer(w: int) -> None:
        for i in range(w, puts, WRITERS):
            key = f"/bench/conc/{i:06d}"
            await _timed(lambda key=key: backend.create(key, VALUE), latencies)  # type: ignore[misc]
            await asyncio.sleep(0)  # let the writers interleave, as request handlers would

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    figures[f"puts_per_s_{WRITERS}_writers"] = puts / (time.perf_counter() - started)
    figures["put_p50_ms"] = _percentile(latencies, 0.50) * 1e3
    figures["put_p99_ms"] = _percentile(latencies, 0.99) * 1e3

    get_latencies: list[float] = []
    for _ in range(gets):
        key = f"/bench/seq/{random.randrange(puts):06d}"
        await _timed(lambda key=key: backend.get(key), get_latencies)  # type: ignore[misc]
    figures["get_p50_ms"] = _percentile(get_latencies, 0.50) * 1e3
    figures["get_p99_ms"] = _percentile(get_latencies, 0.99) * 1e3

    range_times: list[float] = []
    for _ in range(10):
        started = time.perf_counter()
        result = await backend.range("/bench/seq/", limit=RANGE_KEYS)
        range_times.append(time.perf_counter() - started)
        assert len(result.items) == min(RANGE_KEYS, puts)
    figures[f"range_{RANGE_KEYS}_keys_ms"] = statistics.median(range_times) * 1e3
    return figures


async def measure_backends_async(puts: int = 2000) -> dict[str, dict[str, Any]]:
    """{backend name: figures}; a backend that cannot run reports {"error": why}."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as scratch:
        root = Path(scratch)
        for name, fsync in (("sqlite", False), ("sqlite+fsync", True)):
            backend = SqliteBackend(str(root / f"{name}.db"), fsync_each_write=fsync)
            await backend.start()
            try:
                results[name] = await measure(backend, puts)
            finally:
                await backend.close()
        server = LocalEtcd(root / "etcd")
        try:
            server.start()
        except Exception as exc:  # etcd not installed or not starting: report, keep the sqlite figures
            results["etcd"] = {"error": str(exc)}
            return results
        try:
            etcd = EtcdBackend([server.endpoint])
            await etcd.start()
            try:
                results["etcd"] = await measure(etcd, puts)
            finally:
                await etcd.close()
        finally:
            server.stop()
    return results


def measure_backends(puts: int = 2000) -> dict[str, dict[str, Any]]:
    """Run the storage benchmark in its own event loop (uvloop when available)."""
    try:
        import uvloop

        return uvloop.run(measure_backends_async(puts))
    except ImportError:
        return asyncio.run(measure_backends_async(puts))


def main() -> None:
    results = measure_backends()
    for name, figures in results.items():
        if "error" in figures:
            print(f"{name}: not measured: {figures['error']}")
            continue
        for figure, value in figures.items():
            print(f"{name:13} {figure:24} {value:10.2f}")


if __name__ == "__main__":
    main()
