"""The DNS records one Service stands for, derived as CoreDNS's kubernetes plugin derives them
(the Kubernetes DNS specification, schema 1.1.0):

- `<svc>.<ns>.svc.<zone>`: the cluster IPs, one target per (cluster IP, service port); for a
  headless Service the ready endpoint addresses, one target per (address, slice port), or per
  address with no port when the slice has none; for an ExternalName Service a CNAME.
- `_<port>._<proto>.<svc>.<ns>.svc.<zone>`: the targets of that named port (unnamed ports have
  no such name).
- `<hostname>.<svc>.<ns>.svc.<zone>`: each ready endpoint (of any Service but ExternalName) by
  its `hostname`, or by its address with `.`/`:` turned into `-` when it has none.
- reverse entries: cluster IP -> the Service's name, endpoint IP -> the endpoint's name.

Only ready endpoints count (`conditions.ready` true or absent); FQDN slices are ignored.
Names are lower case, without the trailing dot.

Pure functions over wire-shaped dicts. Must not answer queries (table.py does) nor do I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

NO_PORT = -1  # a target of a slice without ports: an address, but no SRV record
ADDRESS_TYPES = ("IPv4", "IPv6")
TERMINATED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class Target:
    """One address a name stands for, with a port (NO_PORT: none) and the name the address is
    known by (an SRV record points there)."""

    address: str
    port: int
    name: str


@dataclass(frozen=True, slots=True)
class NameRecords:
    """What one name holds: targets, or (ExternalName) a CNAME target."""

    targets: tuple[Target, ...] = ()
    cname: str = ""


@dataclass(frozen=True, slots=True)
class ServiceRecords:
    names: Mapping[str, NameRecords]
    cluster_ips: tuple[tuple[str, str], ...] = ()  # (cluster IP, the Service's name)
    endpoint_ips: tuple[tuple[str, str], ...] = ()  # (endpoint IP, the endpoint's name)


EMPTY = ServiceRecords({})


def canonical_ip(value: Any) -> str:
    """The address in its canonical spelling, or "" when `value` is not an IP address."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def service_domain(namespace: str, name: str, zone: str) -> str:
    return f"{name}.{namespace}.svc.{zone}".lower()


def endpoint_label(hostname: str, address: str) -> str:
    """The name of an endpoint under its Service: its hostname, else its address dashed."""
    if hostname:
        return hostname.lower()
    return address.replace(".", "-").replace(":", "-").lower()


def is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def _ready(endpoint: Obj) -> bool:
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready)


def _port_name(name: Any, protocol: Any) -> str:
    """The `_<port>._<proto>` prefix of a named port, "" for an unnamed one."""
    if not name:
        return ""
    return f"_{str(name).lower()}._{str(protocol or 'TCP').lower()}"


class _Builder:
    def __init__(self) -> None:
        self.names: dict[str, dict[Target, None]] = {}

    def add(self, name: str, target: Target) -> None:
        self.names.setdefault(name, {})[target] = None

    def records(self) -> dict[str, NameRecords]:
        return {name: NameRecords(tuple(targets)) for name, targets in self.names.items()}


def service_records(service: Obj, slices: Iterable[Obj], zone: str) -> ServiceRecords:
    """The records of one Service and its EndpointSlices (slices of other Services must not be
    passed)."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    base = service_domain(str(meta.get("namespace") or ""), str(meta.get("name") or ""), zone)
    if spec.get("type") == "ExternalName":
        external = str(spec.get("externalName") or "").rstrip(".").lower()
        if not external or canonical_ip(external):
            return EMPTY  # not a name: CoreDNS answers nothing for it
        return ServiceRecords({base: NameRecords(cname=external)})
    headless = is_headless(service)
    built = _Builder()
    endpoint_ips: dict[tuple[str, str], None] = {}
    for slice_ in slices:
        if slice_.get("addressType") not in ADDRESS_TYPES:
            continue
        ports = [
            (int(port.get("port") or 0), _port_name(port.get("name"), port.get("protocol")))
            for port in slice_.get("ports") or []
            if port.get("port") is not None
        ] or [(NO_PORT, "")]
        for endpoint in slice_.get("endpoints") or []:
            if not _ready(endpoint):
                continue
            for raw in endpoint.get("addresses") or []:
                address = canonical_ip(raw)
                if not address:
                    continue
                name = f"{endpoint_label(str(endpoint.get('hostname') or ''), str(raw))}.{base}"
                endpoint_ips[(address, name)] = None
                for number, prefix in ports:
                    target = Target(address, number, name)
                    built.add(name, target)
                    if headless:
                        built.add(base, target)
                        if prefix:
                            built.add(f"{prefix}.{base}", target)
    cluster_ips: list[str] = []
    if not headless:
        found = spec.get("clusterIPs") or [spec.get("clusterIP")]
        cluster_ips = list(dict.fromkeys(ip for ip in (canonical_ip(value) for value in found) if ip))
        for port in spec.get("ports") or []:
            prefix = _port_name(port.get("name"), port.get("protocol"))
            for address in cluster_ips:
                target = Target(address, int(port.get("port") or 0), base)
                built.add(base, target)
                if prefix:
                    built.add(f"{prefix}.{base}", target)
    return ServiceRecords(
        built.records(),
        tuple((address, base) for address in cluster_ips),
        tuple(endpoint_ips),
    )


def pod_addresses(pod: Obj) -> tuple[str, ...]:
    """The IPs a pod answers to under `<a-b-c-d>.<ns>.pod.<zone>` (none once it has terminated)."""
    status = pod.get("status") or {}
    if status.get("phase") in TERMINATED_PHASES:
        return ()
    found = [entry.get("ip") for entry in status.get("podIPs") or []] or [status.get("podIP")]
    return tuple(dict.fromkeys(ip for ip in (canonical_ip(value) for value in found) if ip))
