"""The proxy's host helpers without touching the host: sysctls over a fake /proc/sys, the service
CIDR route and conntrack cleanup with a recording command runner."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from kubelite.network.commands import CommandError, run_command
from kubelite.network.conntrack import clear_stale_udp, stale_udp_commands
from kubelite.network.routes import ServiceRoute
from kubelite.network.rules import Ruleset
from kubelite.network.sysctl import BRIDGE_NF_CALL_IPTABLES, IP_FORWARD, Sysctls, route_localnet


def fake_proc(tmp_path: Path, values: dict[str, str]) -> Path:
    for key, value in values.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return tmp_path


# ---------------------------------------------------------------------- sysctls
def test_sysctls_remember_originals_and_restore_them(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, {IP_FORWARD: "0", route_localnet("br0"): "0", BRIDGE_NF_CALL_IPTABLES: "1"})
    sysctls = Sysctls(root)
    assert sysctls.ensure(IP_FORWARD, "1") and sysctls.ensure(route_localnet("br0"), "1")
    assert sysctls.ensure(BRIDGE_NF_CALL_IPTABLES, "1")  # already so: not recorded
    assert (root / IP_FORWARD).read_text().strip() == "1"
    assert sysctls.changed == {IP_FORWARD: "0", route_localnet("br0"): "0"}
    sysctls.restore()
    assert (root / IP_FORWARD).read_text().strip() == "0"
    assert (root / route_localnet("br0")).read_text().strip() == "0"
    assert (root / BRIDGE_NF_CALL_IPTABLES).read_text().strip() == "1"
    assert sysctls.changed == {}


def test_sysctls_leave_values_changed_by_someone_else_and_missing_knobs_alone(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, {IP_FORWARD: "0"})
    sysctls = Sysctls(root)
    assert not sysctls.ensure(route_localnet("absent0"), "1")  # the device does not exist (yet)
    assert not (root / route_localnet("absent0")).exists()
    sysctls.ensure(IP_FORWARD, "1")
    (root / IP_FORWARD).write_text("2\n")
    sysctls.restore()
    assert (root / IP_FORWARD).read_text().strip() == "2"


# ---------------------------------------------------------------------- route
class Recorder:
    def __init__(self, routes: list[dict[str, str]] | None = None, fail_add: str = ""):
        self.calls: list[list[str]] = []
        self.routes = routes or []
        self.fail_add = fail_add

    async def __call__(self, argv: Sequence[str], stdin: bytes | None) -> str:
        self.calls.append(list(argv))
        if argv[:3] == ["ip", "-j", "route"]:
            return json.dumps(self.routes)
        if argv[:3] == ["ip", "route", "add"] and self.fail_add:
            raise CommandError(argv, 2, self.fail_add)
        return ""


async def test_route_is_added_once_and_removed_only_if_added_here() -> None:
    runner = Recorder()
    route = ServiceRoute("10.43.0.0/16", "kubelite0", runner)
    assert await route.ensure()
    assert ["ip", "route", "add", "10.43.0.0/16", "dev", "kubelite0"] in runner.calls
    await route.remove()
    assert runner.calls[-1] == ["ip", "route", "del", "10.43.0.0/16", "dev", "kubelite0"]

    present = Recorder(routes=[{"dst": "10.43.0.0/16", "dev": "kubelite0"}])
    route = ServiceRoute("10.43.0.0/16", "kubelite0", present)
    assert await route.ensure()
    await route.remove()
    assert not any(call[:3] in (["ip", "route", "add"], ["ip", "route", "del"]) for call in present.calls)


async def test_route_waits_for_the_bridge() -> None:
    runner = Recorder(fail_add='Cannot find device "kubelite0"')
    route = ServiceRoute("10.43.0.0/16", "kubelite0", runner)
    assert not await route.ensure()
    assert not route.added


async def test_route_leaves_someone_elses_route_for_the_cidr_alone() -> None:
    runner = Recorder(routes=[{"dst": "10.43.0.0/16", "dev": "cni0"}])
    route = ServiceRoute("10.43.0.0/16", "kubelite0", runner)
    assert await route.ensure()
    assert not any(call[:3] == ["ip", "route", "add"] for call in runner.calls)


async def test_run_command_reports_failures_and_missing_tools() -> None:
    assert (await run_command(["sh", "-c", "cat"], b"hello")) == "hello"
    try:
        await run_command(["sh", "-c", "echo bad >&2; exit 3"])
    except CommandError as err:
        assert err.code == 3 and "bad" in err.stderr
    else:
        raise AssertionError("no CommandError")
    try:
        await run_command(["kubelite-no-such-tool"])
    except CommandError as err:
        assert err.code == 127
    else:
        raise AssertionError("no CommandError")


# ---------------------------------------------------------------------- conntrack
def ruleset(destinations: set[tuple[str, int]], endpoints: set[tuple[str, int]]) -> Ruleset:
    return Ruleset("t", "", udp_destinations=frozenset(destinations), udp_endpoints=frozenset(endpoints))


def test_stale_udp_flows_are_those_of_newly_served_destinations_and_dropped_endpoints() -> None:
    before = ruleset({("10.43.0.10", 53)}, {("10.42.0.5", 53), ("10.42.0.6", 53)})
    after = ruleset({("10.43.0.10", 53), ("10.43.0.11", 53), ("", 30053)}, {("10.42.0.6", 53)})
    assert stale_udp_commands(before, after) == [
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053"],
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.43.0.11", "--orig-port-dst", "53"],
        ["conntrack", "-D", "-p", "udp", "--reply-src", "10.42.0.5", "--reply-port-src", "53"],
    ]
    assert stale_udp_commands(after, after) == []


async def test_conntrack_finding_nothing_is_fine() -> None:
    calls: list[list[str]] = []

    async def nothing_matched(argv: Sequence[str], stdin: bytes | None) -> str:
        calls.append(list(argv))
        raise CommandError(argv, 1, "0 flow entries have been deleted.")

    assert await clear_stale_udp(None, ruleset({("10.43.0.10", 53)}, set()), nothing_matched) == 1
    assert calls == [["conntrack", "-D", "-p", "udp", "--orig-dst", "10.43.0.10", "--orig-port-dst", "53"]]
