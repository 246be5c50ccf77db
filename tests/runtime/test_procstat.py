"""process_start_time recognises a live process by its /proc start time and says None for a
process that is gone."""

from __future__ import annotations

import os
import subprocess

from kubelite.runtime.procstat import process_start_time


def test_a_live_process_has_a_stable_start_time_and_a_reaped_one_none() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        first = process_start_time(child.pid)
        assert first is not None and first.isdigit()
        assert process_start_time(child.pid) == first
        assert process_start_time(os.getpid()) != first or os.getpid() == child.pid
    finally:
        child.kill()
        child.wait()
    assert process_start_time(child.pid) is None
