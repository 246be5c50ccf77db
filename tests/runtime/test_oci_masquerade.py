"""The node's masquerade rule, on the real nat table (root): added once, kept when asked again,
replaced when the pod CIDR changes, removed on reset — other rules untouched. Each test uses a
network name and /24 of its own, and removes its rule even when it fails."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from kubelite.runtime.oci import masquerade
from tests.runtime.oci_harness import RunNames, unique_net


def postrouting() -> list[str]:
    return subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True, check=True).stdout.splitlines()


def ours(network: str) -> list[list[str]]:
    return [shlex.split(line)[2:] for line in postrouting() if f'kubelite masquerade name: \\"{network}\\"' in line]


@pytest.fixture
def net() -> Iterator[RunNames]:
    if os.geteuid() != 0:
        pytest.fail("the masquerade tests need root (iptables)", pytrace=False)
    made = unique_net()
    try:
        yield made
    finally:
        for spec in ours(made.bridge):
            subprocess.run(["iptables", "-t", "nat", "-D", "POSTROUTING", *spec], capture_output=True)


async def test_ensure_adds_one_rule_and_keeps_it(net: RunNames) -> None:
    before = [line for line in postrouting() if net.bridge not in line]
    await masquerade.ensure(net.bridge, net.cidr)
    await masquerade.ensure(net.bridge, net.cidr)
    assert ours(net.bridge) == [masquerade.rule(net.bridge, net.cidr)]
    assert masquerade.rule(net.bridge, net.cidr) == [
        "-s", net.cidr, "!", "-d", net.cidr, "-m", "comment", "--comment", f'kubelite masquerade name: "{net.bridge}"', "-j", "MASQUERADE",
    ]  # fmt: skip
    assert [line for line in postrouting() if net.bridge not in line] == before


async def test_a_new_pod_cidr_replaces_the_rule_and_remove_deletes_it(net: RunNames) -> None:
    other = f"10.245.{net.number}.0/24"
    await masquerade.ensure(net.bridge, other)
    await masquerade.ensure(net.bridge, net.cidr)
    assert ours(net.bridge) == [masquerade.rule(net.bridge, net.cidr)]
    await masquerade.remove(net.bridge)
    assert ours(net.bridge) == []
    await masquerade.remove(net.bridge)  # nothing left: fine


async def test_duplicates_are_collapsed(net: RunNames) -> None:
    spec = masquerade.rule(net.bridge, net.cidr)
    for _ in range(2):
        subprocess.run(["iptables", "-t", "nat", "-A", "POSTROUTING", *spec], check=True)
    await masquerade.ensure(net.bridge, net.cidr)
    assert ours(net.bridge) == [spec]
