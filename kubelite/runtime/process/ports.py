"""Host ports for the process runtime: its pods share the host's network, so a container's ports
are the host's. Before a start, every declared containerPort/hostPort is checked: another pod of
this node declaring it, or anything on the host listening on it, is a clear
CreateContainerError instead of a crash loop of "address already in use".

Must not reserve or hold ports (the check and the container's own bind are not atomic: a race
still ends as the program's own bind error).
"""

from __future__ import annotations

import contextlib
import errno
import socket
from typing import Any

Obj = dict[str, Any]
Port = tuple[int, str]  # (number, protocol)


def declared_ports(container: Obj) -> list[Port]:
    """The container's ports as (number, "TCP"/"UDP"/"SCTP"): hostPort where set, else containerPort."""
    found: list[Port] = []
    for port in container.get("ports") or []:
        number = port.get("hostPort") or port.get("containerPort")
        if isinstance(number, int) and number > 0:
            entry = (number, str(port.get("protocol") or "TCP").upper())
            if entry not in found:
                found.append(entry)
    return found


def in_use_on_host(port: Port) -> bool:
    """Whether binding the port on all addresses fails with EADDRINUSE (SO_REUSEADDR, so
    connections in TIME_WAIT do not count)."""
    number, protocol = port
    if protocol == "SCTP":
        return False
    kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", number))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        with contextlib.suppress(OSError):
            if kind == socket.SOCK_STREAM:
                probe.listen(1)  # a listener bound to one address only shows up here
    return False


def conflict_message(port: Port, owner: str | None) -> str:
    number, protocol = port
    who = f"pod {owner}" if owner else "another process on the node"
    return (
        f"port {number}/{protocol} is already in use by {who}: the process runtime runs pods in the "
        "host's network, so a containerPort is a host port and two pods cannot use the same one"
    )
