"""The NetworkPolicy section of the proxy's table (kubelite/network/policyrules.py): structure
checks on the rendered text, and the real `nft` applying full and incremental swaps (policy
added, changed, removed) inside a throwaway network namespace."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from kubelite.network.policy import Allow, PolicyModel, PortRange
from kubelite.network.policyrules import render_policy
from kubelite.network.rules import RulesConfig, Ruleset, TableSection, render, transaction

CONFIG = RulesConfig(table="kl_policy_unit")
CLIENTS = ("10.42.0.20", "10.42.1.30")
HTTP = (PortRange("tcp", 80, 80), PortRange("tcp", 8000, 8100))


def section(model: PolicyModel) -> TableSection:
    found = render_policy(model)
    assert found is not None
    return found


def chain_bodies(text: str) -> dict[str, list[str]]:
    bodies: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if match := re.match(r"chain (\S+) \{", stripped):
            current = match.group(1)
            bodies[current] = []
        elif stripped == "}":
            current = ""
        elif current:
            bodies[current].append(stripped)
    return bodies


def map_elements(text: str, name: str) -> list[str]:
    match = re.search(rf"map {name} \{{\n[^}}]*?elements = \{{ ([^}}]*) \}}", text)
    return match.group(1).split(", ") if match else []


def test_no_isolated_pod_means_no_section() -> None:
    assert render_policy(PolicyModel()) is None


def test_pods_with_the_same_allows_share_one_chain_reached_through_a_map() -> None:
    allows = (Allow(CLIENTS, HTTP),)
    made = section(PolicyModel(ingress={"10.42.0.10": allows, "10.42.0.11": allows, "10.42.0.12": ()}))
    bodies = chain_bodies(made.text)
    ingress_chains = [name for name in bodies if name.startswith("policy-in-")]
    assert len(ingress_chains) == 2
    elements = map_elements(made.text, "policy-ingress-pods")
    targets = {element.split(" : goto ")[1] for element in elements[:2]}
    assert [e.split(" ")[0] for e in elements] == ["10.42.0.10", "10.42.0.11", "10.42.0.12"]
    assert len(targets) == 1  # .10 and .11 share a chain
    shared = bodies[targets.pop()]
    (peer_set,) = re.findall(r"@(policy-peers-\w+)", shared[0])
    assert shared == [f"ip saddr @{peer_set} meta l4proto . th dport {{ tcp . 80, tcp . 8000-8100 }} accept", "drop"]
    deny_all = bodies[elements[2].split(" : goto ")[1]]
    assert deny_all == ["drop"]
    assert f"set {peer_set} {{\n\t\ttype ipv4_addr\n\t\telements = {{ 10.42.0.20, 10.42.1.30 }}" in made.text
    assert {("map", "policy-ingress-pods"), ("map", "policy-egress-pods"), ("set", "policy-self"), ("set", peer_set)} == made.flushed_sets


def test_base_chains_let_replies_and_self_traffic_through_then_check_egress_before_ingress() -> None:
    made = section(PolicyModel(ingress={"10.42.0.10": ()}, egress={"10.42.0.20": (Allow(None, (PortRange("udp", 53, 53),)),)}))
    bodies = chain_bodies(made.text)
    assert bodies["policy-forward"] == [
        "type filter hook forward priority filter - 5; policy accept;",
        "ct state established,related accept",
        "ip saddr . ip daddr @policy-self accept",
        "ip saddr vmap @policy-egress-pods",
        "goto policy-ingress",
    ]
    assert bodies["policy-input"] == [
        "type filter hook input priority filter - 5; policy accept;",
        "ct state established,related accept",
        "ip saddr vmap @policy-egress-pods",
    ]
    (egress_chain,) = [name for name in bodies if name.startswith("policy-out-")]
    assert bodies[egress_chain] == ["meta l4proto . th dport { udp . 53 } goto policy-ingress", "drop"]
    assert "elements = { 10.42.0.10 . 10.42.0.10, 10.42.0.20 . 10.42.0.20 }" in made.text
    assert made.chains == {"policy-forward", "policy-input", "policy-ingress", egress_chain, *[n for n in bodies if n.startswith("policy-in-")]}


def test_peer_sets_are_interval_sets_only_when_they_hold_cidrs_and_are_shared() -> None:
    block = ("10.42.0.20", "192.168.0.0/16")
    made = section(
        PolicyModel(
            ingress={"10.42.0.10": (Allow(block, None),), "10.42.0.11": (Allow(block, HTTP),)},
            egress={"10.42.0.10": (Allow(CLIENTS, None),)},
        )
    )
    sets = re.findall(r"set (policy-peers-\w+) \{\n\t\ttype ipv4_addr\n(\t\tflags interval\n)?", made.text)
    assert len(sets) == 2
    assert sorted(bool(flags) for _name, flags in sets) == [False, True]
    assert made.text.count("ip daddr @policy-peers-") == 1  # egress matches destinations


def test_the_section_joins_the_table_and_its_names_join_the_swap() -> None:
    made = section(PolicyModel(ingress={"10.42.0.10": ()}))
    with_policy = render([], CONFIG, [made])
    assert made.text in with_policy.text
    assert "policy-forward" in with_policy.chains and "services" in with_policy.chains
    without = render([], CONFIG)
    swap = transaction(without, with_policy)
    assert "flush map ip kl_policy_unit policy-ingress-pods" in swap
    assert "delete chain ip kl_policy_unit policy-forward" in swap
    assert "delete set ip kl_policy_unit policy-self" in swap


# ---------------------------------------------------------------------- the real nft
@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("needs root and nft")
    name = f"klpolicy-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def nft(netns: str, script: str) -> None:
    done = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + "\n" + script


def listed(netns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "ip", CONFIG.table], capture_output=True, text=True, check=True).stdout


def test_nft_applies_policy_sections_added_changed_and_removed(netns: str) -> None:
    first = render([], CONFIG, [section(PolicyModel(ingress={"10.42.0.10": (Allow(CLIENTS, HTTP),)}))])
    second = render(
        [],
        CONFIG,
        [
            section(
                PolicyModel(
                    ingress={"10.42.0.10": (Allow(("10.42.0.20", "172.16.0.0/12"), (PortRange("udp", 0, 65535),)),), "10.42.0.11": ()},
                    egress={"10.42.0.20": (Allow(None, (PortRange("udp", 53, 53),)), Allow(("10.42.0.10",), HTTP))},
                )
            )
        ],
    )
    empty = render([], CONFIG)
    previous: Ruleset | None = None
    for ruleset in (first, second, first, empty, second):
        nft(netns, transaction(ruleset, previous))
        previous = ruleset
        shown = listed(netns)
        has_policy = ruleset is not empty
        assert ("chain policy-forward" in shown) == has_policy
        assert ("policy-peers-" in shown) == has_policy
    shown = listed(netns)
    assert "10.42.0.11 : goto policy-in-" in shown and "{ udp . 53 } goto policy-ingress" in shown
    assert shown.count("chain policy-in-") == 2
