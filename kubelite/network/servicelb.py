"""The LoadBalancer status writer, as k3s's ServiceLB: a Service of type LoadBalancer with no
spec.loadBalancerClass gets status.loadBalancer.ingress = the addresses of the cluster's Ready
nodes (per node its ExternalIP if it has one, else its InternalIP; only the Service's IP
families; nodes labelled node.kubernetes.io/exclude-from-external-load-balancers are left out),
sorted, each `{"ip": …, "ipMode": "VIP"}`. The proxies on those nodes accept the Service's port on
those addresses. A Service that stops being a LoadBalancer has that status cleared.

Level-triggered: Service and Node events queue Service keys; a worker compares the wanted
ingress with the cached Service's and writes status only when they differ (a conflict or any
failure is retried with the queue's backoff).

Must not touch Services with a loadBalancerClass (another implementation's), nor any field but
status.loadBalancer, nor program the data plane (proxy.py does).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FIELD_MANAGER = "service-lb-controller"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def _node_ready(node: Obj) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _family(address: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    except ValueError:
        return ""


def node_lb_addresses(node: Obj, families: set[str]) -> list[str]:
    """The node's ExternalIPs of those families, else its InternalIPs of those families."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ("ExternalIP", "InternalIP"):
        found = [
            str(entry["address"])
            for entry in addresses
            if entry.get("type") == kind and entry.get("address") and _family(str(entry["address"])) in families
        ]
        if found:
            return found
    return []


def is_servicelb(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def wanted_ingress(service: Obj, nodes: list[Obj]) -> list[Obj]:
    families = set((service.get("spec") or {}).get("ipFamilies") or ["IPv4"])
    addresses: set[str] = set()
    for node in nodes:
        if not _node_ready(node) or EXCLUDE_LABEL in ((node.get("metadata") or {}).get("labels") or {}):
            continue
        addresses.update(node_lb_addresses(node, families))
    ordered = sorted(addresses, key=lambda a: (_family(a), ipaddress.ip_address(a)))
    return [{"ip": address, "ipMode": "VIP"} for address in ordered]


def _current_ingress(service: Obj) -> list[Obj]:
    return list((((service.get("status") or {}).get("loadBalancer")) or {}).get("ingress") or [])


class ServiceLBController(Controller):
    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 1):
        super().__init__(client, name="service-lb", workers=workers, clock=clock)
        self.services = self.informer("", "v1", "services")
        self.nodes = self.informer("", "v1", "nodes")
        self.services.add_handler(self._service_changed, lambda _old, new: self._service_changed(new), None)
        self.nodes.add_handler(
            lambda _n: self._nodes_changed(), lambda old, new: self._node_updated(old, new), lambda _n: self._nodes_changed()
        )
        self.service_client = client.resource("", "v1", "services")

    # ------------------------------------------------------------------ events (enqueue only)
    def _service_changed(self, service: Obj) -> None:
        if is_servicelb(service) or _current_ingress(service):
            self.queue.add(object_key(service))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if _node_ready(old) != _node_ready(new) or (old.get("status") or {}).get("addresses") != (
            new.get("status") or {}
        ).get("addresses") or ((old.get("metadata") or {}).get("labels") or {}).get(EXCLUDE_LABEL) != (
            (new.get("metadata") or {}).get("labels") or {}
        ).get(EXCLUDE_LABEL):
            self._nodes_changed()

    def _nodes_changed(self) -> None:
        for service in self.services.cache.list():
            if is_servicelb(service):
                self.queue.add(object_key(service))

    # ------------------------------------------------------------------ one Service
    async def sync(self, key: str) -> None:
        service = self.services.cache.get(key)
        if service is None:
            return
        spec = service.get("spec") or {}
        if is_servicelb(service):
            wanted = wanted_ingress(service, self.nodes.cache.list())
        elif spec.get("type") != "LoadBalancer":
            wanted = []  # no longer a LoadBalancer: clear what was published
        else:
            return  # another implementation's loadBalancerClass
        if _current_ingress(service) == wanted:
            return
        namespace, _name = split_key(key)
        status = dict(service.get("status") or {})
        status["loadBalancer"] = {"ingress": wanted} if wanted else {}
        updated = {**service, "status": status}
        await self.service_client.namespace(namespace).update_status(updated, field_manager=FIELD_MANAGER)
