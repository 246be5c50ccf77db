"""Resource usage from cgroups and /proc, measured as cadvisor does for the kubelet's
/metrics/resource: a container's cumulative CPU time (v1 `cpuacct.usage` in nanoseconds, v2
`cpu.stat` usage_usec) and its memory working set (usage minus inactive file pages: v1
`memory.usage_in_bytes` minus `total_inactive_file`, v2 `memory.current` minus `inactive_file`);
the node's CPU time from the first line of /proc/stat (everything but idle and iowait) and its
working set from /proc/meminfo (MemTotal - MemFree - Inactive(file)).

The parse_* functions take file texts (tests feed fixtures); the read_* functions read them.

Must not create, limit or remove cgroups (cgroups.py and runc do), nor know about pods.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubelite.runtime.oci.cgroups import CgroupLayout

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC_STAT_BUSY = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (idle 3 and iowait 4 are not)


def parse_flat_keyed(text: str) -> dict[str, int]:
    """A `key value` per line file (memory.stat, cpu.stat); unparsable lines are skipped."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            found[key] = int(value)
        except ValueError:
            continue
    return found


def parse_v1_cpu(cpuacct_usage: str) -> float:
    """cgroup v1 cpuacct.usage (nanoseconds) in seconds."""
    return int(cpuacct_usage.strip()) / 1e9


def parse_v2_cpu(cpu_stat: str) -> float:
    """cgroup v2 cpu.stat usage_usec in seconds."""
    return parse_flat_keyed(cpu_stat).get("usage_usec", 0) / 1e6


def working_set(usage: int, memory_stat: str, v2: bool) -> int:
    """cadvisor's working set: usage less the inactive file pages (never below zero)."""
    stat = parse_flat_keyed(memory_stat)
    inactive = stat.get("inactive_file" if v2 else "total_inactive_file", 0)
    return max(usage - inactive, 0)


def parse_proc_stat_cpu(proc_stat: str, clock_ticks: int = CLOCK_TICKS) -> float:
    """The node's busy CPU time in seconds from /proc/stat's aggregate `cpu` line."""
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            return sum(values[i] for i in _PROC_STAT_BUSY if i < len(values)) / clock_ticks
    raise ValueError("no aggregate cpu line in /proc/stat")


def parse_meminfo_working_set(meminfo: str) -> int:
    """The node's working set in bytes from /proc/meminfo (kB values)."""
    values: dict[str, int] = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                values[key.strip()] = int(parts[0]) * 1024
            except ValueError:
                continue
    used = values.get("MemTotal", 0) - values.get("MemFree", 0)
    return max(used - values.get("Inactive(file)", 0), 0)


def read_cgroup_usage(layout: CgroupLayout, path: str) -> tuple[float, int] | None:
    """(cumulative CPU seconds, working-set bytes) of the cgroup `path`; None when it is gone."""
    relative = path.strip("/")
    try:
        cpuacct = layout.controller_mount("cpuacct")
        if cpuacct is not None and not cpuacct[1]:
            cpu = parse_v1_cpu((cpuacct[0] / relative / "cpuacct.usage").read_text())
        elif layout.unified is not None:
            cpu = parse_v2_cpu((layout.unified / relative / "cpu.stat").read_text())
        else:
            return None
        memory = layout.controller_mount("memory")
        if memory is None:
            return cpu, 0
        directory, v2 = memory[0] / relative, memory[1]
        usage = int((directory / ("memory.current" if v2 else "memory.usage_in_bytes")).read_text().strip())
        return cpu, working_set(usage, (directory / "memory.stat").read_text(), v2)
    except (OSError, ValueError):
        return None


def read_node_usage(proc: Path = Path("/proc")) -> tuple[float, int]:
    """(cumulative busy CPU seconds, working-set bytes) of the whole node."""
    return parse_proc_stat_cpu((proc / "stat").read_text()), parse_meminfo_working_set((proc / "meminfo").read_text())
