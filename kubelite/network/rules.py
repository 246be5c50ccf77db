"""The service proxy's nftables ruleset, rendered from Services, their EndpointSlices and this
node's addresses: one `table ip <name>` holding every rule, and the `nft -f` script that swaps
the previous ruleset for a new one in one atomic transaction.

Layout (docs/network.md explains each packet's way through it):
- base chains: nat prerouting/output -> `services`; nat postrouting -> `masquerading`; filter
  input/forward/output -> `endpoints-check` (no endpoints: reject, or drop when only other nodes
  have endpoints for a Local policy) and `cluster-ips-check` (forward/output: an unknown port of a
  ClusterIP is rejected, an unallocated service address dropped).
- maps `service-ips` (ip . proto . port -> chain) and `service-nodeports` (proto . port -> chain),
  matched on every local address (`fib daddr type local`, 127.0.0.1 included) or on the given
  node-port addresses.
- per service port: `service-…` (Cluster view) and `local-…` (Local view) pick an endpoint with
  `numgen random mod N vmap`; `external-…` fronts NodePort / LoadBalancer / externalIPs traffic
  (masquerade for Cluster policy; for Local, node- and pod-originated traffic still uses the
  Cluster view); `endpoint-…` masquerades hairpin traffic and DNATs. ClientIP session affinity
  is one timeout set per endpoint keyed by client address, looked up before the random pick.

Sections rendered elsewhere (the NetworkPolicy section, policyrules.py) join the table as
`TableSection`s: their text is placed in the block and their chains and sets join the swap.

The swap keeps the table (and so the affinity sets' entries) and replaces everything else:
flush every rule and every map, delete what the new ruleset no longer has, add the new one.

Pure: text in, text out. Must not run nft or touch the host (proxy.py applies the script).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelite.network.endpoints import Endpoint, ServicePort, categorize, service_ports, slice_endpoints

Obj = dict[str, Any]

REJECT_CHAIN = "reject-chain"
MARK_CHAIN = "mark-for-masquerade"
_BASE_CHAINS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nat-prerouting", "type nat hook prerouting priority dstnat; policy accept;", ("jump services",)),
    ("nat-output", "type nat hook output priority -100; policy accept;", ("jump services",)),
    ("nat-postrouting", "type nat hook postrouting priority srcnat; policy accept;", ("jump masquerading",)),
    ("filter-input", "type filter hook input priority filter - 10; policy accept;", ("ct state new jump endpoints-check",)),
    (
        "filter-forward",
        "type filter hook forward priority filter - 10; policy accept;",
        ("ct state new jump endpoints-check", "ct state new jump cluster-ips-check"),
    ),
    (
        "filter-output",
        "type filter hook output priority filter - 10; policy accept;",
        ("ct state new jump endpoints-check", "ct state new jump cluster-ips-check"),
    ),
)
_MAPS = (
    ("service-ips", "ipv4_addr . inet_proto . inet_service : verdict"),
    ("service-nodeports", "inet_proto . inet_service : verdict"),
    ("no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict"),
    ("no-endpoint-nodeports", "inet_proto . inet_service : verdict"),
)


@dataclass(frozen=True, slots=True)
class RulesConfig:
    table: str = "kubelite"
    node_name: str = ""  # endpoints on this node are "local"
    cluster_cidr: str = "10.42.0.0/16"  # pod addresses; ClusterIP traffic from elsewhere is masqueraded ("" = none)
    service_cidr: str = "10.43.0.0/16"  # unallocated addresses in it are dropped
    nodeport_addresses: tuple[str, ...] = ()  # where NodePorts answer; empty = every local address
    masquerade_mark: int = 0x4000


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """One Service's share of the table."""

    chains: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, rules)
    affinity_sets: tuple[tuple[str, int], ...] = ()  # (name, timeout seconds)
    service_ips: tuple[str, ...] = ()  # map elements
    service_nodeports: tuple[str, ...] = ()
    no_endpoint_services: tuple[str, ...] = ()
    no_endpoint_nodeports: tuple[str, ...] = ()
    cluster_ips: tuple[str, ...] = ()
    udp_destinations: tuple[tuple[str, int], ...] = ()  # UDP (address, port) now served; "" = any local (node port)
    udp_endpoints: tuple[tuple[str, int], ...] = ()  # UDP endpoints in use


@dataclass(frozen=True, slots=True)
class TableSection:
    """Chains, sets and maps rendered elsewhere (the NetworkPolicy section, policyrules.py) that
    live in this table and are swapped with it."""

    text: str  # blocks, indented as inside `table ip <name> { … }`
    chains: frozenset[str] = frozenset()
    flushed_sets: frozenset[tuple[str, str]] = frozenset()  # ("map" | "set", name): emptied and refilled each swap


@dataclass(frozen=True, slots=True)
class Ruleset:
    table: str
    text: str  # the `table ip <name> { … }` block
    chains: frozenset[str] = field(default_factory=frozenset)
    flushed_sets: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # ("map" | "set", name)
    affinity_sets: frozenset[str] = field(default_factory=frozenset)
    udp_destinations: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    udp_endpoints: frozenset[tuple[str, int]] = field(default_factory=frozenset)


# ---------------------------------------------------------------------- names
def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def _port_chain(prefix: str, port: ServicePort) -> str:
    display = port.display
    return f"{prefix}-{_hash(display)}-{display}"


def _endpoint_base(port: ServicePort, endpoint: Endpoint) -> str:
    return f"{port.display}__{endpoint.ip}/{endpoint.port}"


def endpoint_chain(port: ServicePort, endpoint: Endpoint) -> str:
    base = _endpoint_base(port, endpoint)
    return f"endpoint-{_hash(base)}-{base}"


def affinity_set(port: ServicePort, endpoint: Endpoint) -> str:
    """Named after the timeout too: a new timeout is a new set (nft cannot change it in place)."""
    base = _endpoint_base(port, endpoint)
    return f"affinity-{_hash(f'{base}/{port.affinity_timeout}')}-{base}"


# ---------------------------------------------------------------------- one Service
class _ServiceBuilder:
    def __init__(self, config: RulesConfig):
        self.config = config
        self.chains: dict[str, tuple[str, ...]] = {}
        self.affinity: dict[str, int] = {}
        self.service_ips: list[str] = []
        self.service_nodeports: list[str] = []
        self.no_endpoint_services: list[str] = []
        self.no_endpoint_nodeports: list[str] = []
        self.cluster_ips: list[str] = []
        self.udp_destinations: list[tuple[str, int]] = []
        self.udp_endpoints: list[tuple[str, int]] = []

    def add_port(self, port: ServicePort, endpoints: list[Endpoint]) -> None:
        config = self.config
        views = categorize(endpoints, config.node_name)
        cluster_chain = _port_chain("service", port)
        local_chain = _port_chain("local", port)
        no_endpoints = "drop" if views.has_any else f"goto {REJECT_CHAIN}"
        balancers: dict[str, list[str]] = {}  # chain -> rules placed before the endpoint pick

        if port.cluster_ip:
            self.cluster_ips.append(port.cluster_ip)
            key = f"{port.cluster_ip} . {port.protocol} . {port.port}"
            internal = views.local if port.internal_local else views.cluster
            internal_chain = local_chain if port.internal_local else cluster_chain
            if internal:
                self.service_ips.append(f"{key} : goto {internal_chain}")
                first = balancers.setdefault(internal_chain, [])
                if config.cluster_cidr:
                    first.append(f"ip daddr {port.cluster_ip} ip saddr != {config.cluster_cidr} jump {MARK_CHAIN}")
                if port.protocol == "udp":
                    self.udp_destinations.append((port.cluster_ip, port.port))
            else:
                self.no_endpoint_services.append(f"{key} : {no_endpoints}")

        if port.externally_reachable:
            keys = [f"{ip} . {port.protocol} . {port.port}" for ip in port.external_ips]
            node_key = f"{port.protocol} . {port.node_port}" if port.node_port else ""
            if views.has_any:
                external_chain = _port_chain("external", port)
                self.chains[external_chain] = tuple(self._external_rules(port, bool(views.local), balancers))
                self.service_ips.extend(f"{key} : goto {external_chain}" for key in keys)
                if node_key:
                    self.service_nodeports.append(f"{node_key} : goto {external_chain}")
                if port.protocol == "udp":
                    self.udp_destinations.extend((ip, port.port) for ip in port.external_ips)
                    if port.node_port:
                        self.udp_destinations.append(("", port.node_port))
            else:
                self.no_endpoint_services.extend(f"{key} : goto {REJECT_CHAIN}" for key in keys)
                if node_key:
                    self.no_endpoint_nodeports.append(f"{node_key} : goto {REJECT_CHAIN}")

        for chain, leading in balancers.items():
            chosen = views.local if chain == local_chain else views.cluster
            self.chains[chain] = tuple(leading) + tuple(self._balance(port, chosen))

    def _external_rules(self, port: ServicePort, has_local: bool, balancers: dict[str, list[str]]) -> list[str]:
        cluster_chain = _port_chain("service", port)
        balancers.setdefault(cluster_chain, [])
        if not port.external_local:
            return [f"jump {MARK_CHAIN}", f"goto {cluster_chain}"]
        rules = []
        if self.config.cluster_cidr:  # pods reaching an external address are cluster traffic
            rules.append(f"ip saddr {self.config.cluster_cidr} goto {cluster_chain}")
        rules.append(f"fib saddr type local jump {MARK_CHAIN}")  # so is the node itself
        rules.append(f"fib saddr type local goto {cluster_chain}")
        if has_local:
            local_chain = _port_chain("local", port)
            balancers.setdefault(local_chain, [])
            rules.append(f"goto {local_chain}")
        else:
            rules.append("drop")
        return rules

    def _balance(self, port: ServicePort, endpoints: Sequence[Endpoint]) -> list[str]:
        rules: list[str] = []
        targets = []
        for endpoint in endpoints:
            chain = endpoint_chain(port, endpoint)
            targets.append(chain)
            if chain not in self.chains:
                self.chains[chain] = tuple(self._endpoint_rules(port, endpoint))
                if port.protocol == "udp":
                    self.udp_endpoints.append((endpoint.ip, endpoint.port))
            if port.affinity_timeout:
                rules.append(f"ip saddr @{affinity_set(port, endpoint)} goto {chain}")
        if len(targets) == 1:
            rules.append(f"goto {targets[0]}")
        else:
            choices = ", ".join(f"{index} : goto {chain}" for index, chain in enumerate(targets))
            rules.append(f"numgen random mod {len(targets)} vmap {{ {choices} }}")
        return rules

    def _endpoint_rules(self, port: ServicePort, endpoint: Endpoint) -> list[str]:
        rules = [f"ip saddr {endpoint.ip} jump {MARK_CHAIN}"]  # hairpin: a pod reaching itself
        if port.affinity_timeout:
            name = affinity_set(port, endpoint)
            self.affinity[name] = port.affinity_timeout
            rules.append(f"update @{name} {{ ip saddr }}")
        rules.append(f"meta l4proto {port.protocol} dnat to {endpoint.ip}:{endpoint.port}")
        return rules

    def result(self) -> ServiceRules:
        return ServiceRules(
            chains=tuple(self.chains.items()),
            affinity_sets=tuple(self.affinity.items()),
            service_ips=tuple(self.service_ips),
            service_nodeports=tuple(self.service_nodeports),
            no_endpoint_services=tuple(self.no_endpoint_services),
            no_endpoint_nodeports=tuple(self.no_endpoint_nodeports),
            cluster_ips=tuple(dict.fromkeys(self.cluster_ips)),
            udp_destinations=tuple(self.udp_destinations),
            udp_endpoints=tuple(self.udp_endpoints),
        )


def render_service(
    service: Obj, slices: Iterable[Obj], config: RulesConfig, node_addresses: Sequence[str] = ()
) -> ServiceRules:
    """One Service's chains, sets and map elements (nothing for ExternalName, headless Services
    and Services left to another proxy)."""
    ports = service_ports(service, node_addresses)
    if not ports:
        return ServiceRules()
    builder = _ServiceBuilder(config)
    slice_list = list(slices)
    for port in ports:
        builder.add_port(port, slice_endpoints(slice_list, port))
    return builder.result()


# ---------------------------------------------------------------------- the whole table
def _chain_text(name: str, rules: Iterable[str], header: str = "") -> str:
    lines = [f"\tchain {name} {{"]
    if header:
        lines.append(f"\t\t{header}")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return "\n".join(lines)


def _elements(items: Sequence[str]) -> str:
    return f"\t\telements = {{ {', '.join(items)} }}\n" if items else ""


def _static_chains(config: RulesConfig) -> list[tuple[str, tuple[str, ...]]]:
    if config.nodeport_addresses:
        local = "ip daddr @nodeport-ips"
    else:
        local = "fib daddr type local"
    mark = f"0x{config.masquerade_mark:x}"
    return [
        (
            "services",
            (
                "ip daddr . meta l4proto . th dport vmap @service-ips",
                f"{local} meta l4proto . th dport vmap @service-nodeports",
            ),
        ),
        (
            "endpoints-check",
            (
                "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
                f"{local} meta l4proto . th dport vmap @no-endpoint-nodeports",
            ),
        ),
        ("cluster-ips-check", ("ip daddr @cluster-ips reject", f"ip daddr {config.service_cidr} drop")),
        (
            "masquerading",
            (f"meta mark & {mark} == 0 return", f"meta mark set meta mark ^ {mark}", "masquerade fully-random"),
        ),
        (MARK_CHAIN, (f"meta mark set meta mark | {mark}",)),
        (REJECT_CHAIN, ("reject",)),
    ]


def render(services: Iterable[ServiceRules], config: RulesConfig, sections: Sequence[TableSection] = ()) -> Ruleset:
    """The whole table from every Service's share (and any further sections)."""
    parts = list(services)
    chains: list[tuple[str, tuple[str, ...]]] = _static_chains(config)
    affinity: dict[str, int] = {}
    elements: dict[str, list[str]] = {name: [] for name, _ in _MAPS}
    cluster_ips: list[str] = []
    udp_destinations: set[tuple[str, int]] = set()
    udp_endpoints: set[tuple[str, int]] = set()
    for part in parts:
        chains.extend(part.chains)
        affinity.update(part.affinity_sets)
        elements["service-ips"].extend(part.service_ips)
        elements["service-nodeports"].extend(part.service_nodeports)
        elements["no-endpoint-services"].extend(part.no_endpoint_services)
        elements["no-endpoint-nodeports"].extend(part.no_endpoint_nodeports)
        cluster_ips.extend(part.cluster_ips)
        udp_destinations.update(part.udp_destinations)
        udp_endpoints.update(part.udp_endpoints)

    _first_key_wins(elements)
    blocks: list[str] = []
    flushed: set[tuple[str, str]] = {("set", "cluster-ips")}
    blocks.append(f"\tset cluster-ips {{\n\t\ttype ipv4_addr\n{_elements(sorted(set(cluster_ips)))}\t}}")
    if config.nodeport_addresses:
        flushed.add(("set", "nodeport-ips"))
        blocks.append(f"\tset nodeport-ips {{\n\t\ttype ipv4_addr\n{_elements(sorted(set(config.nodeport_addresses)))}\t}}")
    for name, timeout in sorted(affinity.items()):
        blocks.append(f"\tset {name} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {timeout}s\n\t}}")
    for name, header, base_rules in _BASE_CHAINS:
        blocks.append(_chain_text(name, base_rules, header))
    for name, rules in chains:
        blocks.append(_chain_text(name, rules))
    for name, kind in _MAPS:
        flushed.add(("map", name))
        blocks.append(f"\tmap {name} {{\n\t\ttype {kind}\n{_elements(elements[name])}\t}}")
    names = frozenset(name for name, _ in chains) | frozenset(name for name, _, _ in _BASE_CHAINS)
    for section in sections:
        blocks.append(section.text)
        names |= section.chains
        flushed |= section.flushed_sets
    text = f"table ip {config.table} {{\n" + "\n".join(blocks) + "\n}\n"
    return Ruleset(
        table=config.table,
        text=text,
        chains=names,
        flushed_sets=frozenset(flushed),
        affinity_sets=frozenset(affinity),
        udp_destinations=frozenset(udp_destinations),
        udp_endpoints=frozenset(udp_endpoints),
    )


def _first_key_wins(elements: dict[str, list[str]]) -> None:
    """Two Services claiming one destination (the same externalIP, or node address and port for
    two LoadBalancers) would make nft refuse the whole table: the first Service (by namespace and
    name) keeps it. A destination some Service serves is never also in a no-endpoints map."""
    served = {"no-endpoint-services": "service-ips", "no-endpoint-nodeports": "service-nodeports"}
    for name in ("service-ips", "service-nodeports", "no-endpoint-services", "no-endpoint-nodeports"):
        taken = {e.split(" : ", 1)[0] for e in elements[served[name]]} if name in served else set()
        kept = []
        for element in elements[name]:
            key = element.split(" : ", 1)[0]
            if key not in taken:
                taken.add(key)
                kept.append(element)
        elements[name] = kept


# ---------------------------------------------------------------------- applying
def transaction(new: Ruleset, previous: Ruleset | None) -> str:
    """The `nft -f` script replacing `previous` (what this proxy last applied; None: unknown, so
    start from an empty table) by `new`, as one transaction."""
    table = f"ip {new.table}"
    lines = [f"add table {table}"]
    if previous is None or previous.table != new.table:
        lines.append(f"delete table {table}")
    else:
        lines.append(f"flush table {table}")  # every rule; sets and maps keep their elements
        for kind, name in sorted(previous.flushed_sets):
            lines.append(f"flush {kind} {table} {name}")
        for name in sorted(previous.chains - new.chains):
            lines.append(f"delete chain {table} {name}")
        for name in sorted(previous.affinity_sets - new.affinity_sets):
            lines.append(f"delete set {table} {name}")
        for kind, name in sorted(previous.flushed_sets - new.flushed_sets):
            lines.append(f"delete {kind} {table} {name}")
    return "\n".join(lines) + "\n" + new.text


def delete_script(table: str) -> str:
    """Removes the table if it exists (and succeeds if it does not)."""
    return f"add table ip {table}\ndelete table ip {table}\n"
