"""NetworkPolicy semantics (kubelite/network/policy.py): which pods are isolated, and the
(addresses, ports) pairs that let connections through — selectors, AND within a peer, OR across
peers, rules and policies, ipBlock/except, ports with protocols, ranges and named ports,
policyTypes defaults, egress, and which pods count at all."""

from __future__ import annotations

from typing import Any

from kubelite.network.policy import (
    Allow,
    PortRange,
    compute,
    ip_block_networks,
    namespace_labels,
    peer_addresses,
    pod_fingerprint,
    policy_types,
)

Obj = dict[str, Any]
NODE = "node-a"


def pod(name: str, ip: str, labels: dict[str, str] | None = None, *, namespace: str = "a", node: str = NODE, **extra: Any) -> Obj:
    ports = extra.pop("ports", [])
    spec: Obj = {"nodeName": node, "containers": [{"name": "c", "ports": ports}]}
    spec.update(extra.pop("spec", {}))
    status: Obj = {"phase": extra.pop("phase", "Running")}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": spec, "status": status}


def namespace(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


def policy(name: str, spec: Obj, namespace: str = "a") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


WEB = pod("web", "10.42.0.10", {"app": "web"}, ports=[{"name": "http", "containerPort": 8080}])
WEB2 = pod("web2", "10.42.0.11", {"app": "web"}, ports=[{"name": "http", "containerPort": 9090}])
CLIENT_A = pod("client", "10.42.0.20", {"role": "client"})
OTHER_A = pod("other", "10.42.0.21", {"role": "other"})
CLIENT_B = pod("client", "10.42.1.30", {"role": "client"}, namespace="b", node="node-b")
PODS = [WEB, WEB2, CLIENT_A, OTHER_A, CLIENT_B]
NAMESPACES = [namespace("a", team="a"), namespace("b", team="b")]
WEB_SELECTOR = {"matchLabels": {"app": "web"}}


def ingress_of(spec: Obj, pods: list[Obj] = PODS, *more: Obj) -> dict[str, tuple[Allow, ...]]:
    return dict(compute([policy("p", spec), *more], pods, NAMESPACES, NODE).ingress)


# ---------------------------------------------------------------------- isolation
def test_pods_no_policy_selects_are_not_isolated() -> None:
    model = compute([policy("p", {"podSelector": WEB_SELECTOR, "ingress": []})], PODS, NAMESPACES, NODE)
    assert set(model.ingress) == {"10.42.0.10", "10.42.0.11"}
    assert model.ingress["10.42.0.10"] == ()  # isolated, nothing allowed
    assert not model.egress
    assert not compute([], PODS, NAMESPACES, NODE)


def test_policy_types_default_to_ingress_plus_egress_when_egress_rules_exist() -> None:
    assert policy_types({}) == ("Ingress",)
    assert policy_types({"egress": [{}]}) == ("Ingress", "Egress")
    assert policy_types({"policyTypes": ["Egress"], "ingress": [{}]}) == ("Egress",)
    only_egress = compute([policy("p", {"podSelector": WEB_SELECTOR, "policyTypes": ["Egress"]})], PODS, NAMESPACES, NODE)
    assert not only_egress.ingress and only_egress.egress["10.42.0.10"] == ()
    # an egress rule without policyTypes also isolates ingress (an upstream classic)
    both = compute([policy("p", {"podSelector": WEB_SELECTOR, "egress": [{}]})], PODS, NAMESPACES, NODE)
    assert both.ingress["10.42.0.10"] == () and both.egress["10.42.0.10"] == (Allow(),)


def test_empty_pod_selector_selects_every_pod_of_the_policy_namespace_only() -> None:
    isolated = ingress_of({"podSelector": {}})
    assert set(isolated) == {"10.42.0.10", "10.42.0.11", "10.42.0.20", "10.42.0.21"}  # not b's client


def test_only_pods_on_this_node_are_selected_but_peers_come_from_every_node() -> None:
    remote_web = pod("web3", "10.42.1.12", {"app": "web"}, node="node-b")
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
    isolated = ingress_of(spec, [*PODS, remote_web])
    assert "10.42.1.12" not in isolated
    (allow,) = isolated["10.42.0.10"]
    assert "10.42.1.30" in (allow.peers or ()) and "10.42.1.12" in (allow.peers or ())
    everywhere = compute([policy("p", spec)], [*PODS, remote_web], NAMESPACES, "")
    assert "10.42.1.12" in everywhere.ingress


def test_host_network_finished_and_unaddressed_pods_do_not_count() -> None:
    host = pod("host", "192.0.2.5", {"app": "web"}, spec={"hostNetwork": True})
    done = pod("done", "10.42.0.40", {"app": "web"}, phase="Succeeded")
    pending = pod("pending", "", {"app": "web"})
    isolated = ingress_of({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}, [WEB, host, done, pending])
    assert set(isolated) == {"10.42.0.10"}
    assert isolated["10.42.0.10"] == (Allow(("10.42.0.10",), None),)


# ---------------------------------------------------------------------- peers
def test_pod_selector_alone_means_pods_of_the_policy_namespace() -> None:
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}
    assert ingress_of(spec)["10.42.0.10"] == (Allow(("10.42.0.20",), None),)


def test_namespace_selector_alone_means_every_pod_there_and_empty_means_every_namespace() -> None:
    by_team = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}]}
    assert ingress_of(by_team)["10.42.0.10"] == (Allow(("10.42.1.30",), None),)
    everyone = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
    (allow,) = ingress_of(everyone)["10.42.0.10"]
    assert allow.peers == ("10.42.0.10", "10.42.0.11", "10.42.0.20", "10.42.0.21", "10.42.1.30")


def test_pod_and_namespace_selector_in_one_peer_are_anded_in_two_peers_ored() -> None:
    client = {"matchLabels": {"role": "client"}}
    team_b = {"matchLabels": {"team": "b"}}
    anded = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": client, "namespaceSelector": {}}]}]}
    assert ingress_of(anded)["10.42.0.10"] == (Allow(("10.42.0.20", "10.42.1.30"), None),)
    anded_b = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": client, "namespaceSelector": team_b}]}]}
    assert ingress_of(anded_b)["10.42.0.10"] == (Allow(("10.42.1.30",), None),)
    ored = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "other"}}}, {"namespaceSelector": team_b}]}]}
    assert ingress_of(ored)["10.42.0.10"] == (Allow(("10.42.0.21", "10.42.1.30"), None),)


def test_namespaces_are_matched_by_their_metadata_name_label_even_when_missing() -> None:
    bare = [{"metadata": {"name": "b"}}]
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}]}]}
    model = compute([policy("p", spec)], PODS, bare, NODE)
    assert model.ingress["10.42.0.10"] == (Allow(("10.42.1.30",), None),)
    assert namespace_labels({"metadata": {"name": "x", "labels": {"k": "v"}}}) == {"k": "v", "kubernetes.io/metadata.name": "x"}


def test_ip_block_is_its_cidr_minus_the_excepts() -> None:
    assert [str(n) for n in ip_block_networks({"cidr": "10.0.0.0/8", "except": ["10.128.0.0/9", "10.64.0.0/10"]})] == ["10.0.0.0/10"]
    assert ip_block_networks({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/16"]}) == []
    assert ip_block_networks({"cidr": "fd00::/64"}) == [] and ip_block_networks({"cidr": "nonsense"}) == []
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}]}]}
    (allow,) = ingress_of(spec)["10.42.0.10"]
    assert allow.peers == ("192.168.0.0/24", "192.168.2.0/23", "192.168.4.0/22", "192.168.8.0/21", "192.168.16.0/20",
                           "192.168.32.0/19", "192.168.64.0/18", "192.168.128.0/17")  # fmt: skip


def test_pod_addresses_inside_an_ip_block_merge_into_one_non_overlapping_list() -> None:
    spec = {
        "podSelector": WEB_SELECTOR,
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.42.0.0/24", "except": ["10.42.0.0/27"]}}, {"podSelector": {"matchLabels": {"role": "client"}}}]}],
    }
    (allow,) = ingress_of(spec)["10.42.0.10"]
    assert allow.peers == ("10.42.0.20", "10.42.0.32/27", "10.42.0.64/26", "10.42.0.128/25")
    assert peer_addresses(["10.42.0.9", "10.42.0.10"], []) == ("10.42.0.9", "10.42.0.10")  # numeric order


def test_a_rule_without_from_admits_everyone_and_one_matching_nobody_admits_nobody() -> None:
    assert ingress_of({"podSelector": WEB_SELECTOR, "ingress": [{}]})["10.42.0.10"] == (Allow(),)
    nobody = {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "nobody"}}}]}]}
    assert ingress_of(nobody)["10.42.0.10"] == ()


def test_rules_and_policies_are_ored_and_allow_anything_absorbs_the_rest() -> None:
    client = {"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": 80, "protocol": "TCP"}]}
    other = {"from": [{"podSelector": {"matchLabels": {"role": "other"}}}], "ports": [{"port": 53, "protocol": "UDP"}]}
    allows = ingress_of({"podSelector": WEB_SELECTOR, "ingress": [client, other]})["10.42.0.10"]
    assert allows == (Allow(("10.42.0.20",), (PortRange("tcp", 80, 80),)), Allow(("10.42.0.21",), (PortRange("udp", 53, 53),)))
    second = policy("q", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]})
    assert ingress_of({"podSelector": WEB_SELECTOR, "ingress": [client]}, PODS, second)["10.42.0.10"] == (Allow(),)


# ---------------------------------------------------------------------- ports
def test_ports_default_to_tcp_take_ranges_and_a_bare_protocol_means_all_its_ports() -> None:
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"ports": [{"port": 80}, {"port": 8000, "endPort": 8100, "protocol": "TCP"}, {"protocol": "UDP"}, {"port": 9, "protocol": "SCTP"}]}]}
    (allow,) = ingress_of(spec)["10.42.0.10"]
    assert allow.peers is None
    assert allow.ports == (PortRange("sctp", 9, 9), PortRange("tcp", 80, 80), PortRange("tcp", 8000, 8100), PortRange("udp", 0, 65535))


def test_named_ports_resolve_against_each_selected_pod() -> None:
    spec = {"podSelector": WEB_SELECTOR, "ingress": [{"ports": [{"port": "http"}]}]}
    isolated = ingress_of(spec)
    assert isolated["10.42.0.10"] == (Allow(None, (PortRange("tcp", 8080, 8080),)),)
    assert isolated["10.42.0.11"] == (Allow(None, (PortRange("tcp", 9090, 9090),)),)
    wrong_protocol = {"podSelector": WEB_SELECTOR, "ingress": [{"ports": [{"port": "http", "protocol": "UDP"}]}]}
    assert ingress_of(wrong_protocol)["10.42.0.10"] == ()  # named but not found: nothing, not everything


# ---------------------------------------------------------------------- egress
def test_egress_rules_list_destinations_and_named_ports_resolve_per_destination_pod() -> None:
    spec = {
        "podSelector": {"matchLabels": {"role": "client"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": [{"podSelector": WEB_SELECTOR}], "ports": [{"port": "http"}]},
            {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": "http"}]},  # named: pods only
        ],
    }
    model = compute([policy("p", spec)], PODS, NAMESPACES, NODE)
    assert not model.ingress
    assert model.egress["10.42.0.20"] == (
        Allow(None, (PortRange("tcp", 53, 53), PortRange("udp", 53, 53))),
        Allow(("10.42.0.10",), (PortRange("tcp", 8080, 8080),)),
        Allow(("10.42.0.11",), (PortRange("tcp", 9090, 9090),)),
    )
    assert "10.42.1.30" not in model.egress  # b's client is on another node


def test_egress_named_port_without_to_matches_every_pod_with_that_port() -> None:
    spec = {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]}
    egress = compute([policy("p", spec)], PODS, NAMESPACES, NODE).egress["10.42.0.20"]
    assert egress == (Allow(("10.42.0.10",), (PortRange("tcp", 8080, 8080),)), Allow(("10.42.0.11",), (PortRange("tcp", 9090, 9090),)))


# ---------------------------------------------------------------------- robustness
def test_a_policy_with_an_invalid_selector_is_ignored_whole() -> None:
    bad = policy("bad", {"podSelector": WEB_SELECTOR, "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "x", "operator": "Near"}]}}]}]})
    model = compute([bad], PODS, NAMESPACES, NODE)
    assert not model


def test_pod_fingerprint_changes_only_with_what_policies_see() -> None:
    base = pod("web", "10.42.0.10", {"app": "web"})
    status_only = pod("web", "10.42.0.10", {"app": "web"})
    status_only["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert pod_fingerprint(base) == pod_fingerprint(status_only)
    for changed in (pod("web", "10.42.0.10", {"app": "api"}), pod("web", "10.42.0.99", {"app": "web"}), pod("web", "10.42.0.10", {"app": "web"}, phase="Failed")):
        assert pod_fingerprint(base) != pod_fingerprint(changed)
