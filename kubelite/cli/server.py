"""`kubelite server`: wires storage, registry and the HTTPS API server together, writes the admin
kubeconfig, prints `kubelite ready`, and stops cleanly on SIGTERM/SIGINT.

Must hold no API logic of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kubelite.apiserver import metricsapi
from kubelite.apiserver.app import APIServer, ServerInfo, server_ssl_context
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.bootstrap import bootstrap, host_address
from kubelite.apiserver.bootstraptokens import BootstrapTokenAuthenticator
from kubelite.apiserver.certs import ClusterPKI, ensure_pki, issue_serving_certificate
from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.apiserver.kubeletclient import KubeletClient
from kubelite.apiserver.metricsscraper import MetricsScraper
from kubelite.apiserver.tokens import TokenIssuer, load_or_create_key
from kubelite.cli import nodeparts
from kubelite.cli.controlplane import ControlPlane, ControlPlaneOptions
from kubelite.cli.gctuning import freeze_startup_objects, tune_for_server
from kubelite.cli.nodeparts import NodeSettings
from kubelite.client.client import Client
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from kubelite.schema.builtins import default_catalogue
from kubelite.schema.definitions import Definitions
from kubelite.storage.factory import open_backend

log = logging.getLogger("kubelite")


def default_data_dir() -> Path:
    env = os.environ.get("KUBELITE_DATA_DIR")
    if env:
        return Path(env)
    return Path("/var/lib/kubelite") if os.geteuid() == 0 else Path.home() / ".kubelite"


@dataclass
class ServerOptions:
    data_dir: Path
    https_port: int = 6443
    bind_address: str = "127.0.0.1"
    datastore: str = "sqlite"
    disable_agent: bool = False
    node_name: str = ""
    hollow_nodes: int = 0
    controllers: bool = True
    scheduler: bool = True
    kubelet_port: int = 10250
    reset: bool = False  # remove this node's pods, network and cgroups, then exit
    # hidden: a node network/cgroup of its own (tests run agents next to each other's leftovers)
    pod_cidr: str = "10.42.0.0/24"
    bridge: str = "kubelite0"
    cgroup_parent: str = "/kubelite"
    netns_prefix: str = "kubelite-"
    runtime: str = "auto"  # hidden: auto (OCI where the machine allows it, else process), oci or process
    private_registry: Path | None = None  # registries.yaml (k3s format) for the node's pulls
    proxy_table: str = "kubelite"  # hidden: the service proxy's nftables table
    ingress_http_port: int = 80  # hidden: 0 runs no ingress controller
    ingress_https_port: int = 443
    metric_resolution: float = 15.0  # hidden: seconds between resource metrics scrapes (metrics.k8s.io)
    cluster_cidr: str = "10.42.0.0/16"  # node IPAM gives each node a /node_cidr_mask of it
    node_cidr_mask: int = 24  # hidden


def node_settings(opts: ServerOptions) -> NodeSettings:
    """This server's own node: it runs the cluster's DNS, ServiceLB and ingress too."""
    return NodeSettings(
        data_dir=opts.data_dir,
        node_name=opts.node_name or socket.gethostname().lower(),
        node_ip=host_address(),
        kubelet_port=opts.kubelet_port,
        pod_cidr=opts.pod_cidr,
        bridge=opts.bridge,
        cgroup_parent=opts.cgroup_parent,
        netns_prefix=opts.netns_prefix,
        proxy_table=opts.proxy_table,
        ingress_http_port=opts.ingress_http_port,
        ingress_https_port=opts.ingress_https_port,
        cluster_cidr=opts.cluster_cidr,
        runtime=opts.runtime,
        private_registry=opts.private_registry,
    )


def local_node_options(opts: ServerOptions, pki: ClusterPKI) -> Any:
    """The LocalNodeOptions of this server's node (certificates issued from the cluster CA)."""
    settings = node_settings(opts)
    tls = opts.data_dir / "tls"
    cert, key = tls / "kubelet.crt", tls / "kubelet.key"
    names = [settings.node_name, "localhost"]
    issue_serving_certificate(pki, f"system:node:{settings.node_name}", [settings.node_ip, "127.0.0.1"], names, cert, key)
    return nodeparts.local_node_options(settings, cert, key, pki.ca_cert)


def admin_token(data_dir: Path) -> str:
    path = data_dir / "tls" / "admin.token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def write_kubeconfig(path: Path, server: str, pki: ClusterPKI, token: str) -> None:
    import base64

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(pki.ca_cert.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": "default", "user": {"token": token}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "preferences": {},
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    os.replace(tmp, path)


class Server:
    """A running control plane; `start()` then `stop()`."""

    def __init__(self, options: ServerOptions):
        self.options = options
        self.registry: Registry | None = None
        self.runner: web.AppRunner | None = None
        self.api: APIServer | None = None
        self.control_plane: ControlPlane | None = None
        self.node: Any = None  # the LocalNode, when this machine runs one
        self.node_services: Any = None  # its proxy, DNS and ingress (kubelite.network.nodeservices)
        self.metrics_scraper: MetricsScraper | None = None  # behind metrics.k8s.io (`kubectl top`, the HPA)
        self._hollow_usage: dict[str, Any] | None = None  # hollow node name -> its runtime
        self.kubeconfig = options.data_dir / "kubeconfig.yaml"
        self.url = f"https://127.0.0.1:{options.https_port}"

    async def start(self) -> None:
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(opts.data_dir, 0o700)
        reachable = [host_address()] + ([opts.bind_address] if opts.bind_address not in ("0.0.0.0", "::", "") else [])
        pki = ensure_pki(opts.data_dir / "tls", extra_ips=reachable)  # agents verify the address they join
        token = admin_token(opts.data_dir)
        backend = open_backend(opts.datastore, opts.data_dir)
        self.registry = Registry(backend, default_catalogue(), Definitions.load())
        await self.registry.start()
        advertised = host_address() if opts.bind_address in ("0.0.0.0", "::", "") else opts.bind_address
        await bootstrap(
            self.registry,
            opts.https_port,
            host_address(),
            ca_pem=pki.ca_cert.read_text(),
            server_url=f"https://{advertised}:{opts.https_port}",  # published in kube-public/cluster-info
        )
        issuer = TokenIssuer(load_or_create_key(opts.data_dir / "tls" / "service-account.key"), self.registry)
        self.registry.token_issuer = issuer
        authenticator = Authenticator(
            {token: UserInfo("system:admin", ("system:masters", "system:authenticated"))},
            [issuer.verify, BootstrapTokenAuthenticator(self.registry).verify],
        )
        self.api = APIServer(
            self.registry,
            authenticator,
            ServerInfo(f"{host_address()}:{opts.https_port}"),
            kubelets=KubeletClient.from_pki(pki),  # logs/exec/attach/port-forward reach kubelets with it
        )
        self.runner = web.AppRunner(self.api.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        ssl_context = server_ssl_context(str(pki.serving_cert), str(pki.serving_key), str(pki.ca_cert))
        site = web.TCPSite(self.runner, opts.bind_address, opts.https_port, ssl_context=ssl_context, backlog=1024)
        await site.start()
        write_kubeconfig(self.kubeconfig, self.url, pki, token)
        self.control_plane = ControlPlane(
            self.registry, ControlPlaneOptions(
                hollow_nodes=opts.hollow_nodes,
                controllers=opts.controllers,
                scheduler=opts.scheduler,
                ca_pem=pki.ca_cert.read_text(),
                ca_key_pem=pki.ca_key.read_text(),  # the CSR signer issues node certificates with it
                cluster_cidr=opts.cluster_cidr,
                node_cidr_mask=opts.node_cidr_mask,
            )
        )
        await self.control_plane.start()
        self.metrics_scraper = MetricsScraper(
            self.registry, self.api.kubelets, resolution=opts.metric_resolution, local=self._hollow_resource_metrics
        )
        metricsapi.install(self.registry, self.metrics_scraper.storage)
        await self.metrics_scraper.start()
        self.api.ready = True
        if not opts.disable_agent:
            await self._start_node(pki)

    async def _start_node(self, pki: ClusterPKI) -> None:
        assert self.registry is not None
        node_options = local_node_options(self.options, pki)
        identity = UserInfo(f"system:node:{node_options.node_name}", ("system:nodes", "system:authenticated"))
        client = Client(InProcessTransport(self.registry, identity, "kubelet", without_managed_fields=True))
        self.node = await nodeparts.start_local_node(client, node_options)
        if self.node is not None:
            await self._start_node_services(self.node.pod_cidr)

    async def _start_node_services(self, pod_cidr: str) -> None:
        """The real node's proxy, routes, ServiceLB, DNS and ingress, once the node is registered (a
        failure leaves the node running without them, with a warning)."""
        from kubelite.client.sharedinformers import SharedInformers

        assert self.registry is not None
        identity = UserInfo("system:kube-proxy", ("system:node-proxier", "system:authenticated"))
        client = Client(InProcessTransport(self.registry, identity, "kubelite-node-services", without_managed_fields=True))
        client.informers = SharedInformers(client)  # one watch per resource for all of them
        options = nodeparts.node_services_options(node_settings(self.options), pod_cidr)
        self.node_services = await nodeparts.start_node_services(client, options)

    async def _hollow_resource_metrics(self, node_name: str) -> str | None:
        """The /metrics/resource text of an in-process hollow node (they serve no kubelet API)."""
        from kubelite.kubelet.metrics import resource_metrics
        from kubelite.runtime.hollow import HollowRuntime

        if self._hollow_usage is None:
            pool = self.control_plane.hollow_pool if self.control_plane is not None else None
            if pool is None:
                return None
            self._hollow_usage = {agent.node_name: agent.runtime for agent in pool.agents if isinstance(agent.runtime, HollowRuntime)}
        runtime = self._hollow_usage.get(node_name)
        return None if runtime is None else resource_metrics(await runtime.resource_usage())

    async def stop(self) -> None:
        if self.api is not None:
            self.api.ready = False
        if self.metrics_scraper is not None:
            await self.metrics_scraper.stop()
        # the proxy's table and the routes go, DNS and nginx stop; containers keep running
        # (`kubelite server --reset` removes them)
        await nodeparts.stop_node(self.node, self.node_services)
        if self.control_plane is not None:
            await self.control_plane.stop()
        if self.registry is not None:
            await self.registry.watch_cache.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.registry is not None:
            await self.registry.stop()


def process_age() -> float:
    """Seconds since this process started (interpreter start-up and imports included)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


async def reset_node(options: ServerOptions) -> int:
    """`kubelite server --reset`: remove every pod this data dir's node runs, the proxy's table and
    route, the routes to other nodes, its bridge and cgroups (the API is not needed, nor started)."""
    return await nodeparts.reset_node(node_settings(options))


async def run_server(options: ServerOptions) -> int:
    if options.reset:
        return await reset_node(options)
    tune_for_server()
    server = Server(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except OSError as exc:
        print(f"kubelite: cannot start: {exc}", file=sys.stderr)
        await server.stop()
        return 1
    elapsed = process_age()
    print(
        f"kubelite ready: {server.url} (kubeconfig {server.kubeconfig}, datastore {options.datastore}, {elapsed:.2f}s)",
        flush=True,
    )
    freeze_startup_objects()
    await stop.wait()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.stop(), 10)
    print("kubelite stopped", flush=True)
    return 0
