"""Where the HorizontalPodAutoscaler controller gets pod resource usage (upstream
pkg/controller/podautoscaler/metrics): the `MetricsSource` protocol (per-pod usage of one resource,
in milli-units, with the sample's timestamp and window, for the pods of a namespace matching a label
selector) and `ResourceMetricsClient`, the default source, which lists metrics.k8s.io/v1beta1
PodMetrics through the Client. While nothing serves that API, the listing fails and the source says
so with upstream's messages, which is what an upstream cluster without metrics-server reports.

Must not compute replica counts nor look at pod specs; it only turns metrics into numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector
from kubelite.api.quantity import QuantityError, parse_quantity
from kubelite.client.client import Client
from kubelite.controllers.podutil import parse_time

Obj = dict[str, Any]

METRICS_GROUP = "metrics.k8s.io"
METRICS_VERSION = "v1beta1"
DEFAULT_METRIC_WINDOW = 60.0  # upstream metricServerDefaultMetricWindow
NOT_FOUND = "the server could not find the requested resource"


@dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's usage: `value` in milli-units, sampled at `timestamp` (epoch seconds) over `window`
    seconds."""

    value: int
    timestamp: float
    window: float


PodMetricsInfo = dict[str, PodMetric]  # by pod name


class MetricsUnavailable(Exception):
    """The metrics could not be had; the message is upstream's error text."""


class MetricsSource(Protocol):
    async def resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str = ""
    ) -> tuple[PodMetricsInfo, float]:
        """Usage of `resource` ("cpu", "memory") per pod matching `selector` in `namespace` (of one
        container when `container` is given, else summed over the pod's containers), and the
        timestamp of the first sample. Raises MetricsUnavailable."""
        ...


def milli_value(quantity: Any) -> int:
    """upstream Quantity.MilliValue(): the value in milli-units, rounded up."""
    return math.ceil(parse_quantity(quantity).amount * 1000)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration string ("30s", "1m0s", "10.5s", "500ms") in seconds; ValueError when malformed."""
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"time: invalid duration {text!r}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return -seconds if text.startswith("-") else seconds


def _sample_time(item: Obj) -> tuple[float, float]:
    try:
        window = parse_duration(str(item.get("window") or "0s"))
    except ValueError:
        window = 0.0
    return parse_time(str(item.get("timestamp") or "")), window


def pod_metrics(items: list[Obj], resource: str) -> PodMetricsInfo:
    """upstream getPodMetrics: each pod's usage summed over its containers; a pod with no containers
    or a container without the resource is left out."""
    found: PodMetricsInfo = {}
    for item in items:
        containers = item.get("containers") or []
        total = 0
        missing = not containers
        for container in containers:
            usage = (container.get("usage") or {}).get(resource)
            if usage is None:
                missing = True
                break
            try:
                total += milli_value(usage)
            except QuantityError:
                missing = True
                break
        if not missing:
            timestamp, window = _sample_time(item)
            found[(item.get("metadata") or {}).get("name", "")] = PodMetric(total, timestamp, window)
    return found


def container_metrics(items: list[Obj], resource: str, container: str) -> PodMetricsInfo:
    """upstream getContainerMetrics: one container's usage per pod; a pod without that container is
    an error."""
    found: PodMetricsInfo = {}
    for item in items:
        meta = item.get("metadata") or {}
        entry = next((c for c in item.get("containers") or () if c.get("name") == container), None)
        if entry is None:
            raise MetricsUnavailable(
                f"container {container} not present in metrics for pod {meta.get('namespace', '')}/{meta.get('name', '')}"
            )
        usage = (entry.get("usage") or {}).get(resource)
        if usage is None:
            continue
        try:
            value = milli_value(usage)
        except QuantityError:
            continue
        timestamp, window = _sample_time(item)
        found[meta.get("name", "")] = PodMetric(value, timestamp, window)
    return found


def api_error_text(err: Exception, resource: str, group: str) -> str:
    """What client-go says about a failed list: a bare 404 (an API nobody serves) reads
    `the server could not find the requested resource (get pods.metrics.k8s.io)`."""
    if isinstance(err, StatusError):
        if err.code == 404 and err.message == NOT_FOUND:
            return f"{NOT_FOUND} (get {resource}.{group})"
        return err.message
    return str(err)


class ResourceMetricsClient:
    """The default MetricsSource: PodMetrics from the resource metrics API (metrics.k8s.io/v1beta1)."""

    def __init__(self, client: Client):
        self.pod_metrics = client.resource(METRICS_GROUP, METRICS_VERSION, "pods", namespaced=True)

    async def resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str = ""
    ) -> tuple[PodMetricsInfo, float]:
        try:
            listed = await self.pod_metrics.namespace(namespace).list(label_selector=str(selector))
        except StatusError as err:
            raise MetricsUnavailable(
                f"unable to fetch metrics from resource metrics API: {api_error_text(err, 'pods', METRICS_GROUP)}"
            ) from None
        items = listed.get("items") or []
        if not items:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        if container:
            try:
                found = container_metrics(items, resource, container)
            except MetricsUnavailable as err:
                raise MetricsUnavailable(f"failed to get container metrics: {err}") from None
        else:
            found = pod_metrics(items, resource)
        return found, _sample_time(items[0])[0]
