"""NetworkPolicy (networking.k8s.io/v1) semantics, computed from NetworkPolicies, Pods and
Namespaces into a compact model: for every isolated pod IP on this node, per direction, the list
of `Allow`s — (addresses, ports) pairs any one of which lets a new connection through.

Upstream's rules, as the API reference and the Network Policies concept page state them:
- a pod is isolated for ingress (egress) only when some policy selecting it lists that
  policyType; policyTypes default to Ingress, plus Egress when the policy has egress rules;
  an isolated pod with no rule that admits a connection gets none (`ingress: []` = deny all);
- the rules of every policy selecting a pod are OR'ed, and so are the peers of one rule; a rule
  with no `from`/`to` admits every address, one with no `ports` every protocol and port;
- within one peer, podSelector + namespaceSelector are AND'ed; a podSelector alone means pods of
  the policy's namespace; `{}` selects every pod (or namespace); ipBlock is a CIDR minus its
  `except` CIDRs;
- a port is a number (with `endPort`: a range) or a name resolved per pod: for ingress against
  the selected pod's container ports, for egress against each destination pod's (so a named
  port matches pods only, never an ipBlock); protocol defaults to TCP.

Pods count (as selected pods and as peers) once they have an IPv4 address, unless they use the
host's network or have finished (Succeeded/Failed: their address may already be someone else's).
Selected pods are those on `node_name` (every node when it is empty); peers are pods on any node.

Pure: objects in, model out. Must not render nft (policyrules.py does) nor do I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_spec

Obj = dict[str, Any]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
INGRESS = "Ingress"
EGRESS = "Egress"
_FINISHED = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """One protocol's ports first..last (0-65535: every port of it)."""

    protocol: str  # nft's name: tcp, udp, sctp
    first: int = 0
    last: int = 65535


@dataclass(frozen=True, slots=True)
class Allow:
    """New connections to (ingress) or from (egress) these addresses on these ports pass."""

    peers: tuple[str, ...] | None = None  # addresses and CIDRs, non-overlapping, sorted; None = any address
    ports: tuple[PortRange, ...] | None = None  # None = any protocol and port


@dataclass(frozen=True, slots=True)
class PolicyModel:
    ingress: Mapping[str, tuple[Allow, ...]] = field(default_factory=dict)  # isolated pod IP -> what may connect
    egress: Mapping[str, tuple[Allow, ...]] = field(default_factory=dict)  # isolated pod IP -> where it may connect

    def __bool__(self) -> bool:
        return bool(self.ingress or self.egress)


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What policies need of a pod."""

    namespace: str
    ips: tuple[str, ...]
    labels: Mapping[str, str]
    node: str
    named_ports: Mapping[tuple[str, str], int]  # (name, nft protocol) -> container port


# ---------------------------------------------------------------------- objects
def pod_ipv4s(pod: Obj) -> tuple[str, ...]:
    status = pod.get("status") or {}
    found = [str(entry.get("ip") or "") for entry in status.get("podIPs") or []]
    if not found and status.get("podIP"):
        found = [str(status["podIP"])]
    return tuple(dict.fromkeys(ip for ip in found if ip and ":" not in ip))


def pod_info(pod: Obj) -> PodInfo | None:
    """The pod as policies see it, or None when policies ignore it (no IPv4 address yet, host
    network, finished)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork") or (pod.get("status") or {}).get("phase") in _FINISHED:
        return None
    ips = pod_ipv4s(pod)
    if not ips:
        return None
    named: dict[tuple[str, str], int] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for port in container.get("ports") or []:
            name = port.get("name")
            protocol = PROTOCOLS.get(str(port.get("protocol") or "TCP"))
            if name and protocol and isinstance(port.get("containerPort"), int):
                named.setdefault((str(name), protocol), port["containerPort"])
    meta = pod.get("metadata") or {}
    return PodInfo(
        namespace=str(meta.get("namespace") or ""),
        ips=ips,
        labels=meta.get("labels") or {},
        node=str(spec.get("nodeName") or ""),
        named_ports=named,
    )


def pod_fingerprint(pod: Obj) -> tuple[Any, ...]:
    """Everything of a pod a policy can depend on (an update changing none of it changes nothing;
    container ports are immutable)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return (
        (pod.get("metadata") or {}).get("labels"),
        pod_ipv4s(pod),
        spec.get("nodeName"),
        bool(spec.get("hostNetwork")),
        status.get("phase") in _FINISHED,
    )


def namespace_labels(namespace: Obj) -> dict[str, str]:
    """A namespace's labels, with kubernetes.io/metadata.name (the API server sets it; added here
    for namespaces written before it did)."""
    meta = namespace.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.setdefault(NAMESPACE_NAME_LABEL, str(meta.get("name") or ""))
    return labels


def policy_types(spec: Obj) -> tuple[str, ...]:
    """spec.policyTypes, defaulted as the API server does."""
    given = spec.get("policyTypes")
    if given:
        return tuple(str(kind) for kind in given)
    return (INGRESS, EGRESS) if spec.get("egress") else (INGRESS,)


# ---------------------------------------------------------------------- addresses
def _network(text: Any) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


def ip_block_networks(block: Obj) -> list[ipaddress.IPv4Network]:
    """cidr minus every `except` CIDR (IPv4; an unparsable or IPv6 cidr gives nothing)."""
    cidr = _network(block.get("cidr"))
    if cidr is None:
        return []
    kept = [cidr]
    for text in block.get("except") or []:
        hole = _network(text)
        if hole is None:
            continue
        next_kept: list[ipaddress.IPv4Network] = []
        for network in kept:
            if network.subnet_of(hole):
                continue
            if hole.subnet_of(network):
                next_kept.extend(network.address_exclude(hole))
            else:
                next_kept.append(network)
        kept = next_kept
    return kept


def _address_text(network: ipaddress.IPv4Network) -> str:
    return str(network.network_address) if network.prefixlen == 32 else str(network)


def peer_addresses(pod_ips: Iterable[str], networks: Iterable[ipaddress.IPv4Network]) -> tuple[str, ...]:
    """Pod addresses and CIDRs as one sorted, non-overlapping list (what an nft interval set takes)."""
    blocks = list(networks)
    if not blocks:
        return tuple(sorted(set(pod_ips), key=_ip_sort_key))
    everything = blocks + [ipaddress.IPv4Network(ip) for ip in set(pod_ips)]
    return tuple(_address_text(n) for n in ipaddress.collapse_addresses(everything))


def _ip_sort_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


# ---------------------------------------------------------------------- one rule
@dataclass(slots=True)
class _Rule:
    """One ingress or egress rule, resolved except for what depends on the selected pod."""

    peers: tuple[str, ...] | None  # None: any address
    peer_pods: list[PodInfo] | None  # the pods among the peers (None: every pod), for named egress ports
    ports: list[PortRange] | None  # numeric ports; None: no `ports` given (everything)
    named: list[tuple[str, str]]  # (name, protocol)


class _Cluster:
    """The pods and namespaces, indexed for selector evaluation."""

    def __init__(self, pods: Iterable[Obj], namespaces: Iterable[Obj]):
        self.namespace_labels: dict[str, dict[str, str]] = {}
        for namespace in namespaces:
            name = str((namespace.get("metadata") or {}).get("name") or "")
            self.namespace_labels[name] = namespace_labels(namespace)
        self.pods_by_namespace: dict[str, list[PodInfo]] = {}
        for pod in pods:
            info = pod_info(pod)
            if info is not None:
                self.pods_by_namespace.setdefault(info.namespace, []).append(info)
        for name in self.pods_by_namespace:
            self.namespace_labels.setdefault(name, {NAMESPACE_NAME_LABEL: name})
        self._selected: dict[tuple[tuple[str, ...], LabelSelector], list[PodInfo]] = {}
        self.peers_seen: dict[tuple[str, str], tuple[tuple[str, ...], list[PodInfo]]] = {}  # policies repeat peers

    def namespaces(self, selector: LabelSelector) -> tuple[str, ...]:
        return tuple(sorted(name for name, labels in self.namespace_labels.items() if selector.matches(labels)))

    def pods(self, namespaces: tuple[str, ...], selector: LabelSelector) -> list[PodInfo]:
        key = (namespaces, selector)
        found = self._selected.get(key)
        if found is None:
            found = [
                pod
                for namespace in namespaces
                for pod in self.pods_by_namespace.get(namespace, ())
                if selector.matches(pod.labels)
            ]
            self._selected[key] = found
        return found

    def all_pods(self) -> list[PodInfo]:
        return [pod for pods in self.pods_by_namespace.values() for pod in pods]


def _peer(peer: Obj, policy_namespace: str, cluster: _Cluster) -> tuple[list[PodInfo], list[ipaddress.IPv4Network]]:
    if peer.get("ipBlock") is not None:
        return [], ip_block_networks(peer["ipBlock"] or {})
    pod_spec, namespace_spec = peer.get("podSelector"), peer.get("namespaceSelector")
    if pod_spec is None and namespace_spec is None:
        return [], []  # invalid (validation rejects it): matches nothing
    pod_selector = selector_from_spec(pod_spec or {})
    if namespace_spec is None:
        namespaces: tuple[str, ...] = (policy_namespace,)
    else:
        namespaces = cluster.namespaces(selector_from_spec(namespace_spec))
    return cluster.pods(namespaces, pod_selector), []


def _ports(entries: list[Obj] | None) -> tuple[list[PortRange] | None, list[tuple[str, str]]]:
    if not entries:
        return None, []
    numeric: list[PortRange] = []
    named: list[tuple[str, str]] = []
    for entry in entries:
        protocol = PROTOCOLS.get(str(entry.get("protocol") or "TCP"))
        if protocol is None:
            continue  # an unknown protocol admits nothing
        port = entry.get("port")
        if port is None:
            numeric.append(PortRange(protocol))
        elif isinstance(port, int):
            end = entry.get("endPort")
            numeric.append(PortRange(protocol, port, end if isinstance(end, int) and end >= port else port))
        else:
            named.append((str(port), protocol))
    return numeric, named


def _rule(rule: Obj, peers_key: str, policy_namespace: str, cluster: _Cluster) -> _Rule:
    ports, named = _ports(rule.get("ports"))
    peers = rule.get(peers_key)
    if not peers:
        return _Rule(None, None, ports, named)
    key = (policy_namespace, repr(peers))
    seen = cluster.peers_seen.get(key)
    if seen is None:
        pods: list[PodInfo] = []
        networks: list[ipaddress.IPv4Network] = []
        for peer in peers:
            found_pods, found_networks = _peer(peer or {}, policy_namespace, cluster)
            pods.extend(found_pods)
            networks.extend(found_networks)
        seen = cluster.peers_seen[key] = (peer_addresses((ip for pod in pods for ip in pod.ips), networks), pods)
    return _Rule(seen[0], seen[1], ports, named)


def _rules(spec: Obj, direction: str, policy_namespace: str, cluster: _Cluster) -> list[_Rule]:
    peers_key = "from" if direction == "ingress" else "to"
    return [_rule(rule or {}, peers_key, policy_namespace, cluster) for rule in spec.get(direction) or []]


def _ingress_allows(rule: _Rule, pod: PodInfo) -> list[Allow]:
    if rule.peers == ():
        return []
    if rule.ports is None:
        return [Allow(rule.peers, None)]
    ports = list(rule.ports)
    for name, protocol in rule.named:
        number = pod.named_ports.get((name, protocol))
        if number is not None:
            ports.append(PortRange(protocol, number, number))
    return [Allow(rule.peers, tuple(sorted(set(ports))))] if ports else []


def _egress_allows(rule: _Rule, cluster: _Cluster) -> list[Allow]:
    """Egress allows do not depend on the selected pod (named ports resolve per destination)."""
    if rule.peers == ():
        return []
    if rule.ports is None:
        return [Allow(rule.peers, None)]
    allows = [Allow(rule.peers, tuple(sorted(set(rule.ports))))] if rule.ports else []
    if rule.named:
        by_port: dict[PortRange, set[str]] = {}
        for pod in rule.peer_pods if rule.peer_pods is not None else cluster.all_pods():
            for name, protocol in rule.named:
                number = pod.named_ports.get((name, protocol))
                if number is not None:
                    by_port.setdefault(PortRange(protocol, number, number), set()).update(pod.ips)
        for port, ips in sorted(by_port.items()):
            allows.append(Allow(peer_addresses(ips, ()), (port,)))
    return allows


# ---------------------------------------------------------------------- everything
def compute(
    policies: Iterable[Obj], pods: Iterable[Obj], namespaces: Iterable[Obj], node_name: str = ""
) -> PolicyModel:
    """The model for the pods on `node_name` (all pods when empty). Policies with a selector that
    does not parse are ignored (validation rejects them)."""
    cluster = _Cluster(pods, namespaces)
    ingress: dict[str, list[Allow]] = {}
    egress: dict[str, list[Allow]] = {}
    for policy in sorted(policies, key=_policy_key):
        namespace = str((policy.get("metadata") or {}).get("namespace") or "")
        spec = policy.get("spec") or {}
        try:
            selector = selector_from_spec(spec.get("podSelector") or {})
            selected = [pod for pod in cluster.pods((namespace,), selector) if not node_name or pod.node == node_name]
            if not selected:
                continue
            types = policy_types(spec)
            ingress_rules = _rules(spec, "ingress", namespace, cluster) if INGRESS in types else None
            egress_rules = _rules(spec, "egress", namespace, cluster) if EGRESS in types else None
        except LabelSelectorError:
            continue
        if ingress_rules is not None:
            for pod in selected:
                allows = [allow for rule in ingress_rules for allow in _ingress_allows(rule, pod)]
                for ip in pod.ips:
                    ingress.setdefault(ip, []).extend(allows)
        if egress_rules is not None:
            allows = [allow for rule in egress_rules for allow in _egress_allows(rule, cluster)]
            for pod in selected:
                for ip in pod.ips:
                    egress.setdefault(ip, []).extend(allows)
    return PolicyModel(
        ingress={ip: _compact(allows) for ip, allows in ingress.items()},
        egress={ip: _compact(allows) for ip, allows in egress.items()},
    )


def _compact(allows: list[Allow]) -> tuple[Allow, ...]:
    """Without repeats; just "anything" when one of them allows anything."""
    everything = Allow(None, None)
    return (everything,) if everything in allows else tuple(dict.fromkeys(allows))


def _policy_key(policy: Obj) -> tuple[str, str]:
    meta = policy.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
