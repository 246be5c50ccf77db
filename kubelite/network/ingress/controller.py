"""The ingress controller component: informers on Ingresses, IngressClasses, Services,
EndpointSlices, Secrets and Nodes; any change that can alter the served configuration queues one
config sync, `debounce` seconds later (a burst of changes makes one sync). A config sync renders
nginx.conf from the caches, writes the TLS files, checks the new file with `nginx -t`, and only
then puts it in place and reloads nginx; an unchanged rendering reloads nothing.

When `nginx -t` rejects the rendering, the Ingresses its error points at (config.offenders) are
replaced by the last version of them nginx accepted (or left out if none was), a Warning event
`Rejected` is recorded on each, and the rest of the configuration goes ahead; an error that points
at no Ingress keeps the configuration that is serving and retries with backoff. So a bad Ingress
never takes down what was serving.

Ingresses we serve get status.loadBalancer.ingress set to the node address(es) (the explicit
`status_addresses`, else this node's ExternalIPs or InternalIPs, else those of every Ready node).

The last accepted version of each Ingress is the only state kept besides caches; after a restart
a still-invalid Ingress is left out until fixed. Must not mutate informer objects, nor write to
the API anything but Ingress status, Events and (ensure_default_ingress_class) the IngressClass.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.controller import Controller
from kubelite.network.ingress.classes import CONTROLLER_NAME, ClassChoice, choose_classes
from kubelite.network.ingress.config import (
    CERTS_DIR,
    CONF_FILE,
    DEFAULT_CERT_FILE,
    PID_FILE,
    TEMP_DIR,
    NginxOptions,
    RenderedConfig,
    offenders,
    render,
)
from kubelite.network.ingress.model import (
    SERVICE_NAME_LABEL,
    IngressSource,
    Lookup,
    build_routes,
    ingress_source,
    references,
)
from kubelite.network.ingress.process import NginxProcess
from kubelite.network.ingress.tls import ensure_fake_certificate, write_private
from kubelite.network.servicelb import node_lb_addresses

log = logging.getLogger(__name__)

Obj = dict[str, Any]

COMPONENT = "ingress-nginx-controller"
FIELD_MANAGER = "ingress-nginx-controller"
CONFIG_KEY = ""  # the queue key of a config sync (Ingress keys are never empty)
SLICE_BY_SERVICE = "ingress/service"
MAX_REJECTION_ROUNDS = 8
IP_FAMILIES = {"IPv4", "IPv6"}


@dataclass(frozen=True, slots=True)
class IngressOptions:
    prefix: Path  # nginx's directory (conf/, certs/, logs/, tmp/), e.g. <data-dir>/ingress-nginx
    http_port: int = 80
    https_port: int = 443  # 0: no HTTPS
    listen_addresses: tuple[str, ...] = ()  # empty: every IPv4 address
    node_name: str = ""  # this node: its addresses go into Ingress status
    status_addresses: tuple[str, ...] = ()  # explicit status addresses (win over node_name)
    controller_name: str = CONTROLLER_NAME
    debounce: float = 0.1
    worker_processes: str = "auto"
    access_log: bool = False
    nginx_binary: str = "nginx"

    def nginx_options(self) -> NginxOptions:
        return NginxOptions(
            prefix=str(self.prefix),
            http_port=self.http_port,
            https_port=self.https_port,
            listen_addresses=self.listen_addresses,
            worker_processes=self.worker_processes,
            access_log=self.access_log,
        )


def index_slice_by_service(slice_: Obj) -> list[str]:
    meta = slice_.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace') or ''}/{service}"] if service else []


def _ready(node: Obj) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _address_entry(address: str) -> Obj:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"hostname": address}
    return {"ip": address}


_LOG_PREFIX = re.compile(r"^.*?\[(?:emerg|alert|crit)\] (?:\d+#\d+: )?")


def _first_error(output: str) -> str:
    """nginx's first complaint, without its timestamp and pid prefix."""
    for line in output.splitlines():
        found = _LOG_PREFIX.match(line)
        if found:
            return line[found.end() :].strip()
    return output.splitlines()[0] if output else "nginx -t failed"


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _on_new(handler: Callable[[Obj], None]) -> Callable[[Obj, Obj], None]:
    """An on_update handler calling `handler` with the new object."""
    return lambda _old, new: handler(new)


class ConfigRejected(Exception):
    """nginx refused a rendering and no Ingress could be blamed for it."""


class IngressController(Controller):
    """On the generic controller loop (client/controller.py): the key CONFIG_KEY is a config
    sync, any other key an Ingress whose status to sync."""

    def __init__(self, client: Client, options: IngressOptions, *, clock: Clock | None = None, workers: int = 2):
        super().__init__(client, name="ingress-nginx", workers=workers, clock=clock)
        self.options = options
        self.nginx_options = options.nginx_options()
        self.conf_path = options.prefix / CONF_FILE
        self.nginx = NginxProcess(options.prefix, self.conf_path, options.prefix / PID_FILE, options.nginx_binary)
        self.ingress_client = client.resource("networking.k8s.io", "v1", "ingresses")
        self.event_client = client.resource("", "v1", "events")
        self.ingresses = self.informer("networking.k8s.io", "v1", "ingresses")
        self.classes = self.informer("networking.k8s.io", "v1", "ingressclasses")
        self.services = self.informer("", "v1", "services")
        self.slices = self.informer("discovery.k8s.io", "v1", "endpointslices", indexers={SLICE_BY_SERVICE: index_slice_by_service})
        self.secrets = self.informer("", "v1", "secrets")
        # only this node when it is named (its addresses go into status), else every node
        node_selector = f"metadata.name={options.node_name}" if options.node_name else ""
        self.nodes = self.informer("", "v1", "nodes", field_selector=node_selector)
        self.ingresses.add_handler(self._ingress_changed, self._ingress_updated, self._ingress_gone)
        self.classes.add_handler(self._classes_changed, lambda _old, _new: self._classes_changed(_new), self._classes_changed)
        for informer, referenced in ((self.services, "services"), (self.slices, "slices"), (self.secrets, "secrets")):
            handler = self._reference_handler(referenced)
            informer.add_handler(handler, _on_new(handler), handler)
        self.nodes.add_handler(self._nodes_changed, self._node_updated, self._nodes_changed)
        self.applied: RenderedConfig | None = None  # what nginx serves
        self.configs_served = 0  # configurations handed to nginx (its start, then each reload)
        self._nginx_started = asyncio.Event()
        self._sync_lock = asyncio.Lock()
        self._accepted: dict[str, IngressSource] = {}  # last version nginx accepted, per Ingress
        self._referenced: dict[str, set[str]] = {"services": set(), "slices": set(), "secrets": set()}
        self._reported: dict[str, tuple[str, ...]] = {}  # Ingress key -> last event recorded about it

    # ------------------------------------------------------------------ events (enqueue only)
    def request_config_sync(self) -> None:
        self.queue.add_after(CONFIG_KEY, self.options.debounce)

    def _ingress_changed(self, ingress: Obj) -> None:
        self.request_config_sync()
        self.queue.add(object_key(ingress))

    def _ingress_updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec") or (old.get("metadata") or {}).get("annotations") != (
            new.get("metadata") or {}
        ).get("annotations"):
            self.request_config_sync()  # not for a change of status alone (our own writes)
        self.queue.add(object_key(new))

    def _ingress_gone(self, ingress: Obj) -> None:
        self.request_config_sync()

    def _classes_changed(self, _ingress_class: Obj) -> None:
        self.request_config_sync()
        self._all_statuses()

    def _reference_handler(self, referenced: str) -> Callable[[Obj], None]:
        def changed(obj: Obj) -> None:
            meta = obj.get("metadata") or {}
            if referenced == "slices":
                name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or ""
            else:
                name = meta.get("name") or ""
            if f"{meta.get('namespace') or ''}/{name}" in self._referenced[referenced]:
                self.request_config_sync()

        return changed

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if _ready(old) != _ready(new) or (old.get("status") or {}).get("addresses") != (new.get("status") or {}).get(
            "addresses"
        ):
            self._all_statuses()

    def _nodes_changed(self, _node: Obj) -> None:
        self._all_statuses()

    def _all_statuses(self) -> None:
        for key in self.ingresses.cache.list_keys():
            self.queue.add(key)

    # ------------------------------------------------------------------ lifecycle
    async def before_workers(self) -> None:
        """With the caches synced: prepare nginx's directory, serve the first configuration
        (starting nginx) and queue every Ingress's status; the workers run after this."""
        self._prepare_prefix()
        try:
            await self.sync_config()
        except Exception as err:  # retried by the workers
            log.warning("ingress: first configuration failed (retrying): %s", err)
            self.queue.add_rate_limited(CONFIG_KEY)
        self._all_statuses()
        self._tasks.append(asyncio.create_task(self._watch_nginx(), name="ingress nginx watch"))

    async def sync(self, key: str) -> None:
        if key == CONFIG_KEY:
            await self.sync_config()
        else:
            await self.sync_status(key)

    async def stop(self) -> None:
        """Stop the workers and the informers, then nginx (by its PID); idempotent."""
        await super().stop()
        await self.nginx.stop()

    def _prepare_prefix(self) -> None:
        prefix = self.options.prefix
        for directory in ("conf", "logs", TEMP_DIR):
            (prefix / directory).mkdir(parents=True, exist_ok=True)
        (prefix / CERTS_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(prefix / CERTS_DIR, 0o700)
        ensure_fake_certificate(prefix / DEFAULT_CERT_FILE)

    async def _watch_nginx(self) -> None:
        """Bring nginx back (through a config sync) when its master dies under us."""
        while self._running:
            await self._nginx_started.wait()
            self._nginx_started.clear()
            status = await self.nginx.wait()
            if self._running:
                log.warning("ingress: nginx exited with status %s; starting it again", status)
                self.queue.add_rate_limited(CONFIG_KEY)

    # ------------------------------------------------------------------ configuration
    def class_choice(self) -> ClassChoice:
        return choose_classes(self.classes.cache.list(), self.options.controller_name)

    def owned_ingresses(self) -> list[Obj]:
        choice = self.class_choice()
        return [ingress for ingress in self.ingresses.cache.list() if choice.claims(ingress)]

    def _lookup(self) -> Lookup:
        return Lookup(
            service=self.services.cache.get_by_name,
            slices=lambda namespace, name: self.slices.cache.by_index(SLICE_BY_SERVICE, f"{namespace}/{name}"),
        )

    async def sync_config(self) -> None:
        """Render, test, install and reload (see the module docstring); one at a time."""
        async with self._sync_lock:
            await self._sync_config()

    async def _sync_config(self) -> None:
        current = {source.key: source for source in self._sources(self.owned_ingresses())}
        self._note_references([*current.values(), *self._accepted.values()])
        rejected: dict[str, str] = {}  # key -> nginx's complaint
        dropped: set[str] = set()  # rejected, and its last accepted version too (or it had none)
        lookup = self._lookup()
        for _round in range(MAX_REJECTION_ROUNDS):
            used = self._choose_sources(current, rejected, dropped)
            routes = build_routes(used, lookup)
            rendered = render(routes, self.nginx_options)
            if self.applied is not None and rendered.text == self.applied.text and self.nginx.running:
                break
            self._write_tls_files(rendered)
            candidate = self.conf_path.with_name(self.conf_path.name + ".new")
            candidate.write_text(rendered.text)
            ok, output = await self.nginx.test(candidate)
            if ok:
                os.replace(candidate, self.conf_path)
                await self._serve(rendered)
                break
            blamed = offenders(rendered, output, str(candidate))
            if not blamed - dropped:
                await self._unattributable(output)
                return
            for key in blamed:
                if key in rejected or key not in self._accepted:
                    dropped.add(key)
                rejected.setdefault(key, _first_error(output))
        else:
            raise ConfigRejected("too many rejected Ingresses in one sync")
        await self._remember(current, rejected, dropped)

    def _note_references(self, sources: Iterable[IngressSource]) -> None:
        """What Services (and their slices) and Secrets matter from now on: those named by the
        Ingresses we serve or hold back, in their current and their served versions."""
        services: set[str] = set()
        secrets: set[str] = set()
        for source in sources:
            found_services, found_secrets = references(source.ingress)
            services |= found_services
            secrets |= found_secrets
        self._referenced = {"services": services, "slices": services, "secrets": secrets}

    def _sources(self, ingresses: Iterable[Obj]) -> list[IngressSource]:
        return [ingress_source(ingress, self.secrets.cache.get_by_name) for ingress in ingresses]

    def _choose_sources(
        self, current: dict[str, IngressSource], rejected: dict[str, str], dropped: set[str]
    ) -> list[IngressSource]:
        chosen: list[IngressSource] = []
        for key, source in current.items():
            if key in dropped:
                continue
            chosen.append(self._accepted[key] if key in rejected else source)
        return chosen

    async def _unattributable(self, output: str) -> None:
        if not self.nginx.running:
            # serve at least the empty configuration (404 everywhere) while this is retried
            empty = render(build_routes([], self._lookup()), self.nginx_options)
            self.conf_path.write_text(empty.text)
            await self._serve(empty)
        raise ConfigRejected(f"nginx rejected the configuration: {_first_error(output)}")

    def _write_tls_files(self, rendered: RenderedConfig) -> None:
        for relative, content in rendered.files.items():
            path = self.options.prefix / relative
            with contextlib.suppress(OSError):
                if path.read_bytes() == content:
                    continue
            write_private(path, content)

    async def _serve(self, rendered: RenderedConfig) -> None:
        if self.nginx.running:
            self.nginx.reload()
        else:
            await self.nginx.start()
            self._nginx_started.set()
        self.applied = rendered
        self.configs_served += 1
        self._remove_stale_tls_files(rendered)

    def _remove_stale_tls_files(self, rendered: RenderedConfig) -> None:
        keep = {self.options.prefix / name for name in rendered.files} | {self.options.prefix / DEFAULT_CERT_FILE}
        for path in (self.options.prefix / CERTS_DIR).iterdir():
            if path not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()

    async def _remember(self, current: dict[str, IngressSource], rejected: dict[str, str], dropped: set[str]) -> None:
        for key in [key for key in self._accepted if key not in current]:
            del self._accepted[key]
            self._reported.pop(key, None)
        for key, source in current.items():
            meta = source.ingress.get("metadata") or {}
            generation = (str(meta.get("uid") or ""), str(meta.get("generation") or ""))
            if key in rejected:
                serving = "not serving it" if key in dropped else "serving its last accepted version"
                message = f"nginx rejected the configuration of this Ingress ({serving}): {rejected[key]}"
                await self._report(source.ingress, ("Rejected", *generation, message), "Warning", "Rejected", message)
                continue
            self._accepted[key] = source
            await self._report(source.ingress, ("Sync", *generation), "Normal", "Sync", "Scheduled for sync")

    async def _report(self, ingress: Obj, identity: tuple[str, ...], event_type: str, reason: str, message: str) -> None:
        key = object_key(ingress)
        if self._reported.get(key) == identity:
            return
        self._reported[key] = identity
        await self._record_event(ingress, event_type, reason, message)

    async def _record_event(self, ingress: Obj, event_type: str, reason: str, message: str) -> None:
        meta = ingress.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        now = _rfc3339(self.clock.time())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', '')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "namespace": namespace,
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": message,
            "source": {"component": COMPONENT, **({"host": self.options.node_name} if self.options.node_name else {})},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.options.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.event_client.namespace(namespace).create(event)
        except StatusError as err:
            log.info("ingress: recording event %s on %s/%s: %s", reason, namespace, meta.get("name", ""), err)

    # ------------------------------------------------------------------ status
    def status_addresses(self) -> list[str]:
        if self.options.status_addresses:
            return list(dict.fromkeys(self.options.status_addresses))
        nodes = self.nodes.cache.list()
        if self.options.node_name:
            found = [a for node in nodes for a in node_lb_addresses(node, IP_FAMILIES)]
        else:
            found = [a for node in nodes if _ready(node) for a in node_lb_addresses(node, IP_FAMILIES)]
        return sorted(set(found))

    async def sync_status(self, key: str) -> None:
        ingress = self.ingresses.cache.get(key)
        if ingress is None or not self.class_choice().claims(ingress):
            return
        wanted = [_address_entry(address) for address in self.status_addresses()]
        current = (((ingress.get("status") or {}).get("loadBalancer")) or {}).get("ingress") or []
        if current == wanted:
            return
        namespace, _name = split_key(key)
        status = dict(ingress.get("status") or {})
        status["loadBalancer"] = {"ingress": wanted} if wanted else {}
        await self.ingress_client.namespace(namespace).update_status({**ingress, "status": status}, field_manager=FIELD_MANAGER)
