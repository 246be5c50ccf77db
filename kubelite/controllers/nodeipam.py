"""Node IPAM, as upstream's range allocator (kube-controller-manager --allocate-node-cidrs): every
Node without spec.podCIDRs gets the next free /mask subnet of the cluster CIDR as spec.podCIDR and
spec.podCIDRs; a Node that has one keeps it (its subnet is marked used, and so is any other subnet
it overlaps); a deleted Node's subnet is free again. Candidates are tried round-robin from the one
after the last allocated (as upstream's cidrset), so a released subnet is not handed out at once.
When every subnet is taken the Node gets a Warning event `CIDRNotAvailable` ("Node <name> status
is now: CIDRNotAvailable") and is retried with the queue's backoff.

What is used is rebuilt from the informer's cache on every allocation, plus the allocations this
controller wrote that the cache has not shown yet, so a restarted controller (or two workers
racing) never hands one subnet to two nodes; the API's validation refuses to change a set
podCIDR, so a Node that got one meanwhile keeps it.

Must not change a podCIDR that is set, touch any other Node field, nor route anything (that is
network/noderoutes.py on every node).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import WARNING, EventRecorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]

COMPONENT = "cidrAllocator"
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_NODE_MASK = 24


class CIDRNotAvailable(Exception):
    pass


def node_pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or [] if c]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    return cidrs


class SubnetSpace:
    """The /mask subnets of one IPv4 cluster CIDR, numbered 0..count-1 (pure arithmetic)."""

    def __init__(self, cluster_cidr: str, mask: int):
        network = ipaddress.ip_network(cluster_cidr, strict=False)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"cluster CIDR {cluster_cidr} is not IPv4")
        if not network.prefixlen <= mask <= 30:
            raise ValueError(f"node CIDR mask /{mask} does not fit the cluster CIDR {cluster_cidr}")
        self.network = network
        self.mask = mask
        self.count = 1 << (mask - network.prefixlen)
        self._base = int(network.network_address)
        self._size = 1 << (32 - mask)

    def subnet(self, index: int) -> str:
        return f"{ipaddress.IPv4Address(self._base + index * self._size)}/{self.mask}"

    def covered(self, cidr: str) -> range:
        """The indexes of the subnets `cidr` overlaps (empty when outside, or not a CIDR)."""
        try:
            other = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return range(0)
        if not isinstance(other, ipaddress.IPv4Network) or not other.overlaps(self.network):
            return range(0)
        first = max(int(other.network_address), self._base)
        last = min(int(other.broadcast_address), int(self.network.broadcast_address))
        return range((first - self._base) // self._size, (last - self._base) // self._size + 1)


class NodeIPAMController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        cluster_cidr: str = DEFAULT_CLUSTER_CIDR,
        node_mask: int = DEFAULT_NODE_MASK,
        service_cidr: str = "",
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name="node-ipam", workers=1, clock=clock)
        self.space = SubnetSpace(cluster_cidr, node_mask)
        self.reserved = set(self.space.covered(service_cidr)) if service_cidr else set()
        self.nodes = self.informer("", "v1", "nodes")
        self.nodes.add_handler(self.enqueue, self._updated, self._deleted)
        self.node_client = client.resource("", "v1", "nodes")
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self._written: dict[str, str] = {}  # node -> subnet patched but maybe not yet in the cache
        self._next = 0

    # ------------------------------------------------------------------ events (enqueue only)
    def _updated(self, old: Obj, new: Obj) -> None:
        if not node_pod_cidrs(new) or node_pod_cidrs(old) != node_pod_cidrs(new):
            self.enqueue(new)

    def _deleted(self, node: Obj) -> None:
        self.enqueue(node)
        if node_pod_cidrs(node):  # a subnet is free: nodes still waiting for one may have it
            for waiting in self.nodes.cache.list():
                if not node_pod_cidrs(waiting):
                    self.enqueue(waiting)

    # ------------------------------------------------------------------ one Node
    def used(self) -> set[int]:
        taken = set(self.reserved)
        for node in self.nodes.cache.list():
            for cidr in node_pod_cidrs(node):
                taken.update(self.space.covered(cidr))
        for cidr in self._written.values():
            taken.update(self.space.covered(cidr))
        return taken

    def allocate(self) -> str:
        """The next free subnet, round-robin from the one after the last allocated."""
        taken = self.used()
        for step in range(self.space.count):
            index = (self._next + step) % self.space.count
            if index not in taken:
                self._next = (index + 1) % self.space.count
                return self.space.subnet(index)
        raise CIDRNotAvailable(f"no free /{self.space.mask} left in {self.space.network}")

    async def sync(self, key: str) -> None:
        node = self.nodes.cache.get(key)
        if node is None:
            self._written.pop(key, None)  # its subnet is free again once the cache lost it
            return
        if node_pod_cidrs(node):
            self._written.pop(key, None)
            return
        if (node.get("metadata") or {}).get("deletionTimestamp"):
            return
        try:
            subnet = self.allocate()
        except CIDRNotAvailable as err:
            name = str(node["metadata"]["name"])
            self.recorder.event(
                node, WARNING, "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable", kind="Node", api_version="v1"
            )
            raise CIDRNotAvailable(f"failed to allocate cidr from cluster cidr at idx:0: {err}") from None
        self._written[key] = subnet
        try:
            await self.node_client.patch(key, {"spec": {"podCIDR": subnet, "podCIDRs": [subnet]}}, "merge", field_manager="kube-controller-manager")
        except Exception:
            self._written.pop(key, None)
            raise
        log.info("node %s: set podCIDR %s", key, subnet)
