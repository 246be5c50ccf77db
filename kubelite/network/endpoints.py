"""What the proxy needs to know about one Service, read from the Service and its EndpointSlices:
its IPv4 service ports (cluster IP, node port, external destinations, traffic policies, session
affinity) and, per port, the endpoints this node may send traffic to — upstream's
CategorizeEndpoints: ready endpoints, or (only when none is ready) serving-and-terminating ones,
counted separately for the Cluster view (every node) and the Local view (this node only).

Pure functions over wire-shaped dicts. Must not render nftables text (rules.py does) nor do I/O.
Only IPv4 is handled: IPv6 clusterIPs and IPv6 EndpointSlices are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
DEFAULT_AFFINITY_TIMEOUT = 10800  # upstream DefaultClientIPServiceAffinitySeconds
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node: str

    @property
    def usable_when_terminating(self) -> bool:
        return self.serving and self.terminating


@dataclass(frozen=True, slots=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # nft spelling: tcp, udp, sctp
    port: int
    cluster_ip: str  # "" when the Service has no IPv4 cluster IP
    node_port: int  # 0 when none
    external_ips: tuple[str, ...]  # spec.externalIPs and VIP-mode load balancer ingress IPs
    load_balancer: bool  # type LoadBalancer handled by ServiceLB (no loadBalancerClass)
    external_local: bool  # externalTrafficPolicy Local
    internal_local: bool  # internalTrafficPolicy Local
    affinity_timeout: int  # seconds; 0 = no session affinity

    @property
    def display(self) -> str:
        """`namespace/name/protocol/portName`, as upstream names a service port."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}"

    @property
    def externally_reachable(self) -> bool:
        return bool(self.node_port or self.external_ips)


@dataclass(frozen=True, slots=True)
class PortEndpoints:
    """The endpoints one service port uses from this node."""

    cluster: tuple[Endpoint, ...]  # usable endpoints on any node
    local: tuple[Endpoint, ...]  # usable endpoints on this node

    @property
    def has_any(self) -> bool:
        return bool(self.cluster)


def _ipv4(value: Any) -> str:
    """The value if it is an IPv4 address, else ""."""
    if not isinstance(value, str) or not value or ":" in value:
        return ""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return ""
    return value


def is_proxied(service: Obj) -> bool:
    """Whether this proxy handles the Service at all: not ExternalName, not headless, not left to
    another proxy (the service-proxy-name label)."""
    meta = service.get("metadata") or {}
    if (meta.get("labels") or {}).get(SERVICE_PROXY_NAME_LABEL):
        return False
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return False
    return spec.get("clusterIP") not in (None, "", "None")


def _cluster_ipv4(spec: Obj) -> str:
    for candidate in spec.get("clusterIPs") or [spec.get("clusterIP")]:
        found = _ipv4(candidate)
        if found:
            return found
    return ""


def _external_ips(service: Obj) -> tuple[str, ...]:
    spec = service.get("spec") or {}
    found: list[str] = [ip for ip in (_ipv4(v) for v in spec.get("externalIPs") or []) if ip]
    if spec.get("type") == "LoadBalancer":
        for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            ip = _ipv4(ingress.get("ip"))
            if ip and (ingress.get("ipMode") or "VIP") == "VIP":
                found.append(ip)
    return tuple(dict.fromkeys(found))


def _affinity_timeout(spec: Obj) -> int:
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
    timeout = config.get("timeoutSeconds")
    return int(timeout) if isinstance(timeout, int) and timeout > 0 else DEFAULT_AFFINITY_TIMEOUT


def service_ports(service: Obj, node_addresses: Iterable[str] = ()) -> list[ServicePort]:
    """The Service's proxied ports (none for ExternalName, headless or other proxies' Services).
    For a ServiceLB LoadBalancer, this node's addresses are external destinations as well as the
    ingress IPs in its status."""
    if not is_proxied(service):
        return []
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    cluster_ip = _cluster_ipv4(spec)
    load_balancer = kind == "LoadBalancer" and not spec.get("loadBalancerClass")
    external = _external_ips(service)
    if load_balancer:
        external = tuple(dict.fromkeys([*external, *(ip for ip in (_ipv4(a) for a in node_addresses) if ip)]))
    external_local = spec.get("externalTrafficPolicy") == "Local"
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    affinity = _affinity_timeout(spec)
    ports: list[ServicePort] = []
    for entry in spec.get("ports") or []:
        protocol = PROTOCOLS.get(str(entry.get("protocol") or "TCP"))
        number = entry.get("port")
        if protocol is None or not isinstance(number, int):
            continue
        node_port = entry.get("nodePort") if kind in ("NodePort", "LoadBalancer") else 0
        ports.append(
            ServicePort(
                namespace=str(meta.get("namespace") or ""),
                name=str(meta.get("name") or ""),
                port_name=str(entry.get("name") or ""),
                protocol=protocol,
                port=number,
                cluster_ip=cluster_ip,
                node_port=node_port if isinstance(node_port, int) else 0,
                external_ips=external,
                load_balancer=load_balancer,
                external_local=external_local,
                internal_local=internal_local,
                affinity_timeout=affinity,
            )
        )
    return ports


def _endpoint_from(entry: Obj, port: int) -> Endpoint | None:
    addresses = entry.get("addresses") or []
    ip = _ipv4(addresses[0]) if addresses else ""
    if not ip:
        return None
    conditions = entry.get("conditions") or {}
    ready = conditions.get("ready") is not False  # nil means ready
    serving = conditions.get("serving") is not False  # nil means serving
    terminating = conditions.get("terminating") is True
    return Endpoint(ip, port, ready, serving, terminating, str(entry.get("nodeName") or ""))


def slice_endpoints(slices: Iterable[Obj], port: ServicePort) -> list[Endpoint]:
    """Every IPv4 endpoint of the slices for this service port (matched by port name and
    protocol), each ip:port once; slices are read in name order and the first mention wins."""
    wanted_protocol = port.protocol.upper()
    seen: dict[tuple[str, int], Endpoint] = {}
    for slice_ in sorted(slices, key=lambda s: str((s.get("metadata") or {}).get("name") or "")):
        if slice_.get("addressType") != "IPv4":
            continue
        number = None
        for slice_port in slice_.get("ports") or []:
            if (slice_port.get("name") or "") == port.port_name and (slice_port.get("protocol") or "TCP") == wanted_protocol:
                number = slice_port.get("port")
                break
        if not isinstance(number, int):
            continue
        for entry in slice_.get("endpoints") or []:
            endpoint = _endpoint_from(entry, number)
            if endpoint is not None:
                seen.setdefault((endpoint.ip, endpoint.port), endpoint)
    return list(seen.values())


def _usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Ready endpoints; if there are none, serving-and-terminating ones (upstream's fallback)."""
    pool = list(endpoints)
    ready = tuple(e for e in pool if e.ready)
    if ready:
        return ready
    return tuple(e for e in pool if e.usable_when_terminating)


def categorize(endpoints: Iterable[Endpoint], node_name: str) -> PortEndpoints:
    """Cluster and Local views, each falling back to terminating endpoints independently."""
    pool = sorted(endpoints, key=lambda e: (ipaddress.IPv4Address(e.ip), e.port))
    local = [e for e in pool if node_name and e.node == node_name]
    return PortEndpoints(_usable(pool), _usable(local))
