"""NodeServices' pure parts and host commands, against a recording runner (the real wiring is
covered end to end by tests/e2e/test_node_services.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from kubelite.network.commands import CommandError
from kubelite.network.nodeservices import (
    NodeServicesOptions,
    bridge_gateway,
    ensure_bridge,
    reset_node_services,
)


class Recorder:
    def __init__(self, fail: dict[str, str] | None = None, outputs: dict[str, str] | None = None):
        self.calls: list[list[str]] = []
        self.fail = fail or {}  # argv prefix -> stderr of a failure
        self.outputs = outputs or {}

    async def __call__(self, argv: Sequence[str], stdin: bytes | None) -> str:
        self.calls.append(list(argv))
        joined = " ".join(argv)
        for prefix, stderr in self.fail.items():
            if joined.startswith(prefix):
                raise CommandError(argv, 2, stderr)
        return next((out for prefix, out in self.outputs.items() if joined.startswith(prefix)), "")


def test_the_bridge_address_is_the_first_of_the_pod_cidr() -> None:
    assert bridge_gateway("10.42.0.0/24") == "10.42.0.1"
    assert bridge_gateway("10.244.7.0/24") == "10.244.7.1"
    assert NodeServicesOptions(Path("/d"), "n", pod_cidr="10.244.7.0/24").bridge_ip == "10.244.7.1"


def test_the_cluster_cidr_is_the_cluster_range_or_this_nodes_own() -> None:
    assert NodeServicesOptions(Path("/d"), "n", pod_cidr="10.42.3.0/24").cluster_cidr() == "10.42.0.0/16"
    assert NodeServicesOptions(Path("/d"), "n", pod_cidr="10.244.7.0/24").cluster_cidr() == "10.244.7.0/24"


async def test_ensure_bridge_creates_it_with_the_gateway_address() -> None:
    runner = Recorder()
    await ensure_bridge("klns-none-such0", "10.244.9.0/24", runner)
    assert runner.calls == [
        ["ip", "link", "add", "name", "klns-none-such0", "type", "bridge"],
        ["ip", "-j", "-4", "addr", "show", "dev", "klns-none-such0"],
        ["ip", "addr", "add", "10.244.9.1/24", "dev", "klns-none-such0"],
        ["ip", "link", "set", "klns-none-such0", "up"],
    ]


async def test_ensure_bridge_adopts_an_existing_address_but_not_other_failures() -> None:
    listed = '[{"ifname":"klns-none-such0","addr_info":[{"family":"inet","local":"10.244.9.1","prefixlen":24}]}]'
    present = Recorder(outputs={"ip -j -4 addr show": listed})
    await ensure_bridge("klns-none-such0", "10.244.9.0/24", present)
    assert not any(call[:3] == ["ip", "addr", "add"] for call in present.calls)
    assert present.calls[-1] == ["ip", "link", "set", "klns-none-such0", "up"]
    raced = Recorder(fail={"ip addr add": "Error: ipv4: Address already assigned."})
    await ensure_bridge("klns-none-such0", "10.244.9.0/24", raced)
    assert raced.calls[-1] == ["ip", "link", "set", "klns-none-such0", "up"]
    broken = Recorder(fail={"ip link add": "RTNETLINK answers: Operation not permitted"})
    with pytest.raises(CommandError):
        await ensure_bridge("klns-none-such0", "10.244.9.0/24", broken)


async def test_reset_deletes_the_table_and_only_a_route_via_this_bridge() -> None:
    ours = Recorder(outputs={"ip -j route show": '[{"dst":"10.43.0.0/16","dev":"kltest5"}]'})
    await reset_node_services("kubelite_t5", "kltest5", runner=ours)
    assert ours.calls[0][:3] == ["nft", "-f", "-"]
    assert ours.calls[-1] == ["ip", "route", "del", "10.43.0.0/16", "dev", "kltest5"]
    theirs = Recorder(
        fail={"nft": "No such file or directory"}, outputs={"ip -j route show": '[{"dst":"10.43.0.0/16","dev":"kubelite0"}]'}
    )
    await reset_node_services("kubelite_t5", "kltest5", runner=theirs)
    assert not any(call[:3] == ["ip", "route", "del"] for call in theirs.calls)
