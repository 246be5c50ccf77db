"""Rendering the proxy's nftables ruleset (kubelite/network/rules.py and endpoints.py): pure text
checks per Service type and policy, plus `nft -c` (check only, nothing applied) where nft runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from kubelite.network.endpoints import Endpoint, categorize
from kubelite.network.rules import (
    RulesConfig,
    Ruleset,
    ServiceRules,
    delete_script,
    render,
    render_service,
    transaction,
)
from tests.network.network_harness import endpoint_slice, service

CONFIG = RulesConfig(table="kl_unit", node_name="node-a", cluster_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16")


def chain(rules: ServiceRules, prefix: str) -> tuple[str, tuple[str, ...]]:
    found = [(name, body) for name, body in rules.chains if name.startswith(prefix)]
    assert len(found) == 1, f"one {prefix} chain expected, got {[n for n, _ in found]}"
    return found[0]


def chains(rules: ServiceRules, prefix: str) -> dict[str, tuple[str, ...]]:
    return {name: body for name, body in rules.chains if name.startswith(prefix)}


def dnat_targets(rules: ServiceRules) -> set[str]:
    found = set()
    for _name, body in chains(rules, "endpoint-").items():
        for rule in body:
            match = re.search(r"dnat to (\S+)", rule)
            if match:
                found.add(match.group(1))
    return found


def three_endpoints(**conditions: dict[str, bool]) -> list[dict[str, object]]:
    made = []
    for index, node in enumerate(("node-a", "node-b", "node-b")):
        ip = f"10.42.0.{index + 10}"
        made.append({"ip": ip, "node": node, **conditions.get(ip, {})})
    return made


# ---------------------------------------------------------------------- ClusterIP
def test_cluster_ip_balances_randomly_over_every_ready_endpoint() -> None:
    svc = service("web", "10.43.0.20", [{"name": "http", "port": 80, "targetPort": 8080}])
    rules = render_service(svc, [endpoint_slice("web", three_endpoints(), [("http", 8080)])], CONFIG)
    name, body = chain(rules, "service-")
    assert name.endswith("-default/web/tcp/http")
    assert rules.service_ips == (f"10.43.0.20 . tcp . 80 : goto {name}",)
    assert body[0] == "ip daddr 10.43.0.20 ip saddr != 10.42.0.0/16 jump mark-for-masquerade"
    assert body[-1].startswith("numgen random mod 3 vmap { 0 : goto endpoint-")
    assert dnat_targets(rules) == {"10.42.0.10:8080", "10.42.0.11:8080", "10.42.0.12:8080"}
    assert rules.cluster_ips == ("10.43.0.20",)
    assert not rules.no_endpoint_services and not rules.service_nodeports


def test_endpoint_chain_masquerades_hairpin_then_dnats() -> None:
    svc = service("web", "10.43.0.20", [{"port": 80, "targetPort": 8080}])
    rules = render_service(svc, [endpoint_slice("web", [{"ip": "10.42.0.10"}], [("", 8080)])], CONFIG)
    _name, body = chain(rules, "endpoint-")
    assert body == ("ip saddr 10.42.0.10 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.42.0.10:8080")
    _svc_chain, svc_body = chain(rules, "service-")
    assert svc_body[-1].startswith("goto endpoint-")  # one endpoint: no numgen


def test_not_ready_endpoints_are_left_out() -> None:
    svc = service("web", "10.43.0.20", [{"port": 80}])
    endpoints = three_endpoints(**{"10.42.0.11": {"ready": False, "serving": False}})
    rules = render_service(svc, [endpoint_slice("web", endpoints, [("", 80)])], CONFIG)
    assert dnat_targets(rules) == {"10.42.0.10:80", "10.42.0.12:80"}


def test_terminating_endpoints_are_used_only_when_none_is_ready() -> None:
    svc = service("web", "10.43.0.20", [{"port": 80}])
    draining = {"ready": False, "serving": True, "terminating": True}
    gone = {"ready": False, "serving": False, "terminating": True}
    mixed = [{"ip": "10.42.0.10", **draining}, {"ip": "10.42.0.11"}, {"ip": "10.42.0.12", **gone}]
    rules = render_service(svc, [endpoint_slice("web", mixed, [("", 80)])], CONFIG)
    assert dnat_targets(rules) == {"10.42.0.11:80"}
    only_draining = [{"ip": "10.42.0.10", **draining}, {"ip": "10.42.0.12", **gone}]
    rules = render_service(svc, [endpoint_slice("web", only_draining, [("", 80)])], CONFIG)
    assert dnat_targets(rules) == {"10.42.0.10:80"}


def test_missing_conditions_mean_ready_and_serving() -> None:
    endpoint = categorize([Endpoint("10.42.0.9", 80, True, True, False, "")], "x")
    assert endpoint.cluster and not endpoint.local
    rules = render_service(
        service("web", "10.43.0.20", [{"port": 80}]),
        [{"metadata": {"name": "s"}, "addressType": "IPv4", "ports": [{"port": 80}], "endpoints": [{"addresses": ["10.42.0.9"]}]}],
        CONFIG,
    )
    assert dnat_targets(rules) == {"10.42.0.9:80"}


def test_service_without_endpoints_is_rejected_and_its_address_known() -> None:
    rules = render_service(service("idle", "10.43.0.30", [{"port": 80}]), [], CONFIG)
    assert rules.service_ips == ()
    assert rules.no_endpoint_services == ("10.43.0.30 . tcp . 80 : goto reject-chain",)
    assert rules.cluster_ips == ("10.43.0.30",)
    assert rules.chains == ()


def test_ports_are_matched_by_name_and_protocol_across_slices_once_each() -> None:
    svc = service(
        "multi",
        "10.43.0.40",
        [{"name": "web", "port": 80, "targetPort": "http"}, {"name": "dns", "port": 53, "protocol": "UDP"}],
    )
    slices = [
        endpoint_slice("multi", [{"ip": "10.42.0.10"}, {"ip": "10.42.0.11"}], [("web", 8080), ("dns", 5353, "UDP")], name="multi-a"),
        endpoint_slice("multi", [{"ip": "10.42.0.11"}], [("web", 8080), ("dns", 5353, "UDP")], name="multi-b"),
        {**endpoint_slice("multi", [{"ip": "fd00::1"}], [("web", 8080)], name="multi-v6"), "addressType": "IPv6"},
    ]
    rules = render_service(svc, slices, CONFIG)
    assert dnat_targets(rules) == {"10.42.0.10:8080", "10.42.0.11:8080", "10.42.0.10:5353", "10.42.0.11:5353"}
    assert sorted(e.split(" : ")[0] for e in rules.service_ips) == ["10.43.0.40 . tcp . 80", "10.43.0.40 . udp . 53"]
    assert sorted(rules.udp_endpoints) == [("10.42.0.10", 5353), ("10.42.0.11", 5353)]
    assert rules.udp_destinations == (("10.43.0.40", 53),)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "ExternalName", "externalName": "example.com"},
        {"clusterIP": "None"},
    ],
    ids=["externalname", "headless"],
)
def test_externalname_and_headless_services_get_no_rules(spec: dict[str, object]) -> None:
    svc = service("plain", "10.43.0.50", [{"port": 80}])
    svc["spec"].update(spec)
    assert render_service(svc, [endpoint_slice("plain", [{"ip": "10.42.0.10"}], [("", 80)])], CONFIG) == ServiceRules()


def test_services_of_another_proxy_and_ipv6_only_services_get_no_rules() -> None:
    other = service("other", "10.43.0.51", [{"port": 80}])
    other["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "someone-else"}
    assert render_service(other, [], CONFIG) == ServiceRules()
    v6 = service("v6", "fd00:43::5", [{"port": 80}])
    rules = render_service(v6, [], CONFIG)
    assert rules.cluster_ips == () and rules.service_ips == () and rules.no_endpoint_services == ()


# ---------------------------------------------------------------------- NodePort, LoadBalancer, external
def test_node_port_masquerades_then_uses_the_cluster_view() -> None:
    svc = service("np", "10.43.0.60", [{"port": 80, "nodePort": 30080}], type="NodePort")
    rules = render_service(svc, [endpoint_slice("np", three_endpoints(), [("", 80)])], CONFIG)
    external, body = chain(rules, "external-")
    cluster, _ = chain(rules, "service-")
    assert rules.service_nodeports == (f"tcp . 30080 : goto {external}",)
    assert body == ("jump mark-for-masquerade", f"goto {cluster}")


def test_node_port_without_endpoints_is_rejected() -> None:
    svc = service("np", "10.43.0.60", [{"port": 80, "nodePort": 30080}], type="NodePort")
    rules = render_service(svc, [], CONFIG)
    assert rules.no_endpoint_nodeports == ("tcp . 30080 : goto reject-chain",)
    assert rules.service_nodeports == ()


def test_external_traffic_policy_local_uses_only_this_nodes_endpoints() -> None:
    svc = service("loc", "10.43.0.70", [{"port": 80, "nodePort": 30070}], type="NodePort", externalTrafficPolicy="Local")
    rules = render_service(svc, [endpoint_slice("loc", three_endpoints(), [("", 80)])], CONFIG)
    external, body = chain(rules, "external-")
    local, local_body = chain(rules, "local-")
    cluster, _ = chain(rules, "service-")
    assert body == (
        f"ip saddr 10.42.0.0/16 goto {cluster}",
        "fib saddr type local jump mark-for-masquerade",
        f"fib saddr type local goto {cluster}",
        f"goto {local}",
    )
    assert local_body[-1].startswith("goto endpoint-") and "10.42.0.10" in local_body[-1]
    assert rules.service_nodeports == (f"tcp . 30070 : goto {external}",)
    assert any(e.endswith(cluster) for e in rules.service_ips)  # ClusterIP traffic still uses every node's


def test_external_traffic_policy_local_without_local_endpoints_drops_outside_traffic() -> None:
    svc = service("loc", "10.43.0.70", [{"port": 80, "nodePort": 30070}], type="NodePort", externalTrafficPolicy="Local")
    remote_only = [{"ip": "10.42.1.10", "node": "node-b"}]
    rules = render_service(svc, [endpoint_slice("loc", remote_only, [("", 80)])], CONFIG)
    _external, body = chain(rules, "external-")
    assert body[-1] == "drop"
    assert not chains(rules, "local-")


def test_internal_traffic_policy_local_drops_when_only_other_nodes_have_endpoints() -> None:
    svc = service("itp", "10.43.0.71", [{"port": 80}], internalTrafficPolicy="Local")
    rules = render_service(svc, [endpoint_slice("itp", [{"ip": "10.42.1.10", "node": "node-b"}], [("", 80)])], CONFIG)
    assert rules.no_endpoint_services == ("10.43.0.71 . tcp . 80 : drop",)
    rules = render_service(svc, [endpoint_slice("itp", three_endpoints(), [("", 80)])], CONFIG)
    local, _body = chain(rules, "local-")
    assert rules.service_ips == (f"10.43.0.71 . tcp . 80 : goto {local}",)
    assert dnat_targets(rules) == {"10.42.0.10:80"}


def test_load_balancer_answers_on_ingress_ips_and_this_nodes_addresses() -> None:
    svc = service("lb", "10.43.0.80", [{"port": 8081, "nodePort": 30081}], type="LoadBalancer")
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.5.1", "ipMode": "VIP"}, {"ip": "192.168.5.2", "ipMode": "Proxy"}]}}
    rules = render_service(svc, [endpoint_slice("lb", three_endpoints(), [("", 80)])], CONFIG, ["10.0.0.7"])
    external, _ = chain(rules, "external-")
    cluster, _ = chain(rules, "service-")
    assert sorted(rules.service_ips) == sorted(
        [
            f"10.43.0.80 . tcp . 8081 : goto {cluster}",
            f"192.168.5.1 . tcp . 8081 : goto {external}",
            f"10.0.0.7 . tcp . 8081 : goto {external}",
        ]
    )
    assert rules.service_nodeports == (f"tcp . 30081 : goto {external}",)


def test_load_balancer_of_another_class_gets_no_node_addresses() -> None:
    svc = service("lb", "10.43.0.80", [{"port": 8081, "nodePort": 30081}], type="LoadBalancer", loadBalancerClass="x.io/lb")
    rules = render_service(svc, [endpoint_slice("lb", three_endpoints(), [("", 80)])], CONFIG, ["10.0.0.7"])
    assert not any(e.startswith("10.0.0.7") for e in rules.service_ips)


def test_external_ips_are_served_like_node_ports() -> None:
    svc = service("ext", "10.43.0.81", [{"port": 80}], externalIPs=["10.9.9.9"])
    rules = render_service(svc, [endpoint_slice("ext", three_endpoints(), [("", 80)])], CONFIG)
    external, _ = chain(rules, "external-")
    assert f"10.9.9.9 . tcp . 80 : goto {external}" in rules.service_ips


# ---------------------------------------------------------------------- session affinity
def test_client_ip_affinity_uses_one_timeout_set_per_endpoint() -> None:
    svc = service(
        "sticky",
        "10.43.0.90",
        [{"port": 80}],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    rules = render_service(svc, [endpoint_slice("sticky", three_endpoints(), [("", 80)])], CONFIG)
    assert len(rules.affinity_sets) == 3 and {timeout for _, timeout in rules.affinity_sets} == {600}
    _name, body = chain(rules, "service-")
    lookups = [rule for rule in body if rule.startswith("ip saddr @affinity-")]
    assert len(lookups) == 3 and body[-1].startswith("numgen random mod 3")
    for name, endpoint_body in chains(rules, "endpoint-").items():
        updates = [rule for rule in endpoint_body if rule.startswith("update @affinity-")]
        assert len(updates) == 1 and updates[0].endswith("{ ip saddr }")
        assert any(rule.endswith(f"goto {name}") and updates[0].split()[1] in rule for rule in lookups)


def test_affinity_without_timeout_uses_upstreams_default() -> None:
    svc = service("sticky", "10.43.0.90", [{"port": 80}], sessionAffinity="ClientIP")
    rules = render_service(svc, [endpoint_slice("sticky", [{"ip": "10.42.0.10"}], [("", 80)])], CONFIG)
    assert [timeout for _, timeout in rules.affinity_sets] == [10800]


# ---------------------------------------------------------------------- the table and the swap
def sample(config: RulesConfig = CONFIG) -> Ruleset:
    parts = [
        render_service(service("web", "10.43.0.20", [{"port": 80, "nodePort": 30080}], type="NodePort"),
                       [endpoint_slice("web", three_endpoints(), [("", 80)])], config),
        render_service(service("idle", "10.43.0.30", [{"port": 80}]), [], config),
        render_service(service("sticky", "10.43.0.90", [{"port": 53, "protocol": "UDP"}], sessionAffinity="ClientIP"),
                       [endpoint_slice("sticky", three_endpoints(), [("", 5353, "UDP")])], config),
    ]
    return render(parts, config)


def test_table_holds_base_chains_maps_and_every_service() -> None:
    ruleset = sample()
    text = ruleset.text
    assert text.startswith("table ip kl_unit {\n")
    assert "type nat hook prerouting priority dstnat; policy accept;" in text
    assert "type nat hook output priority -100; policy accept;" in text
    assert "fib daddr type local meta l4proto . th dport vmap @service-nodeports" in text
    assert "ip daddr @cluster-ips reject" in text and "ip daddr 10.43.0.0/16 drop" in text
    assert "masquerade fully-random" in text
    assert "elements = { 10.43.0.20, 10.43.0.30, 10.43.0.90 }" in text
    assert {"nat-prerouting", "services", "reject-chain"} <= ruleset.chains
    assert len(ruleset.affinity_sets) == 3
    assert ("map", "service-ips") in ruleset.flushed_sets
    assert not any(name in ruleset.affinity_sets for _kind, name in ruleset.flushed_sets)
    assert ruleset.udp_destinations == {("10.43.0.90", 53)}


def test_node_port_addresses_restrict_where_node_ports_answer() -> None:
    config = RulesConfig(table="kl_unit", nodeport_addresses=("127.0.0.1",))
    text = sample(config).text
    assert "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports" in text
    assert "fib daddr type local" not in text.split("chain services")[1].split("}")[0]


def test_first_apply_starts_from_an_empty_table() -> None:
    ruleset = sample()
    script = transaction(ruleset, None)
    assert script.startswith("add table ip kl_unit\ndelete table ip kl_unit\ntable ip kl_unit {")
    assert delete_script("kl_unit") == "add table ip kl_unit\ndelete table ip kl_unit\n"


def test_swap_flushes_rules_and_maps_deletes_stale_objects_and_keeps_affinity_state() -> None:
    before = sample()
    after = render(
        [render_service(service("web", "10.43.0.20", [{"port": 80, "nodePort": 30080}], type="NodePort"),
                        [endpoint_slice("web", three_endpoints(), [("", 80)])], CONFIG)],
        CONFIG,
    )
    script = transaction(after, before)
    lines = script.split("\ntable ip kl_unit {")[0].splitlines()
    assert lines[:2] == ["add table ip kl_unit", "flush table ip kl_unit"]
    assert "flush map ip kl_unit service-ips" in lines and "flush set ip kl_unit cluster-ips" in lines
    stale = [line for line in lines if line.startswith("delete chain")]
    assert stale and all("sticky" in line for line in stale)
    assert len([line for line in lines if line.startswith("delete set ip kl_unit affinity-")]) == 3
    assert not any(line.startswith("flush set") and "affinity-" in line for line in lines)
    # unchanged affinity sets are neither flushed nor deleted
    again = transaction(before, before)
    assert "affinity-" not in again.split("\ntable ip kl_unit {")[0]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="nft -c needs root and nftables")
def test_nft_accepts_the_rendered_scripts() -> None:
    before, after = sample(), sample(RulesConfig(table="kl_unit", nodeport_addresses=("127.0.0.1",)))
    for script in (transaction(before, None), transaction(after, None)):
        result = subprocess.run(["nft", "-c", "-f", "-"], input=script.encode(), capture_output=True, timeout=20)
        assert result.returncode == 0, result.stderr.decode()


def test_a_destination_claimed_twice_goes_to_the_first_service_only() -> None:
    first = service("a-lb", "10.43.0.100", [{"port": 80, "nodePort": 30100}], type="LoadBalancer")
    second = service("b-lb", "10.43.0.101", [{"port": 80, "nodePort": 30101}], type="LoadBalancer")
    idle = service("c-lb", "10.43.0.102", [{"port": 80, "nodePort": 30102}], type="LoadBalancer")
    parts = [
        render_service(first, [endpoint_slice("a-lb", three_endpoints(), [("", 80)])], CONFIG, ["10.0.0.7"]),
        render_service(second, [endpoint_slice("b-lb", three_endpoints(), [("", 80)])], CONFIG, ["10.0.0.7"]),
        render_service(idle, [], CONFIG, ["10.0.0.7"]),
    ]
    text = render(parts, CONFIG).text
    assert text.count("10.0.0.7 . tcp . 80 :") == 1
    assert re.search(r"10\.0\.0\.7 \. tcp \. 80 : goto external-\w+-default/a-lb/", text)
