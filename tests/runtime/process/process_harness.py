"""Helpers for the process runtime tests: a fresh data dir with the test images, a cgroup parent
of the test's own, a runtime in the asked isolation mode, and a clean-up that resets the node and
asserts nothing is left: no monitor or container process (by the PIDs the runtime recorded), no
pod or log directory, no cgroup."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubelite.runtime.oci import cgroups
from kubelite.runtime.process.runtime import ProcessOptions, ProcessRuntime
from kubelite.runtime.procstat import process_start_time
from tests.runtime.oci_harness import store_with_test_images

Obj = dict[str, Any]


def recorded_processes(runtime: ProcessRuntime) -> list[tuple[int, str]]:
    """(pid, start time) of every monitor, container init and process group the runtime knows."""
    found = []
    for held in runtime._pods.values():
        for attempt in held.containers.values():
            for key in ("monitor", "pid", "pgid"):
                if attempt.record.get(key) and attempt.record.get(f"{key}_start"):
                    found.append((int(attempt.record[key]), str(attempt.record[f"{key}_start"])))
    return found


def alive(processes: list[tuple[int, str]]) -> list[int]:
    return [pid for pid, start in processes if process_start_time(pid) == start]


def leftovers(runtime: ProcessRuntime, processes: list[tuple[int, str]]) -> list[str]:
    left = [f"process {pid}" for pid in alive(processes)]
    left += [f"pod dir {entry}" for entry in os.listdir(runtime.layout.pods)]
    left += [f"log dir {entry}" for entry in os.listdir(runtime.layout.logs)]
    if runtime.support.cgroups is not None:
        left += [f"cgroup {path}" for path in cgroups.existing(runtime.support.cgroups, runtime.options.cgroup_parent)]
    return left


@asynccontextmanager
async def process_runtime(tmp_path: Path, isolation: str, **overrides: Any) -> AsyncIterator[ProcessRuntime]:
    data_dir = tmp_path / "data"
    store = store_with_test_images(data_dir)
    parent = f"/kubelite-proc{random.randrange(10**6)}"
    runtime = ProcessRuntime(ProcessOptions(data_dir=data_dir, isolation=isolation, cgroup_parent=parent, kill_wait=5.0, **overrides), image_store=store)
    processes: list[tuple[int, str]] = []
    try:
        yield runtime
    finally:
        processes = recorded_processes(runtime)
        await runtime.reset_node()
        await runtime.close()
        assert not leftovers(runtime, processes), leftovers(runtime, processes)
