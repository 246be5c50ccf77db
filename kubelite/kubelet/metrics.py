"""The kubelet's Prometheus documents: /metrics/resource (upstream's resource metrics collector:
node, pod and container CPU seconds and working sets, container start times and
resource_scrape_error, families in name order, samples with millisecond timestamps) and /metrics
(kubelet_node_name, kubelet_running_pods, kubelet_running_containers by state, and the process_*
families).

Must not measure anything (the runtime's UsageSource does) nor speak HTTP (server.py does).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from pathlib import Path

from kubelite.api import prometheus as prom
from kubelite.runtime.base import PodStatus, ResourceUsage

_CONTAINER_STATES = {"running": "running", "terminated": "exited", "waiting": "created"}


def resource_metrics(usage: ResourceUsage | None) -> str:
    """The /metrics/resource text for a reading (None: reading failed, resource_scrape_error 1)."""
    parts: list[str] = []
    if usage is not None:
        stamp = int(usage.timestamp * 1000)
        containers = sorted(usage.containers, key=lambda c: (c.name, c.namespace, c.pod))
        if containers:
            parts.append(prom.header("container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", "counter", "STABLE"))
            parts.extend(
                prom.sample("container_cpu_usage_seconds_total", _container_labels(c.name, c.namespace, c.pod), c.cpu_seconds, stamp)
                for c in containers
            )
            parts.append(prom.header("container_memory_working_set_bytes", "Current working set of the container in bytes", "gauge", "STABLE"))
            parts.extend(
                prom.sample("container_memory_working_set_bytes", _container_labels(c.name, c.namespace, c.pod), c.memory_working_set, stamp)
                for c in containers
            )
            parts.append(prom.header("container_start_time_seconds", "Start time of the container since unix epoch in seconds", "gauge", "STABLE"))
            parts.extend(
                prom.sample("container_start_time_seconds", _container_labels(c.name, c.namespace, c.pod), c.started_at)
                for c in containers
            )
        parts.append(prom.header("node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", "counter", "STABLE"))
        parts.append(prom.sample("node_cpu_usage_seconds_total", (), usage.node_cpu_seconds, stamp))
        parts.append(prom.header("node_memory_working_set_bytes", "Current working set of the node in bytes", "gauge", "STABLE"))
        parts.append(prom.sample("node_memory_working_set_bytes", (), usage.node_memory_working_set, stamp))
        pods: dict[tuple[str, str], list[float]] = {}
        for c in usage.containers:
            totals = pods.setdefault((c.namespace, c.pod), [0.0, 0.0])
            totals[0] += c.cpu_seconds
            totals[1] += c.memory_working_set
        if pods:
            ordered = sorted(pods.items())
            parts.append(prom.header("pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", "counter", "STABLE"))
            parts.extend(prom.sample("pod_cpu_usage_seconds_total", (("namespace", ns), ("pod", pod)), cpu, stamp) for (ns, pod), (cpu, _) in ordered)
            parts.append(prom.header("pod_memory_working_set_bytes", "Current working set of the pod in bytes", "gauge", "STABLE"))
            parts.extend(prom.sample("pod_memory_working_set_bytes", (("namespace", ns), ("pod", pod)), mem, stamp) for (ns, pod), (_, mem) in ordered)
    parts.append(prom.header("resource_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", "gauge", "STABLE"))
    parts.append(prom.sample("resource_scrape_error", (), 0 if usage is not None else 1))
    return "".join(parts)


def _container_labels(container: str, namespace: str, pod: str) -> prom.Labels:
    return (("container", container), ("namespace", namespace), ("pod", pod))


def kubelet_metrics(node_name: str, pods: Iterable[PodStatus]) -> str:
    """The kubelet's own /metrics text: its node, pods and containers, and the process."""
    running_pods = 0
    states = dict.fromkeys(("created", "exited", "running"), 0)
    for pod in pods:
        if any(c.state == "running" for c in pod.containers):
            running_pods += 1
        for container in pod.containers:
            states[_CONTAINER_STATES.get(container.state, "unknown")] = states.get(_CONTAINER_STATES.get(container.state, "unknown"), 0) + 1
    parts = [
        prom.header("kubelet_node_name", "The node's name. The count is always 1.", "gauge"),
        prom.sample("kubelet_node_name", (("node", node_name),), 1),
        prom.header("kubelet_running_containers", "Number of containers currently running", "gauge"),
        *(prom.sample("kubelet_running_containers", (("container_state", state),), count) for state, count in sorted(states.items())),
        prom.header("kubelet_running_pods", "Number of pods that have a running pod sandbox", "gauge"),
        prom.sample("kubelet_running_pods", (), running_pods),
        process_metrics(),
    ]
    return "".join(parts)


def process_metrics() -> str:
    """The process_* families of this process."""
    max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return prom.process_metrics(
        lambda path: Path(path).read_text(), lambda path: len(os.listdir(path)), max_fds, os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    )
