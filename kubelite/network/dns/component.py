"""The cluster DNS component: informers on Services, EndpointSlices, Pods and Namespaces keep an
answer table (table.py) in step with the API, and a DNS server (server.py) answers from it,
forwarding other names to the upstream resolvers (by default the nameservers of the host's
/etc/resolv.conf, never this server itself).

It runs on the generic controller loop (client/controller.py). Handlers only enqueue keys —
`service:ns/name` for a Service or any of its slices, `pod:ns/name` when a pod's IPs or phase
change, `namespace:name` — and one worker rebuilds just that entry of the table. `start()` returns
once the caches are synced, the table holds all of them (before_workers) and the server listens.

Level-triggered and stateless beyond caches. Must not write to the API (service.py writes the
kube-dns Service) nor mutate informer objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.controller import Controller
from kubelite.network.dns import resolvconf
from kubelite.network.dns.forward import DEFAULT_TIMEOUT, Forwarder, parse_upstream
from kubelite.network.dns.records import pod_addresses, service_records
from kubelite.network.dns.server import DNSServer
from kubelite.network.dns.table import DEFAULT_TTL, AnswerTable
from kubelite.network.proxy import SLICE_SERVICE_INDEX, index_slice_by_service

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DNSOptions:
    zone: str = "cluster.local"
    host: str = "10.43.0.10"  # where the server listens
    port: int = 53  # 0: any free port (tests)
    dns_ip: str = "10.43.0.10"  # the kube-dns Service IP, answered for ns.dns.<zone>
    upstreams: tuple[str, ...] | None = None  # None: the nameservers of `resolv_conf`
    resolv_conf: str = "/etc/resolv.conf"
    forward_timeout: float = DEFAULT_TIMEOUT
    pod_mode: str = "verified"  # or "insecure" (any a-b-c-d answers) or "disabled"
    ttl: int = DEFAULT_TTL
    serve: bool = True  # False: keep the table only (no sockets)


def _pod_dns_state(pod: Obj) -> tuple[Any, ...]:
    status = pod.get("status") or {}
    return (status.get("podIP"), str(status.get("podIPs")), status.get("phase"))


class ClusterDNS(Controller):
    def __init__(self, client: Client, options: DNSOptions | None = None, *, clock: Clock | None = None):
        super().__init__(client, name="cluster-dns", workers=1, clock=clock)
        self.options = options or DNSOptions()
        self.table = AnswerTable(
            self.options.zone, dns_ip=self.options.dns_ip, pod_mode=self.options.pod_mode, ttl=self.options.ttl
        )
        self.server: DNSServer | None = None
        self.services = self.informer("", "v1", "services")
        self.slices = self.informer(
            "discovery.k8s.io", "v1", "endpointslices", indexers={SLICE_SERVICE_INDEX: index_slice_by_service}
        )
        self.pods = self.informer("", "v1", "pods")
        self.namespaces = self.informer("", "v1", "namespaces")
        self.services.add_handler(
            on_add=self._service_changed,
            on_update=lambda _old, new: self._service_changed(new),
            on_delete=self._service_changed,
        )
        self.slices.add_handler(
            on_add=self._slice_changed,
            on_update=self._slice_updated,
            on_delete=self._slice_changed,
        )
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        self.namespaces.add_handler(on_add=self._namespace_changed, on_delete=self._namespace_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _service_changed(self, service: Obj) -> None:
        self.queue.add("service:" + object_key(service))

    def _slice_changed(self, slice_: Obj) -> None:
        for key in index_slice_by_service(slice_):
            self.queue.add("service:" + key)

    def _slice_updated(self, old: Obj, new: Obj) -> None:
        self._slice_changed(old)
        self._slice_changed(new)

    def _pod_changed(self, pod: Obj) -> None:
        self.queue.add("pod:" + object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _pod_dns_state(old) != _pod_dns_state(new):
            self._pod_changed(new)

    def _namespace_changed(self, namespace: Obj) -> None:
        self.queue.add("namespace:" + object_key(namespace))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        """Bring the table's entry for one key (`kind:key`) in line with the caches."""
        kind, _, key = key.partition(":")
        if kind == "service":
            service = self.services.cache.get(key)
            if service is None:
                self.table.set_service(key, None)
            else:
                slices = self.slices.cache.by_index(SLICE_SERVICE_INDEX, key)
                self.table.set_service(key, service_records(service, slices, self.table.zone))
        elif kind == "pod":
            pod = self.pods.cache.get(key)
            self.table.set_pod(key, split_key(key)[0], pod_addresses(pod) if pod is not None else ())
        elif kind == "namespace":
            self.table.set_namespace(key, self.namespaces.cache.get(key) is not None)
        self.table.serial = int(self.clock.time())

    # ------------------------------------------------------------------ lifecycle
    def upstreams(self) -> list[str]:
        """The resolvers other names go to: the given ones, else the host's resolv.conf nameservers,
        without this server's own address (a loop)."""
        if self.options.upstreams is not None:
            found = list(self.options.upstreams)
        else:
            try:
                text = Path(self.options.resolv_conf).read_text()
            except OSError as err:
                log.warning("cluster-dns: cannot read %s: %s", self.options.resolv_conf, err)
                text = ""
            found = list(resolvconf.parse(text).nameservers)
        own = {(self.options.host, self.options.port), (self.options.dns_ip, 53)}
        return [upstream for upstream in found if parse_upstream(upstream) not in own]

    async def before_workers(self) -> None:
        """Fill the table with everything listed so far, then listen: `start()` returns once
        queries are answered."""
        await self.sync_queued()
        if self.options.serve:
            upstreams = self.upstreams()
            forwarder = Forwarder(upstreams, timeout=self.options.forward_timeout) if upstreams else None
            server = DNSServer(self.table, host=self.options.host, port=self.options.port, forwarder=forwarder)
            await server.start()
            self.server = server

    async def stop(self) -> None:
        """Close the server, then stop the worker and let the informers go; idempotent."""
        server, self.server = self.server, None
        if server is not None:
            await server.stop()
        await super().stop()

    @property
    def port(self) -> int:
        """The port the server listens on (the chosen one when asked for 0)."""
        return self.server.port if self.server is not None else self.options.port
