"""Stale UDP conntrack entries, removed after a ruleset change (as upstream kube-proxy does): UDP
has no connection end, so without this a client keeps talking to an endpoint that is gone, or
keeps being rejected by a VIP that has just got endpoints (until the entry times out).

- a UDP destination (ClusterIP, external IP or NodePort) that now has endpoints: entries to it
  are deleted, so the next packet goes through the new DNAT rules;
- a UDP endpoint no longer used: entries whose reply comes from it are deleted.

TCP needs none of this (a connection to a removed endpoint fails and is retried).
Must not decide what changed beyond comparing the two rulesets it is given.
"""

from __future__ import annotations

import logging

from kubelite.network.commands import CommandError, Runner, run_command
from kubelite.network.rules import Ruleset

log = logging.getLogger(__name__)


def stale_udp_commands(previous: Ruleset | None, new: Ruleset) -> list[list[str]]:
    old_destinations = previous.udp_destinations if previous is not None else frozenset()
    old_endpoints = previous.udp_endpoints if previous is not None else frozenset()
    commands: list[list[str]] = []
    for address, port in sorted(new.udp_destinations - old_destinations):
        argv = ["conntrack", "-D", "-p", "udp"]
        if address:
            argv += ["--orig-dst", address]
        commands.append([*argv, "--orig-port-dst", str(port)])
    for address, port in sorted(old_endpoints - new.udp_endpoints):
        commands.append(["conntrack", "-D", "-p", "udp", "--reply-src", address, "--reply-port-src", str(port)])
    return commands


async def clear_stale_udp(previous: Ruleset | None, new: Ruleset, runner: Runner = run_command) -> int:
    """Run the deletions; how many commands ran. conntrack exits 1 when nothing matched: fine."""
    commands = stale_udp_commands(previous, new)
    for argv in commands:
        try:
            await runner(argv, None)
        except CommandError as err:
            if err.code == 127:
                log.warning("conntrack is not installed: stale UDP flows are left to time out")
                return 0
            if err.code != 1:
                log.info("%s", err)
    return len(commands)
