"""What a machine running a node needs from the CLI, shared by `kubelite server` (its own node)
and `kubelite agent` (a joined one): the node's names and network settings, the LocalNode and
NodeServices options made from them, starting each (a machine that cannot run containers, or
service networking, keeps going with a warning), `--reset`, and running until SIGTERM/SIGINT.

Must hold no kubelet or networking logic (kubelite.kubelet and kubelite.network do), nor build
clients or certificates (the callers pass them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.client.client import Client

KUBE_DNS_IP = "10.43.0.10"  # the kube-dns Service's cluster IP: pods' nameserver


DEFAULT_PRIVATE_REGISTRY = Path("/etc/kubelite/registries.yaml")  # as k3s reads /etc/rancher/k3s/registries.yaml


@dataclass(frozen=True)
class NodeSettings:
    data_dir: Path
    node_name: str
    node_ip: str
    kubelet_port: int = 10250
    pod_cidr: str = "10.42.0.0/24"  # "": wait for the controller manager's node IPAM
    bridge: str = "kubelite0"
    cgroup_parent: str = "/kubelite"
    netns_prefix: str = "kubelite-"
    proxy_table: str = "kubelite"
    ingress_http_port: int = 0  # 0: no ingress controller
    ingress_https_port: int = 0
    cluster_addons: bool = True  # ServiceLB, DNS and ingress run on this node (the server's)
    cluster_cidr: str = ""  # every node's pods, when known (the server's --cluster-cidr)
    runtime: str = "auto"  # auto (OCI where the machine allows it, else process), oci or process
    private_registry: Path | None = None  # registries.yaml (k3s format): mirrors, credentials


def local_node_options(settings: NodeSettings, serving_cert: Path, serving_key: Path, client_ca: Path) -> Any:
    """The node's LocalNodeOptions (its kubelet API serves with serving_cert, trusts client_ca)."""
    from kubelite.kubelet.local import LocalNodeOptions

    return LocalNodeOptions(
        data_dir=settings.data_dir,
        node_name=settings.node_name,
        node_ip=settings.node_ip,
        serving_cert=serving_cert,
        serving_key=serving_key,
        client_ca=client_ca,
        kubelet_port=settings.kubelet_port,
        pod_cidr=settings.pod_cidr,
        bridge=settings.bridge,
        cgroup_parent=settings.cgroup_parent,
        netns_prefix=settings.netns_prefix,
        cluster_dns=(KUBE_DNS_IP,),
        runtime=settings.runtime,
        private_registry=settings.private_registry,
    )


def node_services_options(settings: NodeSettings, pod_cidr: str) -> Any:
    """The NodeServicesOptions of a node whose pod CIDR is `pod_cidr` (known once it registered)."""
    from kubelite.network.nodeservices import NodeServicesOptions

    cluster_cidr = ""
    if settings.cluster_cidr and _within(pod_cidr, settings.cluster_cidr):
        cluster_cidr = settings.cluster_cidr
    return NodeServicesOptions(
        data_dir=settings.data_dir,
        node_name=settings.node_name,
        pod_cidr=pod_cidr,
        bridge=settings.bridge,
        proxy_table=settings.proxy_table,
        ingress_http_port=settings.ingress_http_port if settings.cluster_addons else 0,
        ingress_https_port=settings.ingress_https_port if settings.cluster_addons else 0,
        cluster_addons=settings.cluster_addons,
        cluster_pod_cidr=cluster_cidr,
    )


def _within(inner: str, outer: str) -> bool:
    try:
        small, big = ipaddress.ip_network(inner, strict=False), ipaddress.ip_network(outer, strict=False)
    except ValueError:
        return False
    return isinstance(small, ipaddress.IPv4Network) and isinstance(big, ipaddress.IPv4Network) and small.subnet_of(big)


def warn(message: str) -> None:
    print(f"kubelite: warning: {message}", file=sys.stderr, flush=True)


async def start_local_node(client: Client, options: Any) -> Any:
    """The started LocalNode (registered, pod CIDR known), or None with a warning when this
    machine cannot run containers."""
    from kubelite.kubelet.local import LocalNode
    from kubelite.runtime.images.registries import RegistryConfigError
    from kubelite.runtime.oci.errors import RuntimeUnavailable

    try:
        node = LocalNode(client, options)
    except RegistryConfigError as exc:  # a broken configuration stops the command, as k3s does
        raise OSError(f"{options.private_registry}: {exc}") from exc
    except RuntimeUnavailable as exc:
        warn(f"running without a node agent: {exc}")
        return None
    try:
        await node.start()
    except OSError as exc:
        warn(f"running without a node agent: {exc}")
        with contextlib.suppress(Exception):
            await node.stop()
        return None
    return node


async def start_node_services(client: Client, options: Any) -> Any:
    """The started NodeServices, or None with a warning when service networking cannot run here."""
    from kubelite.network.commands import CommandError
    from kubelite.network.ingress.process import NginxError
    from kubelite.network.nodeservices import NodeServices

    services = NodeServices(client, options)
    try:
        await services.start()
    except (OSError, CommandError, NginxError) as exc:
        warn(f"running without service networking: {exc}")
        return None
    return services


async def stop_node(node: Any, services: Any) -> None:
    """Service networking first (its table and routes go), then the node (containers keep running)."""
    if services is not None:
        with contextlib.suppress(Exception):
            await services.stop()
    if node is not None:
        with contextlib.suppress(Exception):
            await node.stop()


async def reset_node(settings: NodeSettings) -> int:
    """`--reset`: remove every pod this data dir's node runs, the proxy's table and route, the
    routes to other nodes, the bridge and the cgroups (no API needed)."""
    from kubelite.kubelet.local import reset_local_node
    from kubelite.network.nodeservices import remove_bridge, reset_node_services
    from kubelite.runtime.oci.errors import RuntimeUnavailable

    await reset_node_services(settings.proxy_table, settings.bridge, data_dir=settings.data_dir)
    tls = settings.data_dir / "tls"
    try:
        await reset_local_node(local_node_options(settings, tls / "unused.crt", tls / "unused.key", tls / "ca.crt"))
    except RuntimeUnavailable as exc:
        print(f"kubelite: nothing to reset: {exc}", file=sys.stderr)
        return 1
    await remove_bridge(settings.bridge)  # node services made it even where no CNI ran
    print("kubelite node reset", flush=True)
    return 0


async def run_until_signalled(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]], ready: Callable[[], str]
) -> int:
    """start(), print ready(), wait for SIGTERM/SIGINT, stop() (10 s at most); 1 when start fails."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        return await _run(start, stop, ready, stopping)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _run(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]], ready: Callable[[], str], stopping: asyncio.Event
) -> int:
    starting = asyncio.ensure_future(start())
    waiting = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # signalled while starting
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stop(), 10)
        return 1
    try:
        starting.result()
    except Exception as exc:
        waiting.cancel()
        message = str(exc) if str(exc).startswith("kubelite") else f"kubelite: cannot start: {exc}"
        print(message, file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):
            await stop()
        return 1
    print(ready(), flush=True)
    await waiting
    with contextlib.suppress(Exception):
        await asyncio.wait_for(stop(), 10)
    return 0
