"""The EndpointSlice controller, as upstream's (pkg/controller/endpointslice): for each Service with
a selector, discovery.k8s.io/v1 EndpointSlices (one set per IP family of the Service) list the
selected pods that have an IP, terminating ones included, with conditions ready / serving /
terminating, targetRef, nodeName and hostname; endpoints are grouped by their resolved port set,
at most `max_endpoints_per_slice` (100) per slice. Slices carry the labels
kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, and a controller
ownerReference to the Service. A Service with no endpoints keeps one empty placeholder slice.

Reconciling keeps endpoints in the slice that already holds them, fills slices with room, then
creates new ones (upstream's packing heuristics are simpler here). What this controller wrote is
remembered until its cache shows it, so a sync never acts on a cache that misses its own writes.

Must not touch slices managed by anyone else, nor Services without a selector (mirroring is
not done here).
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import key_of, split_key
from kubelite.client.client import Client, ResourceClient
from kubelite.client.clock import Clock
from kubelite.controllers.endpoints import (
    HEADLESS_LABEL,
    ServicePodsController,
    find_port,
    is_headless,
    pod_hostname,
    pod_ip,
    pod_ready,
    service_selector,
    should_pod_be_in_endpoints,
    target_ref,
)

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "service"
_RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)

PortKey = tuple[tuple[str, int, str, str], ...]


def _index_by_managed_service(slice_: Obj) -> list[str]:
    meta = slice_.get("metadata") or {}
    labels = meta.get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL)
    if service and labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
        return [key_of(meta.get("namespace") or "", service)]
    return []


def slice_ports(service: Obj, pod: Obj) -> list[Obj]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "port": number, "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _port_key(ports: list[Obj]) -> PortKey:
    return tuple(
        sorted((str(p.get("name") or ""), int(p["port"]), str(p.get("protocol") or ""), str(p.get("appProtocol") or "")) for p in ports)
    )


def pod_endpoint(service: Obj, pod: Obj, ip: str) -> Obj:
    """upstream podToEndpoint (without the zone, which needs Nodes)."""
    serving = pod_ready(pod)
    terminating = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    hostname = pod_hostname(pod, service)
    if hostname:
        endpoint["hostname"] = hostname
    endpoint["targetRef"] = target_ref(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        endpoint["nodeName"] = node
    return endpoint


def _endpoint_key(endpoint: Obj) -> tuple[str, str]:
    return (str(endpoint["addresses"][0]), str((endpoint.get("targetRef") or {}).get("uid") or ""))


def desired_endpoints(service: Obj, pods: list[Obj], family: str) -> dict[PortKey, tuple[list[Obj], dict[tuple[str, str], Obj]]]:
    """Per port set: the ports and the endpoints (by address and pod uid) of that family."""
    groups: dict[PortKey, tuple[list[Obj], dict[tuple[str, str], Obj]]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, True):
            continue
        ip = pod_ip(pod, family)
        if ip is None:
            continue
        ports = slice_ports(service, pod)
        endpoint = pod_endpoint(service, pod, ip)
        groups.setdefault(_port_key(ports), (ports, {}))[1][_endpoint_key(endpoint)] = endpoint
    return groups


def service_families(service: Obj) -> list[str]:
    spec = service.get("spec") or {}
    families = [str(f) for f in spec.get("ipFamilies") or []]
    if families:
        return families
    return ["IPv6" if ":" in str(spec.get("clusterIP") or "") else "IPv4"]


class StaleSliceCache(Exception):
    """The slice cache does not show this controller's last writes yet: retry shortly."""


class EndpointSliceController(ServicePodsController):
    def __init__(
        self,
        client: Client,
        *,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
        workers: int = 2,
        clock: Clock | None = None,
    ):
        super().__init__(client, name="endpointslice-controller", workers=workers, clock=clock)
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.slices = self.informer(
            "discovery.k8s.io", "v1", "endpointslices", indexers={SERVICE_INDEX: _index_by_managed_service}
        )
        self.slices.add_handler(
            on_update=lambda _old, new: self._slice_changed(new), on_delete=self._slice_changed
        )
        self.slice_client = self.client.resource("discovery.k8s.io", "v1", "endpointslices")
        self._written: dict[str, dict[str, int | None]] = {}  # service key -> slice name -> rv written (None: deleted)

    def _slice_changed(self, slice_: Obj) -> None:
        for key in _index_by_managed_service(slice_):
            if self.services.cache.get(key) is not None:
                self.queue.add(key)

    def _check_fresh(self, key: str, namespace: str) -> None:
        written = self._written.get(key)
        if not written:
            return
        for name, version in written.items():
            cached = self.slices.cache.get_by_name(namespace, name)
            if version is None:
                stale = cached is not None
            else:
                stale = cached is None or int(cached["metadata"].get("resourceVersion") or 0) < version
            if stale:
                raise StaleSliceCache(f"{key}: slice {name} not yet as written")
        del self._written[key]

    def _remember(self, key: str, name: str, written: Obj | None) -> None:
        version = int(written["metadata"]["resourceVersion"]) if written is not None else None
        self._written.setdefault(key, {})[name] = version

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        self._check_fresh(key, namespace)
        client = self.slice_client.namespace(namespace)
        existing = self.slices.cache.by_index(SERVICE_INDEX, key)
        service = self.services.cache.get(key)
        if service is None:
            for slice_ in existing:
                await self._delete(client, key, slice_)
            self._written.pop(key, None)  # nothing left to wait for
            return
        selector = service_selector(service)
        if selector is None:
            return
        pods = self.selected_pods(service, selector)
        families = service_families(service)
        for slice_ in existing:
            if slice_.get("addressType") not in families:
                await self._delete(client, key, slice_)
        for family in families:
            mine = sorted((s for s in existing if s.get("addressType") == family), key=lambda s: s["metadata"]["name"])
            await self._reconcile_family(client, key, service, family, desired_endpoints(service, pods, family), mine)

    async def _reconcile_family(
        self,
        client: ResourceClient,
        key: str,
        service: Obj,
        family: str,
        groups: dict[PortKey, tuple[list[Obj], dict[tuple[str, str], Obj]]],
        existing: list[Obj],
    ) -> None:
        labels = self._labels(service)
        unused = list(existing)
        for port_key, (ports, wanted) in sorted(groups.items()):
            plan: list[tuple[Obj | None, list[Obj]]] = []
            for slice_ in [s for s in existing if _port_key(s.get("ports") or []) == port_key]:
                kept = [wanted.pop(_endpoint_key(e)) for e in slice_.get("endpoints") or [] if _endpoint_key(e) in wanted]
                if kept:
                    plan.append((slice_, kept))
                    unused.remove(slice_)
            leftovers = [wanted[k] for k in sorted(wanted)]
            for _slice, endpoints in plan:
                room = self.max_endpoints_per_slice - len(endpoints)
                if room > 0 and leftovers:
                    endpoints.extend(leftovers[:room])
                    leftovers = leftovers[room:]
            while leftovers:
                plan.append((None, leftovers[: self.max_endpoints_per_slice]))
                leftovers = leftovers[self.max_endpoints_per_slice :]
            for target, endpoints in plan:
                await self._write(client, key, service, family, labels, ports, endpoints, target)
        if not groups:  # a Service with no endpoints keeps one empty placeholder slice
            placeholder = next((s for s in unused if not s.get("endpoints")), None)
            if placeholder is not None:
                unused.remove(placeholder)
            await self._write(client, key, service, family, labels, [], [], placeholder)
        for slice_ in unused:
            await self._delete(client, key, slice_)

    def _labels(self, service: Obj) -> dict[str, str]:
        labels = {k: v for k, v in ((service["metadata"].get("labels") or {}).items()) if k not in _RESERVED_LABELS}
        labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
        labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
        if is_headless(service):
            labels[HEADLESS_LABEL] = ""
        return labels

    async def _write(
        self,
        client: ResourceClient,
        key: str,
        service: Obj,
        family: str,
        labels: dict[str, str],
        ports: list[Obj],
        endpoints: list[Obj],
        current: Obj | None,
    ) -> None:
        meta = service["metadata"]
        owner = {
            "apiVersion": "v1",
            "kind": "Service",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        if current is None:
            body = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"generateName": f"{meta['name']}-", "labels": labels, "ownerReferences": [owner]},
                "addressType": family,
                "endpoints": endpoints,
                "ports": ports,
            }
            try:
                created = await client.create(body, field_manager=CONTROLLER_NAME)
            except StatusError as err:
                if err.code == 403:
                    return  # the namespace is terminating
                raise
            self._remember(key, created["metadata"]["name"], created)
            return
        current_meta = current["metadata"]
        if (
            (current.get("endpoints") or []) == endpoints
            and (current.get("ports") or []) == ports
            and (current_meta.get("labels") or {}) == labels
            and current_meta.get("ownerReferences") == [owner]
        ):
            return
        updated = {
            **current,
            "metadata": {**current_meta, "labels": labels, "ownerReferences": [owner]},
            "endpoints": endpoints,
            "ports": ports,
        }
        written = await client.update(updated, field_manager=CONTROLLER_NAME)
        self._remember(key, current_meta["name"], written)

    async def _delete(self, client: ResourceClient, key: str, slice_: Obj) -> None:
        meta = slice_["metadata"]
        try:
            await client.delete(meta["name"], uid=meta.get("uid") or "")
        except StatusError as err:
            if err.code not in (404, 409):
                raise
        self._remember(key, meta["name"], None)
