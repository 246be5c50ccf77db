"""The Endpoints controller, as upstream's (pkg/controller/endpoint), and what it shares with the
EndpointSlice controller: which pods a Service selects, which of them count (an IP, not finished,
not deleting unless asked), readiness, target ports resolved by number or by container port name,
and the address of a pod (IP of the Service's family, nodeName, hostname, targetRef).

For each Service with a selector, an Endpoints of the same name lists ready pods under
`addresses` and the others under `notReadyAddresses` (all under `addresses` with
publishNotReadyAddresses), grouped into subsets by identical port sets; a headless Service
without ports gets its addresses with no ports. At most 1000 addresses are kept (then annotated
`endpoints.kubernetes.io/over-capacity: truncated`). Services without a selector, ExternalName
Services and `default/kubernetes` (the API server's) are left alone; an Endpoints this controller
manages goes when its Service goes.

Must not write EndpointSlices (endpointslice.py does) nor touch Endpoints it does not manage.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import key_of, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller

Obj = dict[str, Any]

MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
MAX_ADDRESSES = 1000


# ---------------------------------------------------------------------- shared with endpointslice.py
def service_selector(service: Obj) -> dict[str, str] | None:
    """The selector of a Service this family of controllers manages, else None."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    if (meta.get("namespace"), meta.get("name")) == ("default", "kubernetes"):
        return None
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    return dict(selector) if selector else None


def selects(selector: dict[str, str], pod: Obj) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def pod_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """upstream endpointsliceutil.ShouldPodBeInEndpoints."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    if not include_terminating and (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    restart = (pod.get("spec") or {}).get("restartPolicy")
    phase = status.get("phase")
    if restart == "Never":
        return phase not in ("Failed", "Succeeded")
    if restart == "OnFailure":
        return phase != "Succeeded"
    return True


def service_family(service: Obj) -> str:
    """"IPv4" or "IPv6": the Service's primary family."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        return str(families[0])
    return "IPv6" if ":" in str(spec.get("clusterIP") or "") else "IPv4"


def pod_ip(pod: Obj, family: str) -> str | None:
    """The pod's IP of that family, if it has one."""
    status = pod.get("status") or {}
    candidates = [entry.get("ip") for entry in status.get("podIPs") or []] or [status.get("podIP")]
    for ip in candidates:
        if ip and (":" in ip) == (family == "IPv6"):
            return str(ip)
    return None


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """upstream podutil.FindPort: a number as is; a name from the containers' ports with that
    name and the Service port's protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def target_ref(pod: Obj) -> Obj:
    meta = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid")}


def pod_hostname(pod: Obj, service: Obj) -> str | None:
    """The pod's hostname when it sits in this Service's subdomain."""
    spec = pod.get("spec") or {}
    service_meta = service.get("metadata") or {}
    if (
        spec.get("hostname")
        and spec.get("subdomain") == service_meta.get("name")
        and (pod.get("metadata") or {}).get("namespace") == service_meta.get("namespace")
    ):
        return str(spec["hostname"])
    return None


def _port_key(port: Obj) -> tuple[str, int, str, str]:
    return (str(port.get("name") or ""), int(port["port"]), str(port["protocol"]), str(port.get("appProtocol") or ""))


class ServicePodsController(Controller):
    """Informers over Services and Pods; a pod change queues the Services (keys `ns/name`) that
    select it, before or after the change."""

    def __init__(self, client: Client, *, name: str, workers: int, clock: Clock | None):
        super().__init__(client, name=name, workers=workers, clock=clock)
        self.services = self.informer("", "v1", "services")
        self.pods = self.informer("", "v1", "pods")
        self.services.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.pods.add_handler(self._pod_changed, lambda old, new: self._pod_changed(new, old), self._pod_changed)

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        for service in self.services.cache.list_namespace(namespace):
            selector = service_selector(service)
            if selector and (selects(selector, pod) or (old is not None and selects(selector, old))):
                self.enqueue(service)

    def selected_pods(self, service: Obj, selector: dict[str, str]) -> list[Obj]:
        namespace = (service.get("metadata") or {}).get("namespace") or ""
        return [pod for pod in self.pods.cache.list_namespace(namespace) if selects(selector, pod)]


# ---------------------------------------------------------------------- the Endpoints controller
def desired_subsets(service: Obj, pods: list[Obj]) -> tuple[list[Obj], bool]:
    """The subsets for `service` over the pods it selects, and whether they were truncated."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    family = service_family(service)
    service_ports = spec.get("ports") or []
    # address identity -> (address, ready, ports)
    found: dict[tuple[str, str], tuple[Obj, bool, list[Obj]]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        ip = pod_ip(pod, family)
        if ip is None:
            continue
        address: Obj = {"ip": ip}
        hostname = pod_hostname(pod, service)
        if hostname:
            address["hostname"] = hostname
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            address["nodeName"] = node
        address["targetRef"] = target_ref(pod)
        ready = tolerate_unready or pod_ready(pod)
        ports: list[Obj] = []
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                ports.append(endpoint_port(service_port, number))
        if not ports and not (not service_ports and is_headless(service)):
            continue
        found[(ip, str(address["targetRef"]["uid"] or ""))] = (address, ready, ports)
    truncated = len(found) > MAX_ADDRESSES
    keys = sorted(found)
    if truncated:  # keep ready addresses first, as upstream
        keys = sorted(keys, key=lambda k: not found[k][1])[:MAX_ADDRESSES]
    groups: dict[tuple[tuple[str, int, str, str], ...], Obj] = {}
    for key in keys:
        address, ready, ports = found[key]
        port_keys = tuple(sorted({_port_key(p) for p in ports}))
        subset = groups.setdefault(port_keys, {"ports": sorted(ports, key=_port_key)})
        subset.setdefault("addresses" if ready else "notReadyAddresses", []).append(address)
    subsets = []
    for _ports, subset in sorted(groups.items()):
        if not subset["ports"]:
            del subset["ports"]
        for field in ("addresses", "notReadyAddresses"):
            if field in subset:
                subset[field].sort(key=lambda a: (a["ip"], a["targetRef"].get("uid") or ""))
        subsets.append(subset)
    return subsets, truncated


class EndpointsController(ServicePodsController):
    def __init__(self, client: Client, *, workers: int = 2, clock: Clock | None = None):
        super().__init__(client, name="endpoint-controller", workers=workers, clock=clock)
        self.endpoints = self.informer("", "v1", "endpoints")
        self.endpoints.add_handler(on_delete=self._endpoints_deleted)
        self.endpoints_client = self.client.resource("", "v1", "endpoints")

    def _endpoints_deleted(self, endpoints: Obj) -> None:
        meta = endpoints.get("metadata") or {}
        key = key_of(meta.get("namespace") or "", meta.get("name") or "")
        if self.services.cache.get(key) is not None:
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        client = self.endpoints_client.namespace(namespace)
        service = self.services.cache.get(key)
        current = self.endpoints.cache.get(key)
        if service is None:
            if current is not None and ((current["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME):
                try:
                    await client.delete(name, uid=current["metadata"].get("uid") or "")
                except StatusError as err:
                    if err.code not in (404, 409):
                        raise
            return
        selector = service_selector(service)
        if selector is None:
            return
        subsets, truncated = desired_subsets(service, self.selected_pods(service, selector))
        labels = dict(service["metadata"].get("labels") or {})
        labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
        if is_headless(service):
            labels[HEADLESS_LABEL] = ""
        else:
            labels.pop(HEADLESS_LABEL, None)
        if current is None:
            annotations = {OVER_CAPACITY_ANNOTATION: "truncated"} if truncated else {}
            meta: Obj = {"name": name, "labels": labels}
            if annotations:
                meta["annotations"] = annotations
            body: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
            if subsets:
                body["subsets"] = subsets
            try:
                await client.create(body, field_manager=CONTROLLER_NAME)
            except StatusError as err:
                if err.code != 403:  # 403: the namespace is terminating; 409: retried once the cache shows it
                    raise
            return
        annotations = dict(current["metadata"].get("annotations") or {})
        if truncated:
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        if (
            (current.get("subsets") or []) == subsets
            and (current["metadata"].get("labels") or {}) == labels
            and (current["metadata"].get("annotations") or {}) == annotations
        ):
            return
        updated: Obj = {**current, "metadata": {**current["metadata"], "labels": labels, "annotations": annotations}}
        if subsets:
            updated["subsets"] = subsets
        else:
            updated.pop("subsets", None)
        await client.update(updated, field_manager=CONTROLLER_NAME)
