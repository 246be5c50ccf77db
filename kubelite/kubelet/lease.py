"""The node's heartbeat Lease (coordination.k8s.io/v1, namespace kube-node-lease, named after the
node), as upstream's node lease controller: holderIdentity is the node, leaseDurationSeconds 40,
renewTime refreshed every renew interval, owned by the Node so it goes when the Node does.

Must not touch the Node or pods.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.leaderelection import micro_time

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"


class NodeLease:
    def __init__(self, client: Client, node_name: str, clock: Clock, *, duration_seconds: int = 40, field_manager: str = "kubelet"):
        self.leases = client.resource("coordination.k8s.io", "v1", "leases").namespace(NODE_LEASE_NAMESPACE)
        self.node_name = node_name
        self.clock = clock
        self.duration_seconds = duration_seconds
        self.field_manager = field_manager
        self.lease: Obj | None = None  # as last written (its resourceVersion makes renewals conditional)

    def _owner(self, node_uid: str) -> list[Obj]:
        if not node_uid:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": node_uid}]

    async def renew(self, node_uid: str) -> Obj:
        """Create the Lease or renew it; a stale copy (409) or a missing Lease is read/created again."""
        now = micro_time(self.clock.time())
        if self.lease is None:
            try:
                self.lease = await self.leases.get(self.node_name)
            except StatusError as exc:
                if exc.code != 404:
                    raise
                return await self._create(node_uid, now)
        lease = copy.deepcopy(self.lease)
        spec = lease.setdefault("spec", {})
        spec.update({"holderIdentity": self.node_name, "leaseDurationSeconds": self.duration_seconds, "renewTime": now})
        owners = self._owner(node_uid)
        if owners and not lease["metadata"].get("ownerReferences"):
            lease["metadata"]["ownerReferences"] = owners
        try:
            self.lease = await self.leases.update(lease, field_manager=self.field_manager)
        except StatusError as exc:
            self.lease = None  # re-read next time
            if exc.code == 404:
                return await self._create(node_uid, now)
            raise
        return self.lease

    async def _create(self, node_uid: str, now: str) -> Obj:
        lease: Obj = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE},
            "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": self.duration_seconds, "renewTime": now},
        }
        owners = self._owner(node_uid)
        if owners:
            lease["metadata"]["ownerReferences"] = owners
        self.lease = await self.leases.create(lease, field_manager=self.field_manager)
        return self.lease
