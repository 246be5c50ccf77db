"""The NetworkPolicy section of the proxy's nftables table, rendered from policy.py's model.

```
policy-forward  (filter hook forward, priority filter - 5)   pod <-> pod, pod <-> elsewhere
    ct state established,related accept              replies of allowed connections
    ip saddr . ip daddr @policy-self accept          a pod cannot block itself (hairpin via a VIP)
    ip saddr vmap @policy-egress-pods                egress-isolated source: goto policy-out-…
    goto policy-ingress
policy-input    (filter hook input, priority filter - 5)     pod -> this node (DNS, API server)
    ct state established,related accept
    ip saddr vmap @policy-egress-pods
policy-ingress      ip daddr vmap @policy-ingress-pods       ingress-isolated destination: goto policy-in-…
policy-out-<hash>   one per distinct egress allow-list:  <match> goto policy-ingress … drop
policy-in-<hash>    one per distinct ingress allow-list: <match> accept … drop
policy-peers-<hash> one set per distinct address list (flags interval when it holds CIDRs)
```

A match is `ip saddr|daddr @policy-peers-…` and/or `meta l4proto . th dport { tcp . 80, udp .
0-65535, … }`. Pods sharing an allow-list share its chain, so the rules a packet meets grow
with the rules of the policies selecting its pod, never with the number of pods; pod and peer
lookups are set/map lookups. The forward hook runs after the proxy's DNAT (prerouting), so a
policy sees a Service's backend pod, not its ClusterIP; same-node pod-to-pod frames reach it
through br_netfilter (bridge-nf-call-iptables=1, which the proxy sets). Traffic the node itself
sends (kubelet probes, host processes) passes the output hook only and is never filtered. Denied
packets are dropped (as Calico, Cilium and Antrea do by default), not rejected.

Pure: model in, text out. Must not decide what is allowed (policy.py) nor apply anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from kubelite.network.policy import Allow, PolicyModel, PortRange
from kubelite.network.rules import TableSection

FORWARD_CHAIN = "policy-forward"
INPUT_CHAIN = "policy-input"
INGRESS_CHAIN = "policy-ingress"
INGRESS_PODS = "policy-ingress-pods"
EGRESS_PODS = "policy-egress-pods"
SELF_SET = "policy-self"
PRIORITY = "filter - 5"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _ports_text(ports: tuple[PortRange, ...]) -> str:
    items = [
        f"{port.protocol} . {port.first}" if port.first == port.last else f"{port.protocol} . {port.first}-{port.last}"
        for port in ports
    ]
    return f"meta l4proto . th dport {{ {', '.join(items)} }}"


class _Builder:
    def __init__(self) -> None:
        self.peer_sets: dict[tuple[str, ...], str] = {}
        self.chains: dict[str, tuple[str, ...]] = {}

    def peer_set(self, peers: tuple[str, ...]) -> str:
        name = self.peer_sets.get(peers)
        if name is None:
            name = self.peer_sets[peers] = f"policy-peers-{_digest(','.join(peers))}"
        return name

    def allow_chain(self, prefix: str, allows: tuple[Allow, ...], address: str, verdict: str) -> str:
        name = f"{prefix}-{_digest(repr(allows))}"
        if name not in self.chains:
            rules = []
            for allow in allows:
                match = []
                if allow.peers is not None:
                    match.append(f"ip {address} @{self.peer_set(allow.peers)}")
                if allow.ports is not None:
                    match.append(_ports_text(allow.ports))
                rules.append(" ".join([*match, verdict]))
            rules.append("drop")
            self.chains[name] = tuple(rules)
        return name

    def pod_map(self, pods: Mapping[str, tuple[Allow, ...]], prefix: str, address: str, verdict: str) -> list[str]:
        by_allows: dict[tuple[Allow, ...], list[str]] = {}
        for ip, allows in pods.items():
            by_allows.setdefault(allows, []).append(ip)
        elements: list[str] = []
        for allows, ips in by_allows.items():
            chain = self.allow_chain(prefix, allows, address, verdict)
            elements.extend(f"{ip} : goto {chain}" for ip in ips)
        return sorted(elements, key=_element_key)


def _element_key(element: str) -> tuple[int, ...]:
    return tuple(int(part) for part in element.split(" ", 1)[0].split("."))


def _chain(name: str, rules: tuple[str, ...] | list[str], header: str = "") -> str:
    lines = [f"\tchain {name} {{"]
    if header:
        lines.append(f"\t\t{header}")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return "\n".join(lines)


def _set(name: str, kind: str, elements: list[str] | tuple[str, ...], flags: str = "") -> str:
    lines = [f"\tset {name} {{", f"\t\ttype {kind}"]
    if flags:
        lines.append(f"\t\tflags {flags}")
    if elements:
        lines.append(f"\t\telements = {{ {', '.join(elements)} }}")
    lines.append("\t}")
    return "\n".join(lines)


def _map(name: str, elements: list[str]) -> str:
    lines = [f"\tmap {name} {{", "\t\ttype ipv4_addr : verdict"]
    if elements:
        lines.append(f"\t\telements = {{ {', '.join(elements)} }}")
    lines.append("\t}")
    return "\n".join(lines)


def render_policy(model: PolicyModel) -> TableSection | None:
    """The section for the model; None when no pod is isolated (then the table has no policy
    chains at all, and costs packets nothing)."""
    if not model:
        return None
    builder = _Builder()
    ingress_elements = builder.pod_map(model.ingress, "policy-in", "saddr", "accept")
    egress_elements = builder.pod_map(model.egress, "policy-out", "daddr", f"goto {INGRESS_CHAIN}")
    isolated = sorted(set(model.ingress) | set(model.egress), key=lambda ip: _element_key(ip))
    blocks = [_set(SELF_SET, "ipv4_addr . ipv4_addr", [f"{ip} . {ip}" for ip in isolated])]
    for peers, name in sorted(builder.peer_sets.items(), key=lambda item: item[1]):
        interval = any("/" in peer for peer in peers)
        blocks.append(_set(name, "ipv4_addr", peers, "interval" if interval else ""))
    base = f"type filter hook %s priority {PRIORITY}; policy accept;"
    blocks.append(
        _chain(
            FORWARD_CHAIN,
            [
                "ct state established,related accept",
                f"ip saddr . ip daddr @{SELF_SET} accept",
                f"ip saddr vmap @{EGRESS_PODS}",
                f"goto {INGRESS_CHAIN}",
            ],
            base % "forward",
        )
    )
    blocks.append(
        _chain(INPUT_CHAIN, ["ct state established,related accept", f"ip saddr vmap @{EGRESS_PODS}"], base % "input")
    )
    blocks.append(_chain(INGRESS_CHAIN, [f"ip daddr vmap @{INGRESS_PODS}"]))
    for name, rules in sorted(builder.chains.items()):
        blocks.append(_chain(name, rules))
    blocks.append(_map(INGRESS_PODS, ingress_elements))
    blocks.append(_map(EGRESS_PODS, egress_elements))
    sets = {("set", SELF_SET), ("map", INGRESS_PODS), ("map", EGRESS_PODS)}
    sets.update(("set", name) for name in builder.peer_sets.values())
    return TableSection(
        text="\n".join(blocks),
        chains=frozenset([FORWARD_CHAIN, INPUT_CHAIN, INGRESS_CHAIN, *builder.chains]),
        flushed_sets=frozenset(sets),
    )
