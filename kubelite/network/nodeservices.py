"""The Service networking a real node runs next to its kubelet: the service proxy, the routes to
the other nodes' pods, and — on the server's node only (cluster_addons) — the ServiceLB status
writer, cluster DNS on the pod bridge's address (plus the kube-dns Service and its EndpointSlice
pointing there) and the ingress controller with its default IngressClass.

`start()` first makes sure the pod bridge exists with its gateway address (the first address of
the pod CIDR), exactly as the CNI bridge plugin (isGateway) would make it, so the DNS server can
bind to that address before any pod exists; the plugin adopts the bridge as it finds it.
`stop()` stops everything in reverse order (the proxy removes its table and route; DNS closes its
sockets; nginx is stopped by PID). `reset_node_services` removes what a proxy that died left.

Lives in the network layer (the kubelet layer may not import it); the CLI wires it. Must not run
for hollow nodes, hold any component logic itself, nor listen on 0.0.0.0:53.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.network.commands import CommandError, Runner, run_command
from kubelite.network.dns.component import ClusterDNS, DNSOptions
from kubelite.network.dns.service import ensure_kube_dns
from kubelite.network.ingress.classes import ensure_default_ingress_class
from kubelite.network.ingress.controller import IngressController, IngressOptions
from kubelite.network.noderoutes import NodeRoutes, NodeRoutesOptions, remove_node_routes
from kubelite.network.proxy import ProxyOptions, ServiceProxy
from kubelite.network.routes import ServiceRoute
from kubelite.network.rules import delete_script
from kubelite.network.servicelb import ServiceLBController

log = logging.getLogger(__name__)

CLUSTER_CIDR = "10.42.0.0/16"
SERVICE_CIDR = "10.43.0.0/16"
KUBE_DNS_IP = "10.43.0.10"


class Component(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeServicesOptions:
    data_dir: Path
    node_name: str
    pod_cidr: str = "10.42.0.0/24"
    bridge: str = "kubelite0"
    proxy_table: str = "kubelite"
    service_cidr: str = SERVICE_CIDR
    dns_ip: str = KUBE_DNS_IP
    dns_port: int = 53
    ingress_http_port: int = 80  # 0: no ingress controller
    ingress_https_port: int = 443  # 0: no HTTPS listener
    cluster_addons: bool = True  # False (an agent's node): no ServiceLB, DNS or ingress; the server's node runs them
    cluster_pod_cidr: str = ""  # every node's pods (node IPAM's range); "" = derived from pod_cidr

    @property
    def bridge_ip(self) -> str:
        return bridge_gateway(self.pod_cidr)

    def cluster_cidr(self) -> str:
        """The pods' range as the proxy sees it: the cluster's /16 when this node's CIDR is in it,
        else this node's own CIDR (test nodes); cluster_pod_cidr when given."""
        if self.cluster_pod_cidr:
            return self.cluster_pod_cidr
        pods = ipaddress.ip_network(self.pod_cidr, strict=False)
        inside = isinstance(pods, ipaddress.IPv4Network) and pods.subnet_of(ipaddress.IPv4Network(CLUSTER_CIDR))
        return CLUSTER_CIDR if inside else str(pods)


def node_routes_state(data_dir: Path) -> Path:
    """Where the node writes down the routes to other nodes it added (noderoutes.py)."""
    return data_dir / "network" / "node-routes"


def routes_table(proxy_table: str) -> str:
    """The nftables table keeping pod sources towards other nodes (next to the proxy's)."""
    return f"{proxy_table}_routes"


def bridge_gateway(pod_cidr: str) -> str:
    """The bridge's address: the first address of the pod CIDR (the bridge plugin's gateway)."""
    return str(next(ipaddress.ip_network(pod_cidr, strict=False).hosts()))


async def ensure_bridge(name: str, pod_cidr: str, runner: Runner = run_command) -> None:
    """The pod bridge exists, is up and holds gateway/prefix (as the CNI bridge plugin sets it up,
    so the plugin later adopts it unchanged)."""
    network = ipaddress.ip_network(pod_cidr, strict=False)
    address = f"{bridge_gateway(pod_cidr)}/{network.prefixlen}"
    if not Path("/sys/class/net", name).exists():
        try:
            await runner(["ip", "link", "add", "name", name, "type", "bridge"], None)
        except CommandError as err:
            if "File exists" not in err.stderr:
                raise
    if address not in await _addresses(name, runner):
        try:
            await runner(["ip", "addr", "add", address, "dev", name], None)
        except CommandError as err:
            if "File exists" not in err.stderr and "already assigned" not in err.stderr:
                raise
    await runner(["ip", "link", "set", name, "up"], None)


async def _addresses(device: str, runner: Runner) -> set[str]:
    """The device's IPv4 addresses as `address/prefix`."""
    out = await runner(["ip", "-j", "-4", "addr", "show", "dev", device], None)
    links = json.loads(out) if out.strip() else []
    return {f"{a.get('local')}/{a.get('prefixlen')}" for link in links for a in link.get("addr_info") or []}


async def reset_node_services(
    table: str, bridge: str, service_cidr: str = SERVICE_CIDR, runner: Runner = run_command, *, data_dir: Path | None = None
) -> None:
    """Remove a proxy's table and its service CIDR route via `bridge`, and (given the node's
    data dir) its routes to other nodes: what `stop()` would have removed, had it run."""
    if data_dir is not None:
        await remove_node_routes(node_routes_state(data_dir), runner=runner, nft_table=routes_table(table))
    with contextlib.suppress(CommandError):
        await runner(["nft", "-f", "-"], delete_script(table).encode())
    route = ServiceRoute(service_cidr, bridge, runner)
    with contextlib.suppress(CommandError, ValueError):
        if bridge in await route.current_devices():
            await runner(["ip", "route", "del", service_cidr, "dev", bridge], None)


async def remove_bridge(name: str, runner: Runner = run_command) -> None:
    """Delete the pod bridge `ensure_bridge` made (after the runtime's reset: the process runtime
    has no CNI to remove it); nothing when it is gone already."""
    if Path("/sys/class/net", name).exists():
        with contextlib.suppress(CommandError):
            await runner(["ip", "link", "del", name], None)


class NodeServices:
    """Proxy, ServiceLB, cluster DNS and ingress for one real node; `start()` then `stop()`."""

    def __init__(self, client: Client, options: NodeServicesOptions, *, clock: Clock | None = None):
        self.client = client
        self.options = options
        self.clock: Clock = clock or RealClock()
        self.proxy = ServiceProxy(
            client,
            ProxyOptions(
                node_name=options.node_name,
                table=options.proxy_table,
                service_cidr=options.service_cidr,
                cluster_cidr=options.cluster_cidr(),
                bridge=options.bridge,
            ),
            clock=self.clock,
        )
        self.routes = NodeRoutes(
            client,
            NodeRoutesOptions(
                options.node_name, node_routes_state(options.data_dir), pod_cidr=options.pod_cidr, nft_table=routes_table(options.proxy_table)
            ),
            clock=self.clock,
        )
        self.service_lb: ServiceLBController | None = None
        self.dns: ClusterDNS | None = None
        if options.cluster_addons:
            self.service_lb = ServiceLBController(client, clock=self.clock)
            self.dns = ClusterDNS(
                client, DNSOptions(host=options.bridge_ip, port=options.dns_port, dns_ip=options.dns_ip), clock=self.clock
            )
        self.ingress: IngressController | None = None
        if options.ingress_http_port and options.cluster_addons:
            self.ingress = IngressController(
                client,
                IngressOptions(
                    prefix=options.data_dir / "ingress-nginx",
                    http_port=options.ingress_http_port,
                    https_port=options.ingress_https_port,
                    node_name=options.node_name,
                ),
                clock=self.clock,
            )
        self._started: list[Component] = []

    async def start(self) -> None:
        """Bridge, proxy, ServiceLB, DNS (+ kube-dns), ingress (+ its class), in that order; a
        failure stops what started and raises."""
        opts = self.options
        try:
            await ensure_bridge(opts.bridge, opts.pod_cidr)
            await self._start(self.proxy)
            await self._start(self.routes)
            if self.service_lb is not None:
                await self._start(self.service_lb)
            if self.dns is not None:
                await self._start(self.dns)
                await ensure_kube_dns(
                    self.client, cluster_ip=opts.dns_ip, addresses=[opts.bridge_ip], port=self.dns.port, node_name=opts.node_name
                )
            if self.ingress is not None:
                await ensure_default_ingress_class(self.client)
                await self._start(self.ingress)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, component: Any) -> None:
        self._started.append(component)
        await component.start()

    async def stop(self) -> None:
        """Stop what started, last first; idempotent."""
        started, self._started = self._started, []
        for component in reversed(started):
            try:
                await component.stop()
            except Exception as err:
                log.warning("node services: stopping %s failed: %s", type(component).__name__, err)
