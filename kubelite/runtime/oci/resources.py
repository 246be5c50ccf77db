"""From a pod's resource requests and limits to cgroup numbers, as the kubelet computes them: the
QoS class (Guaranteed / Burstable / BestEffort), a container's linux.resources (cpu shares from
the request, CFS quota from the limit, memory limit), and the pod cgroup's limits (sums over the
containers, or the largest init container when that is more).

Must not touch cgroups or files: cgroups.py writes, spec.py embeds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kubelite.api.quantity import QuantityError, parse_quantity
from kubelite.runtime.oci.cgroups import DEFAULT_CPU_PERIOD, MAX_CPU_SHARES, MIN_CPU_SHARES, CgroupLimits

Obj = dict[str, Any]
MIN_QUOTA_US = 1000
GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"


def _amount(resources: Obj, kind: str, name: str) -> Decimal | None:
    value = (resources.get(kind) or {}).get(name)
    if value is None:
        return None
    try:
        return parse_quantity(value).amount
    except QuantityError:
        return None


def _request(container: Obj, name: str) -> Decimal | None:
    """The request, defaulting to the limit as the API does when only a limit is set."""
    resources = container.get("resources") or {}
    request = _amount(resources, "requests", name)
    return request if request is not None else _amount(resources, "limits", name)


def _limit(container: Obj, name: str) -> Decimal | None:
    return _amount(container.get("resources") or {}, "limits", name)


def milli_cpu_to_shares(milli: int) -> int:
    if milli <= 0:
        return MIN_CPU_SHARES
    return min(max(milli * 1024 // 1000, MIN_CPU_SHARES), MAX_CPU_SHARES)


def milli_cpu_to_quota(milli: int, period: int = DEFAULT_CPU_PERIOD) -> int | None:
    if milli <= 0:
        return None
    return max(milli * period // 1000, MIN_QUOTA_US)


def _milli(amount: Decimal | None) -> int:
    if amount is None:
        return 0
    return int((amount * 1000).to_integral_value(rounding="ROUND_CEILING"))


def _bytes(amount: Decimal | None) -> int | None:
    if amount is None:
        return None
    return int(amount.to_integral_value(rounding="ROUND_CEILING"))


def container_limits(container: Obj) -> CgroupLimits:
    return CgroupLimits(
        memory_bytes=_bytes(_limit(container, "memory")),
        cpu_shares=milli_cpu_to_shares(_milli(_request(container, "cpu"))),
        cpu_quota_us=milli_cpu_to_quota(_milli(_limit(container, "cpu"))),
    )


def linux_resources(container: Obj) -> Obj:
    """The OCI spec's linux.resources for one container."""
    limits = container_limits(container)
    cpu: Obj = {"shares": limits.cpu_shares}
    if limits.cpu_quota_us is not None:
        cpu["quota"] = limits.cpu_quota_us
        cpu["period"] = limits.cpu_period_us
    resources: Obj = {"devices": [{"allow": False, "access": "rwm"}], "cpu": cpu}
    if limits.memory_bytes is not None:
        resources["memory"] = {"limit": limits.memory_bytes}
    return resources


def _containers(pod: Obj) -> tuple[list[Obj], list[Obj]]:
    """(plain init containers, containers that run together: sidecars and app containers)."""
    spec = pod.get("spec") or {}
    inits = spec.get("initContainers") or []
    plain = [c for c in inits if c.get("restartPolicy") != "Always"]
    together = [c for c in inits if c.get("restartPolicy") == "Always"] + list(spec.get("containers") or [])
    return plain, together


def _effective(pod: Obj, value: Any) -> tuple[Decimal, bool]:
    """max(largest init container, sum of the others) of value(container); and whether every
    container has it."""
    plain, together = _containers(pod)
    everyone = True
    total = Decimal(0)
    for container in together:
        amount = value(container)
        everyone = everyone and amount is not None
        total += amount or 0
    for container in plain:
        amount = value(container)
        everyone = everyone and amount is not None
        total = max(total, amount or Decimal(0))
    return total, everyone


def pod_limits(pod: Obj, pids_limit: int | None = None) -> CgroupLimits:
    """The pod cgroup's limits: cpu shares from the requests; memory and CFS quota only when every
    container has a limit (otherwise one container without a limit may use the whole node)."""
    cpu_request, _ = _effective(pod, lambda c: _request(c, "cpu"))
    cpu_limit, all_cpu = _effective(pod, lambda c: _limit(c, "cpu"))
    memory_limit, all_memory = _effective(pod, lambda c: _limit(c, "memory"))
    return CgroupLimits(
        memory_bytes=_bytes(memory_limit) if all_memory else None,
        cpu_shares=milli_cpu_to_shares(_milli(cpu_request)),
        cpu_quota_us=milli_cpu_to_quota(_milli(cpu_limit)) if all_cpu else None,
        pids=pids_limit if pids_limit and pids_limit > 0 else None,
    )


def qos_class(pod: Obj) -> str:
    """Upstream's GetPodQOS over cpu and memory."""
    plain, together = _containers(pod)
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in plain + together:
        resources = container.get("resources") or {}
        for name in ("cpu", "memory"):
            request = _request(container, name)
            if request is not None and request != 0:
                requests[name] = requests.get(name, Decimal(0)) + request
            limit = _amount(resources, "limits", name)
            if limit is not None and limit != 0:
                limits[name] = limits.get(name, Decimal(0)) + limit
        if any(_amount(resources, "limits", name) in (None, 0) for name in ("cpu", "memory")):
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and requests == limits:
        return GUARANTEED
    return BURSTABLE


def pod_cgroup_path(parent: str, pod: Obj) -> str:
    """PARENT/pod<uid> for Guaranteed pods, PARENT/burstable|besteffort/pod<uid> otherwise."""
    uid = str(pod["metadata"]["uid"])
    qos = qos_class(pod)
    base = parent.rstrip("/") or ""
    if qos == GUARANTEED:
        return f"{base}/pod{uid}"
    return f"{base}/{qos.lower()}/pod{uid}"
