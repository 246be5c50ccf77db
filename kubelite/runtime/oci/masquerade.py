"""The node's one masquerade rule for its pods: traffic from the pod CIDR to anywhere outside it
leaves with the node's address (`iptables -t nat -A POSTROUTING -s CIDR ! -d CIDR -j
MASQUERADE`), as k3s's flannel does it once per node. The bridge plugin's own `ipMasq` would add a
chain and two rules per pod — three `iptables` runs on every pod start and stop, each re-reading
the whole nat table, so they slow down as pods (and chains) accumulate.

The rule carries the comment `kubelite masquerade name: "<network>"`, by which it is found again
(to replace it when the pod CIDR changed, or to remove it on a node reset).

Must not touch any other rule, chain or table (the plugins wire pods; the proxy owns services).
"""

from __future__ import annotations

import shlex

from kubelite.runtime.oci.commands import check, run

TABLE = "nat"
CHAIN = "POSTROUTING"


def comment(network_name: str) -> str:
    return f'kubelite masquerade name: "{network_name}"'


def rule(network_name: str, pod_cidr: str) -> list[str]:
    """The rule's specification (what follows `-A POSTROUTING`)."""
    return ["-s", pod_cidr, "!", "-d", pod_cidr, "-m", "comment", "--comment", comment(network_name), "-j", "MASQUERADE"]


async def _ours(network_name: str) -> list[list[str]]:
    """The specifications of this network's masquerade rules now in POSTROUTING."""
    listed = await check(["iptables", "-t", TABLE, "-S", CHAIN])
    wanted = comment(network_name)
    found = []
    for line in listed.stdout.decode(errors="replace").splitlines():
        if not line.startswith(f"-A {CHAIN} "):
            continue
        words = shlex.split(line)
        if wanted in words:
            found.append(words[2:])
    return found


async def ensure(network_name: str, pod_cidr: str) -> None:
    """Make the network's rule the one for `pod_cidr` (a rule for another CIDR is replaced)."""
    wanted = rule(network_name, pod_cidr)
    present = False
    for spec in await _ours(network_name):
        if spec == wanted and not present:
            present = True
        else:
            await run(["iptables", "-t", TABLE, "-D", CHAIN, *spec])
    if not present:
        await check(["iptables", "-t", TABLE, "-A", CHAIN, *wanted])


async def remove(network_name: str) -> None:
    """Delete the network's rules (none is fine)."""
    for spec in await _ours(network_name):
        await run(["iptables", "-t", TABLE, "-D", CHAIN, *spec])
