"""Routes to the other nodes' pods (host-gw, as flannel's host-gw backend): for every other node
with a spec.podCIDR and an InternalIP, `ip route replace <podCIDR> via <gateway> proto 0x4b`,
where the gateway is the node's address when it is on-link, else the next hop `ip route get
<address>` reports. No tunnel: each node's CNI bridge reaches its own pods.

Ownership: every route this component adds carries protocol ROUTE_PROTO and is written down in
a small state file (one CIDR per line, in the node's data dir) before it is added; only routes
both listed there and tagged with ROUTE_PROTO are ever replaced or deleted, so other kubelite
nodes sharing this network namespace (tests) and the host's own routes are never touched. A
prefix that already has a route that is not ours is left alone (with a warning): a node whose
pod CIDR collides with a local network gets no route.

Pod sources are kept: the CNI bridge plugin (ipMasq) masquerades whatever a pod sends outside
its own node's CIDR, so a small nftables table of ours (`<table>`, one nat postrouting chain at a
priority just before srcnat) gives packets from this node's pods to the other nodes' pod CIDRs an
identity source NAT, which settles their NAT binding so no later masquerade applies; packets the
service proxy marked for masquerading (its mark bit) are left to it. The table is rewritten (one
`nft -f`) only when the peer CIDRs change and is deleted on stop.

Level-triggered: Node events that change a node's routing facts queue the one key `routes`; the
sync computes the wanted table from the informer cache and moves the kernel's to it, and runs
again every RESYNC_SECONDS to put back routes someone removed. Only nodes whose kubelet reports
its API port (status.daemonEndpoints) get routes: hollow nodes (port 0) and Node objects made by
hand have no pods to reach. `stop()` removes every route it owns (and the table);
`remove_node_routes` does the same for a node that died (`--reset`).

Must not touch a route or table it did not create, nor hold any other networking (proxy.py,
routes.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.network.commands import CommandError, Runner, run_command

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ROUTE_PROTO = 0x4B  # "K": no routing daemon in /etc/iproute2/rt_protos uses it
RESYNC_SECONDS = 60.0
KEY = "routes"


@dataclass(frozen=True, slots=True)
class NodeRoutesOptions:
    node_name: str  # this node: it gets no route to itself
    state_file: Path  # the CIDRs whose routes this node added
    proto: int = ROUTE_PROTO
    resync_seconds: float = RESYNC_SECONDS
    pod_cidr: str = ""  # this node's pods: with nft_table, their source is kept towards other nodes
    nft_table: str = ""  # "": pods are masqueraded to other nodes (the CNI plugin's default)
    masquerade_mark: int = 0x4000  # the service proxy's: such packets are its to masquerade


def routing_facts(node: Obj) -> tuple[tuple[str, ...], str, bool]:
    """(IPv4 pod CIDRs, first IPv4 InternalIP, a kubelet serves its pods) — what a node's route
    depends on."""
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or [] if c] or ([str(spec["podCIDR"])] if spec.get("podCIDR") else [])
    v4 = tuple(c for c in cidrs if ":" not in c)
    address = next(
        (
            str(a["address"])
            for a in status.get("addresses") or []
            if a.get("type") == "InternalIP" and a.get("address") and ":" not in str(a["address"])
        ),
        "",
    )
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    return v4, address, isinstance(port, int) and port > 0


def wanted_peers(nodes: list[Obj], own_name: str) -> dict[str, str]:
    """{pod CIDR: node address} for every other node that has both and runs real pods."""
    wanted: dict[str, str] = {}
    for node in nodes:
        if (node.get("metadata") or {}).get("name") == own_name:
            continue
        cidrs, address, serves_pods = routing_facts(node)
        if not address or not serves_pods:
            continue
        for cidr in cidrs:
            try:
                wanted[str(ipaddress.ip_network(cidr, strict=False))] = address
            except ValueError:
                continue
    return wanted


def read_owned(path: Path) -> set[str]:
    try:
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}
    except FileNotFoundError:
        return set()


def write_owned(path: Path, owned: set[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{cidr}\n" for cidr in sorted(owned)))
    os.replace(tmp, path)


async def _routes(runner: Runner, *selector: str) -> list[Obj]:
    out = await runner(["ip", "-j", "-4", "route", "show", *selector], None)
    found = json.loads(out) if out.strip() else []
    return [route for route in found if isinstance(route, dict)]


def _dst(route: Obj) -> str:
    dst = str(route.get("dst") or "")
    return dst if "/" in dst else f"{dst}/32"


async def next_hop(address: str, runner: Runner) -> str | None:
    """The gateway that reaches `address`: itself when on-link, the route's next hop otherwise;
    None when it is one of this host's own addresses or unreachable."""
    try:
        out = await runner(["ip", "-j", "-4", "route", "get", address], None)
    except CommandError as err:
        log.warning("node routes: no route to node address %s: %s", address, err.stderr.strip())
        return None
    found = json.loads(out) if out.strip() else []
    if not found:
        return None
    route = found[0]
    if route.get("type") == "local" or route.get("dev") == "lo":
        return None
    return str(route.get("gateway") or address)


def keep_source_script(table: str, pod_cidr: str, peers: list[str], mark: int) -> str:
    """The `nft -f` script that (re)defines the table keeping pod sources towards `peers`."""
    rules = ""
    if peers:
        rules = f"\t\tmeta mark & 0x{mark:x} == 0 ip saddr {pod_cidr} ip daddr {{ {', '.join(peers)} }} snat ip to ip saddr\n"
    return (
        f"table ip {table}\nflush table ip {table}\ntable ip {table} {{\n\tchain keep-pod-source {{\n"
        f"\t\ttype nat hook postrouting priority srcnat - 10; policy accept;\n{rules}\t}}\n}}\n"
    )


async def delete_table(table: str, runner: Runner) -> None:
    with contextlib.suppress(CommandError):
        await runner(["nft", "delete", "table", "ip", table], None)


async def remove_node_routes(
    state_file: Path, proto: int = ROUTE_PROTO, runner: Runner = run_command, *, nft_table: str = ""
) -> None:
    """Delete every route the state file lists (only with our protocol), then forget them; and
    the table keeping pod sources, when named."""
    if nft_table:
        await delete_table(nft_table, runner)
    owned = read_owned(state_file)
    for cidr in sorted(owned):
        with contextlib.suppress(CommandError):
            await runner(["ip", "-4", "route", "del", cidr, "proto", str(proto)], None)
    if owned or state_file.exists():
        state_file.unlink(missing_ok=True)


class NodeRoutes(Controller):
    def __init__(
        self, client: Client, options: NodeRoutesOptions, *, runner: Runner = run_command, clock: Clock | None = None
    ):
        super().__init__(client, name="node-routes", workers=1, clock=clock)
        self.options = options
        self.run = runner
        self.nodes = self.informer("", "v1", "nodes")
        self.nodes.add_handler(lambda _n: self._changed(), self._updated, lambda _n: self._changed())
        self.owned = read_owned(options.state_file)
        self._warned: set[str] = set()  # prefixes found routed by someone else (warned once)
        self._script = ""  # the keep-source table as last applied

    def _updated(self, old: Obj, new: Obj) -> None:
        if routing_facts(old) != routing_facts(new):
            self._changed()

    def _changed(self) -> None:
        self.queue.add(KEY)

    async def start(self) -> None:
        await super().start()
        self.queue.add(KEY)  # also clears what a previous run left for nodes that are gone

    async def sync(self, key: str) -> None:
        try:
            await self.reconcile()
        finally:
            self.queue.add_after(KEY, self.options.resync_seconds)

    async def reconcile(self) -> None:
        """Move the kernel's routes to the wanted ones; a route that fails is retried (raises)."""
        proto = str(self.options.proto)
        wanted: dict[str, str] = {}
        for cidr, address in wanted_peers(self.nodes.cache.list(), self.options.node_name).items():
            gateway = await next_hop(address, self.run)
            if gateway is not None:
                wanted[cidr] = gateway
        ours = {_dst(r): str(r.get("gateway") or "") for r in await _routes(self.run, "proto", proto)}
        failures: list[str] = []
        for cidr, gateway in sorted(wanted.items()):
            if cidr in self.owned and ours.get(cidr) == gateway:
                continue
            if cidr not in self.owned and await self._foreign_route(cidr):
                continue
            self._own(cidr)
            try:
                await self.run(["ip", "-4", "route", "replace", cidr, "via", gateway, "proto", proto], None)
            except CommandError as err:
                failures.append(f"{cidr} via {gateway}: {err.stderr.strip()}")
            else:
                log.info("node routes: %s via %s", cidr, gateway)
        for cidr in sorted(self.owned - set(wanted)):
            try:
                if cidr in ours:
                    await self.run(["ip", "-4", "route", "del", cidr, "proto", proto], None)
            except CommandError as err:
                failures.append(f"removing {cidr}: {err.stderr.strip()}")
                continue
            self.owned.discard(cidr)
            write_owned(self.options.state_file, self.owned)
            log.info("node routes: removed %s", cidr)
        await self._keep_sources(sorted(cidr for cidr in wanted if cidr in self.owned))
        if failures:
            raise RuntimeError("; ".join(failures))

    async def _keep_sources(self, peers: list[str]) -> None:
        opts = self.options
        if not opts.nft_table or not opts.pod_cidr:
            return
        if not peers:  # a node alone needs no table
            if self._script:
                await delete_table(opts.nft_table, self.run)
                self._script = ""
            return
        script = keep_source_script(opts.nft_table, opts.pod_cidr, peers, opts.masquerade_mark)
        if script != self._script:
            await self.run(["nft", "-f", "-"], script.encode())
            self._script = script

    async def _foreign_route(self, cidr: str) -> bool:
        existing = await _routes(self.run, "exact", cidr)
        if existing and cidr not in self._warned:
            self._warned.add(cidr)
            log.warning("node routes: %s is already routed (%s): leaving it alone", cidr, existing[0].get("dev") or existing[0].get("type"))
        return bool(existing)

    def _own(self, cidr: str) -> None:
        if cidr not in self.owned:
            self.owned.add(cidr)
            write_owned(self.options.state_file, self.owned)  # written down before it exists

    async def stop(self) -> None:
        """Stop watching, then remove every route this node added (and the keep-source table)."""
        await super().stop()
        await remove_node_routes(self.options.state_file, self.options.proto, self.run, nft_table=self.options.nft_table)
        self.owned = set()
        self._script = ""
