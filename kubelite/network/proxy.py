"""The service proxy component (kube-proxy's job, nftables mode): informers on Services,
EndpointSlices and this node's Node — and, for NetworkPolicy enforcement in the same table, on
NetworkPolicies, Pods and Namespaces; any change marks the state dirty, and one sync loop renders
the whole ruleset (rules.py, with policyrules.py's section) and applies it with a single `nft -f`
transaction. Pod and Namespace changes only count when some NetworkPolicy exists and the change
touches what a policy can see (labels, addresses, node, phase). Syncs are at
least `min_sync_interval` apart (and at least as far apart as the last sync took), so a burst of
changes coalesces into one sync; a ruleset equal to the one applied is not applied again, except
every `resync_period` (which also re-checks the host settings). A failed apply is retried after
`retry_delay` from an empty table.

Host settings (sysctl.py, routes.py) are made on start and undone on stop, with the table.

Level-triggered and stateless beyond caches: everything it holds is rebuilt from the API and
from what it applied itself. Must not write to the API (servicelb.py writes LoadBalancer status)
nor mutate informer objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock, Timer
from kubelite.client.informer import Informer
from kubelite.network import conntrack
from kubelite.network.commands import CommandError, Runner, run_command
from kubelite.network.endpoints import SERVICE_NAME_LABEL
from kubelite.network.policy import compute as compute_policies
from kubelite.network.policy import namespace_labels, pod_fingerprint, pod_ipv4s
from kubelite.network.policyrules import render_policy
from kubelite.network.routes import ServiceRoute
from kubelite.network.rules import (
    RulesConfig,
    Ruleset,
    ServiceRules,
    TableSection,
    delete_script,
    render,
    render_service,
    transaction,
)
from kubelite.network.sysctl import BRIDGE_NF_CALL_IPTABLES, IP_FORWARD, PROC_SYS, Sysctls, route_localnet

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SLICE_SERVICE_INDEX = "kubernetes.io/service-name"
NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


def index_slice_by_service(slice_: Obj) -> list[str]:
    meta = slice_.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace') or ''}/{service}"] if service else []


def node_addresses(node: Obj | None) -> tuple[str, ...]:
    if node is None:
        return ()
    found = [
        str(entry.get("address"))
        for entry in (node.get("status") or {}).get("addresses") or []
        if entry.get("type") in NODE_ADDRESS_TYPES and entry.get("address")
    ]
    return tuple(dict.fromkeys(found))


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    node_name: str = ""  # this node: its endpoints are local, its addresses serve LoadBalancers
    table: str = "kubelite"
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    bridge: str = "kubelite0"  # the pod bridge: the service CIDR route and route_localnet go there
    nodeport_addresses: tuple[str, ...] = ()  # empty: NodePorts answer on every local address
    masquerade_mark: int = 0x4000
    min_sync_interval: float = 0.05
    resync_period: float = 60.0
    retry_delay: float = 1.0
    manage_host: bool = True  # set sysctls and the service CIDR route (and undo them on stop)
    network_policy: bool = True  # enforce NetworkPolicies for this node's pods in the same table
    proc_sys: Path = PROC_SYS

    def rules_config(self) -> RulesConfig:
        return RulesConfig(
            table=self.table,
            node_name=self.node_name,
            cluster_cidr=self.cluster_cidr,
            service_cidr=self.service_cidr,
            nodeport_addresses=self.nodeport_addresses,
            masquerade_mark=self.masquerade_mark,
        )


class ServiceProxy:
    def __init__(
        self,
        client: Client,
        options: ProxyOptions | None = None,
        *,
        clock: Clock | None = None,
        runner: Runner = run_command,
    ):
        self.client = client
        self.options = options or ProxyOptions()
        self.clock: Clock = clock or RealClock()
        self.run = runner
        self.rules_config = self.options.rules_config()
        self.sysctls = Sysctls(self.options.proc_sys)
        self.route = ServiceRoute(self.options.service_cidr, self.options.bridge, runner)
        self.informers: list[Informer] = []
        self.services = self._informer("services")
        self.slices = self._informer("endpointslices", "discovery.k8s.io", {SLICE_SERVICE_INDEX: index_slice_by_service})
        self.nodes: Informer | None = None
        if self.options.node_name:
            self.nodes = Informer(
                client.resource("", "v1", "nodes"),
                field_selector=f"metadata.name={self.options.node_name}",
                clock=self.clock,
                name="service-proxy/node",
            )
            self.informers.append(self.nodes)
            self.nodes.add_handler(
                on_add=lambda _n: self.request_sync(),
                on_update=self._node_changed,
                on_delete=lambda _n: self.request_sync(),
            )
        for informer in (self.services, self.slices):
            informer.add_handler(
                on_add=lambda _o: self.request_sync(),
                on_update=lambda _old, _new: self.request_sync(),
                on_delete=lambda _o: self.request_sync(),
            )
        self.policies: Informer | None = None
        self.pods: Informer | None = None
        self.namespaces: Informer | None = None
        if self.options.network_policy:
            self._watch_policy_inputs()
        self.ruleset: Ruleset | None = None  # what is applied
        self.syncs = 0  # rulesets applied
        self.last_sync_seconds = 0.0
        self._rendered: dict[str, tuple[tuple[Any, ...], ServiceRules]] = {}
        self._policy_dirty = True
        self._policy_sections: tuple[TableSection, ...] = ()
        self._last_render: Ruleset | None = None
        self._sync_lock = asyncio.Lock()
        self._wanted = asyncio.Event()
        self._force = False
        self._host_ready = False
        self._last_start = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._timers: list[Timer] = []
        self._running = False
        self._stopped = False

    def _informer(self, resource: str, group: str = "", indexers: dict[str, Any] | None = None) -> Informer:
        version = "v1"
        if self.client.informers is not None:
            found = self.client.informers.acquire(group, version, resource, indexers=indexers)
        else:
            found = Informer(
                self.client.resource(group, version, resource),
                indexers=indexers,
                clock=self.clock,
                name=f"service-proxy/{resource}",
            )
        self.informers.append(found)
        return found

    def _node_changed(self, old: Obj, new: Obj) -> None:
        if node_addresses(old) != node_addresses(new):
            self.request_sync()

    # ------------------------------------------------------------------ NetworkPolicy inputs
    def _watch_policy_inputs(self) -> None:
        self.policies = self._informer("networkpolicies", "networking.k8s.io")
        self.pods = self._informer("pods")
        self.namespaces = self._informer("namespaces")
        self.policies.add_handler(
            on_add=lambda _o: self._policy_inputs_changed(),
            on_update=lambda _old, _new: self._policy_inputs_changed(),
            on_delete=lambda _o: self._policy_inputs_changed(),
        )
        self.pods.add_handler(on_add=self._pod_came_or_went, on_update=self._pod_changed, on_delete=self._pod_came_or_went)
        self.namespaces.add_handler(
            on_add=lambda _o: self._policy_inputs_changed(only_with_policies=True),
            on_update=self._namespace_changed,
            on_delete=lambda _o: self._policy_inputs_changed(only_with_policies=True),
        )

    def _policy_inputs_changed(self, only_with_policies: bool = False) -> None:
        if only_with_policies and not (self.policies is not None and len(self.policies.cache)):
            return
        self._policy_dirty = True
        self.request_sync()

    def _pod_came_or_went(self, pod: Obj) -> None:
        if pod_ipv4s(pod):
            self._policy_inputs_changed(only_with_policies=True)

    def _pod_changed(self, old: Obj, new: Obj) -> None:
        if pod_fingerprint(old) != pod_fingerprint(new):
            self._policy_inputs_changed(only_with_policies=True)

    def _namespace_changed(self, old: Obj, new: Obj) -> None:
        if namespace_labels(old) != namespace_labels(new):
            self._policy_inputs_changed(only_with_policies=True)

    def _refresh_policy(self) -> bool:
        """Recompute the NetworkPolicy section if its inputs changed; whether the section did."""
        if not self._policy_dirty or self.policies is None or self.pods is None or self.namespaces is None:
            return False
        self._policy_dirty = False
        model = compute_policies(
            self.policies.cache.list(), self.pods.cache.list(), self.namespaces.cache.list(), self.options.node_name
        )
        section = render_policy(model)
        sections = (section,) if section is not None else ()
        changed = sections != self._policy_sections
        self._policy_sections = sections
        return changed

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the informers, wait for their caches, make the host settings and apply the first
        ruleset (a failure there is retried by the loop), then run the sync loop."""
        if self._running:
            return
        self._running = True
        self._stopped = False
        for informer in self.informers:
            informer.start()
        for informer in self.informers:
            await informer.wait_for_sync()
        self._wanted.clear()
        try:
            await self._sync()
        except Exception as err:  # the loop retries
            self._failed(err)
        self._task = asyncio.create_task(self._loop(), name="service-proxy sync")
        self._schedule_resync()

    async def stop(self) -> None:
        """Stop syncing, remove the table, the route and the sysctl changes; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._running = False
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        informers, self.informers = self.informers, []
        for informer in informers:
            if self.client.informers is not None and informer is not self.nodes:
                await self.client.informers.release(informer)
            else:
                await informer.stop()
        try:
            await self.run(["nft", "-f", "-"], delete_script(self.options.table).encode())
        except CommandError as err:
            log.warning("service proxy: could not delete table %s: %s", self.options.table, err)
        self.ruleset = None
        if self.options.manage_host:
            await self.route.remove()
            self.sysctls.restore()
        self._host_ready = False

    # ------------------------------------------------------------------ the loop
    def request_sync(self) -> None:
        """Mark the state dirty (informer handlers call this: no I/O here)."""
        self._wanted.set()

    def _schedule_resync(self) -> None:
        def fire() -> None:
            self._timers = [t for t in self._timers if t is not timer]
            if not self._running:
                return
            self._force = True
            self._host_ready = False
            self.request_sync()
            self._schedule_resync()

        timer = self.clock.call_later(self.options.resync_period, fire)
        self._timers.append(timer)

    def _failed(self, err: Exception) -> None:
        log.warning("service proxy: sync failed (retrying in %.1fs): %s", self.options.retry_delay, err)
        self.ruleset = None  # apply the next one onto an empty table
        if self._running:
            self._timers.append(self.clock.call_later(self.options.retry_delay, self.request_sync))

    async def _loop(self) -> None:
        while True:
            await self._wanted.wait()
            spacing = max(self.options.min_sync_interval, self.last_sync_seconds)
            delay = self._last_start + spacing - self.clock.monotonic()
            if delay > 0:
                await self.clock.sleep(delay)
            self._wanted.clear()
            try:
                await self._sync()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self._failed(err)

    async def sync_now(self) -> None:
        """Render and apply at once (what the loop does), outside the loop's pacing."""
        self._wanted.clear()
        await self._sync()

    # ------------------------------------------------------------------ one sync
    async def _sync(self) -> None:
        async with self._sync_lock:
            await self._sync_locked()

    async def _sync_locked(self) -> None:
        self._last_start = self.clock.monotonic()
        started = time.perf_counter()
        force, self._force = self._force, False
        if self.options.manage_host and not self._host_ready:
            await self._prepare_host()
        ruleset = self.render()
        previous = self.ruleset
        if not force and previous is not None and previous.text == ruleset.text:
            self.last_sync_seconds = time.perf_counter() - started
            return
        try:
            await self.run(["nft", "-f", "-"], transaction(ruleset, previous).encode())
        except CommandError:
            if previous is None:
                raise
            log.info("service proxy: incremental swap failed; rebuilding table %s", ruleset.table)
            await self.run(["nft", "-f", "-"], transaction(ruleset, None).encode())
            previous = None
        self.ruleset = ruleset
        self.syncs += 1
        await conntrack.clear_stale_udp(previous, ruleset, self.run)
        self.last_sync_seconds = time.perf_counter() - started

    async def _prepare_host(self) -> None:
        self.sysctls.ensure(IP_FORWARD, "1")
        self.sysctls.ensure(BRIDGE_NF_CALL_IPTABLES, "1")  # absent without br_netfilter: fine
        routed = await self.route.ensure()
        localnet = self.sysctls.ensure(route_localnet(self.options.bridge), "1")
        self._host_ready = routed and localnet
        if not self._host_ready:
            log.info("service proxy: bridge %s not ready yet (route %s, route_localnet %s)", self.options.bridge, routed, localnet)

    def render(self) -> Ruleset:
        """The ruleset for what the caches hold now (per-Service parts are reused while the Service,
        its slices and this node's addresses are unchanged)."""
        node = self.nodes.cache.get(self.options.node_name) if self.nodes is not None else None
        addresses = node_addresses(node)
        parts: list[ServiceRules] = []
        rendered: dict[str, tuple[tuple[Any, ...], ServiceRules]] = {}
        unchanged = True
        for key in sorted(self.services.cache.list_keys()):
            service = self.services.cache.get(key)
            if service is None:
                continue
            slices = self.slices.cache.by_index(SLICE_SERVICE_INDEX, key)
            version = (_version(service), tuple(_version(s) for s in slices), addresses)
            cached = self._rendered.get(key)
            if cached is not None and cached[0] == version:
                part = cached[1]
            else:
                part = render_service(service, slices, self.rules_config, addresses)
                unchanged = False
            rendered[key] = (version, part)
            parts.append(part)
        policy_changed = self._refresh_policy()
        if unchanged and not policy_changed and self._last_render is not None and len(rendered) == len(self._rendered):
            return self._last_render  # every Service (and the policy section) as last time: the same table
        self._rendered = rendered
        self._last_render = render(parts, self.rules_config, self._policy_sections)
        return self._last_render
