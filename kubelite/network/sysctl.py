"""The kernel settings Service VIPs need, set through /proc/sys and put back afterwards:
net.ipv4.ip_forward=1 (pods' traffic is routed), net/bridge/bridge-nf-call-iptables=1 where the
bridge netfilter knob exists (a reply bridged from one pod to another must still be un-DNATed),
and route_localnet=1 on the pod bridge (NodePorts on 127.0.0.1 DNAT to pods).

Each value changed is recorded with what it was; `restore` writes the original back only where
the value is still the one written here (someone who changed it since keeps their value).

Must not touch any setting it was not asked to, nor fail when a knob is absent.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

PROC_SYS = Path("/proc/sys")
IP_FORWARD = "net/ipv4/ip_forward"
BRIDGE_NF_CALL_IPTABLES = "net/bridge/bridge-nf-call-iptables"


def route_localnet(device: str) -> str:
    return f"net/ipv4/conf/{device}/route_localnet"


class Sysctls:
    def __init__(self, root: Path = PROC_SYS):
        self.root = root
        self._changed: dict[str, tuple[str, str]] = {}  # key -> (original, written)

    def read(self, key: str) -> str | None:
        try:
            return (self.root / key).read_text().strip()
        except OSError:
            return None

    def ensure(self, key: str, value: str) -> bool:
        """Set key to value if it exists and differs (remembering the first original). Whether the
        key now holds the value."""
        current = self.read(key)
        if current is None:
            return False
        if current == value:
            return True
        try:
            (self.root / key).write_text(value + "\n")
        except OSError as err:
            log.warning("cannot set %s=%s: %s", key.replace("/", "."), value, err)
            return False
        original = self._changed[key][0] if key in self._changed else current
        self._changed[key] = (original, value)
        return True

    @property
    def changed(self) -> dict[str, str]:
        """key -> the original value, for every key changed and not yet restored."""
        return {key: original for key, (original, _) in self._changed.items()}

    def restore(self) -> None:
        changed, self._changed = self._changed, {}
        for key, (original, written) in changed.items():
            if self.read(key) != written:
                continue  # gone (a deleted device) or changed by someone else since
            try:
                (self.root / key).write_text(original + "\n")
            except OSError as err:
                log.warning("cannot restore %s=%s: %s", key.replace("/", "."), original, err)
