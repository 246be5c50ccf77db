"""The resource metrics API (metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, get and list) that
metrics-server serves, answered from the MetricsScraper's storage and the registry's nodes and pods.

`install` adds the two resources to the catalogue (so discovery, `kubectl api-resources` and the
aggregated documents list them) and registers a read-only view per resource next to the
registry's Stores, so both the HTTP resource handler and the in-process transport (the HPA
controller's client) reach it the way they reach any resource. Nothing is stored: a list joins the
nodes or pods the selectors match (Running pods only) with the usage the scraper holds, and leaves
out those without any. As metrics-server: a missing node or pod is the lister's NotFound
(`pod "x" not found`), an existing one without metrics is `podmetrics.metrics.k8s.io "ns/x" not
found`; watch and writes answer 405 MethodNotAllowed.

Must not scrape (metricsscraper.py does) nor store anything.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, cast

from kubelite.api import errors
from kubelite.api.quantity import BINARY_SI, format_quantity, quantity_from_amount
from kubelite.apiserver.metricsscraper import MetricsStorage, Usage
from kubelite.registry.registry import Registry
from kubelite.registry.store import ListOptions, ListResult, Store
from kubelite.schema.catalogue import ResourceInfo

Obj = dict[str, Any]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
NODE_METRICS = ResourceInfo(GROUP, VERSION, "nodes", "NodeMetrics", "", namespaced=False, verbs=("get", "list"))
POD_METRICS = ResourceInfo(GROUP, VERSION, "pods", "PodMetrics", "", namespaced=True, verbs=("get", "list"))


def cpu_quantity(nanocores: int) -> str:
    return format_quantity(quantity_from_amount(Decimal(nanocores).scaleb(-9)))


def memory_quantity(size: int) -> str:
    return format_quantity(quantity_from_amount(size, BINARY_SI))


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration.String() writes it (metav1.Duration): "15.009s", "1m0.5s",
    "500ms"."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        if nanos < 1_000:
            return f"{sign}{nanos}ns"
        if nanos < 1_000_000:
            return f"{sign}{_fraction(nanos, 1_000)}µs"
        return f"{sign}{_fraction(nanos, 1_000_000)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{sign}{text}{_fraction(rest, 1_000_000_000)}s"


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    return f"{whole}." + str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _usage(usage: Usage) -> Obj:
    return {"cpu": cpu_quantity(usage.cpu_nanocores), "memory": memory_quantity(usage.memory)}


def _not_supported(action: str, info: ResourceInfo) -> errors.StatusError:
    return errors.StatusError(
        405,
        "MethodNotAllowed",
        f'{action} is not supported on resources of kind "{info.resource}.{info.group}"',
        {"group": info.group, "kind": info.resource},
    )


class _NoObjects:
    """The `cache` a Store has, empty: the registry's namespace sweep finds nothing to delete here."""

    by_namespace: dict[str, dict[str, Obj]] = {}


class MetricsView:
    """A read-only, Store-shaped view of one metrics resource (get and list; no watch, no writes)."""

    cache = _NoObjects()

    def __init__(self, info: ResourceInfo, registry: Registry, storage: MetricsStorage, wall_clock: Any = time.time):
        self.info = info
        self.registry = registry
        self.storage = storage
        self.wall_clock = wall_clock
        self.prefix = f"/{info.group}/{info.resource}/"  # never a storage key
        self._source = "pods" if info.namespaced else "nodes"

    def _sources(self) -> Store:
        store = self.registry.store("", "v1", self._source)
        if store is None:
            raise errors.service_unavailable(f"{self._source} are not served")
        return store

    # ------------------------------------------------------------------ reads
    async def get(self, namespace: str, name: str, resource_version: str = "", copy: bool = True) -> Obj:
        source = self._sources()
        try:
            obj = await source.get(namespace, name, copy=False)
        except errors.StatusError as exc:
            if exc.code == 404:  # what metrics-server's lister says
                raise errors.not_found(self._source[:-1], "", name) from None
            raise
        found = self._metrics(obj)
        if found is None:
            shown = f"{namespace}/{name}" if self.info.namespaced else name
            raise errors.not_found(f"{self._source[:-1]}metrics", GROUP, shown)
        return found

    async def list(self, namespace: str | None, opts: ListOptions, copy: bool = True) -> ListResult:
        selection = ListOptions(label_selector=opts.label_selector, field_selector=opts.field_selector)
        listed = await self._sources().list(namespace if self.info.namespaced else None, selection, copy=False)
        items = [found for obj in listed.items if (found := self._metrics(obj)) is not None]
        return ListResult(items, "")

    def _metrics(self, obj: Obj) -> Obj | None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        out_meta: Obj = {"name": name}
        if self.info.namespaced:
            if (obj.get("status") or {}).get("phase") != "Running":
                return None
            pod = self.storage.pod_usage(str(meta.get("namespace") or ""), name)
            if pod is None:
                return None
            stamp, window, containers = pod
            out_meta["namespace"] = meta.get("namespace")
            body: Obj = {"timestamp": _timestamp(stamp), "window": go_duration(window), "containers": _ordered(obj, containers)}
        else:
            usage = self.storage.node_usage(name)
            if usage is None:
                return None
            body = {"timestamp": _timestamp(usage.timestamp), "window": go_duration(usage.window), "usage": _usage(usage)}
        out_meta["creationTimestamp"] = _timestamp(self.wall_clock())
        if meta.get("labels"):
            out_meta["labels"] = dict(meta["labels"])
        return {"kind": self.info.kind, "apiVersion": API_VERSION, "metadata": out_meta, **body}

    def to_external(self, stored: Obj, copy: bool = False) -> Obj:
        return stored

    # ------------------------------------------------------------------ unsupported
    def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("watch", self.info)

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("create", self.info)

    async def update(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("update", self.info)

    async def patch(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("patch", self.info)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("delete", self.info)

    async def delete_collection(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_supported("deletecollection", self.info)


def _ordered(pod: Obj, containers: list[tuple[str, Usage]]) -> list[Obj]:
    """Containers in the pod's spec order (init containers that run alongside first)."""
    spec = pod.get("spec") or {}
    order = {c.get("name"): i for i, c in enumerate([*(spec.get("initContainers") or ()), *(spec.get("containers") or ())])}
    ranked = sorted(containers, key=lambda item: (order.get(item[0], len(order)), item[0]))
    return [{"name": name, "usage": _usage(usage)} for name, usage in ranked]


def install(registry: Registry, storage: MetricsStorage) -> None:
    """Serve metrics.k8s.io/v1beta1 nodes and pods from `storage` (after `registry.start()`, whose
    own Stores come from the catalogue it holds then)."""
    for info in (NODE_METRICS, POD_METRICS):
        registry.catalogue.add(info)
        registry.stores[(info.group, info.version, info.resource)] = cast(Store, MetricsView(info, registry, storage))
