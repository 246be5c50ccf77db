"""Service ClusterIP and NodePort allocation: pick a free value, or check a requested one.

The set of values in use is passed in (the registry derives it from the services it holds), so
a deleted service frees its values with no bookkeeping. Must not read or write objects itself.
"""

from __future__ import annotations

import ipaddress
import random


class ServiceIPAllocator:
    """Addresses from the service CIDR; the network, broadcast and reserved addresses are never handed out."""

    def __init__(self, cidr: str = "10.43.0.0/16", reserved: tuple[str, ...] = ("10.43.0.1", "10.43.0.10")):
        self.network = ipaddress.ip_network(cidr)
        self.reserved = set(reserved)
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1

    def allocate(self, requested: str | None, used: set[str]) -> str:
        if requested == "None":
            return "None"
        if requested:
            try:
                addr = ipaddress.ip_address(requested)
            except ValueError:
                raise ValueError("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)") from None
            if addr not in self.network:
                raise ValueError(f"failed to allocate IP {requested}: provided IP is not in the valid range. "
                                 f"The range of valid IPs is {self.network}")
            if requested in used:
                raise ValueError(f"failed to allocate IP {requested}: provided IP is already allocated")
            return requested
        size = self._last - self._first + 1
        start = random.randrange(size)
        for offset in range(size):
            candidate = str(ipaddress.ip_address(self._first + (start + offset) % size))
            if candidate not in used and candidate not in self.reserved:
                return candidate
        raise ValueError("failed to allocate a serviceIP: range is full")

    def allocate_reserved(self, requested: str, used: set[str]) -> str:
        """For the cluster's own services (kubernetes, DNS) that own the reserved addresses."""
        if requested in used:
            raise ValueError(f"failed to allocate IP {requested}: provided IP is already allocated")
        return requested


class NodePortAllocator:
    def __init__(self, low: int = 30000, high: int = 32767):
        self.low, self.high = low, high

    def allocate(self, requested: int | None, used: set[int]) -> int:
        if requested:
            if not isinstance(requested, int) or not self.low <= requested <= self.high:
                raise ValueError(f"provided port is not in the valid range. The range of valid ports is {self.low}-{self.high}")
            if requested in used:
                raise ValueError("provided port is already allocated")
            return requested
        size = self.high - self.low + 1
        start = random.randrange(size)
        for offset in range(size):
            candidate = self.low + (start + offset) % size
            if candidate not in used:
                return candidate
        raise ValueError("range is full")
