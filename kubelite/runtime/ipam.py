"""A small in-memory IPAM over one node's pod CIDR, as the host-local CNI plugin: the network and
broadcast addresses and the first host (the bridge gateway, x.x.x.1) are never handed out;
addresses go round-robin from the last one allocated, so a freed IP is not reused at once.

Must not persist anything: a runtime that restarts rebuilds it with `reserve`.
"""

from __future__ import annotations

import ipaddress


class PoolExhausted(Exception):
    pass


class PodIPAM:
    def __init__(self, cidr: str):
        self.network = ipaddress.ip_network(cidr, strict=False)
        if self.network.num_addresses < 4:
            raise ValueError(f"pod CIDR {cidr} is too small")
        base = int(self.network.network_address)
        self._first = base + 2  # skip the network address and the gateway
        self._last = base + self.network.num_addresses - 2  # skip broadcast
        self._next = self._first
        self._owners: dict[int, str] = {}  # address -> owner (pod uid)
        self._by_owner: dict[str, int] = {}

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    @property
    def size(self) -> int:
        return self._last - self._first + 1

    def __len__(self) -> int:
        return len(self._owners)

    def allocate(self, owner: str) -> str:
        """The owner's address (the same one if it has one already)."""
        held = self._by_owner.get(owner)
        if held is not None:
            return str(ipaddress.ip_address(held))
        if len(self._owners) >= self.size:
            raise PoolExhausted(f"no IP addresses available in range set: {self.network}")
        candidate = self._next
        while candidate in self._owners:
            candidate = candidate + 1 if candidate < self._last else self._first
        self._take(candidate, owner)
        self._next = candidate + 1 if candidate < self._last else self._first
        return str(ipaddress.ip_address(candidate))

    def reserve(self, owner: str, address: str) -> None:
        """Record an address already in use (recovery)."""
        value = int(ipaddress.ip_address(address))
        if not self._first <= value <= self._last:
            raise ValueError(f"{address} is outside {self.network}")
        if self._owners.get(value, owner) != owner:
            raise ValueError(f"{address} is already allocated")
        self._take(value, owner)

    def release(self, owner: str) -> None:
        value = self._by_owner.pop(owner, None)
        if value is not None:
            del self._owners[value]

    def _take(self, value: int, owner: str) -> None:
        self._owners[value] = owner
        self._by_owner[owner] = value
