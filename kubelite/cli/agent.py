"""`kubelite agent --server URL --token TOKEN`: joins this machine to a cluster as a node. It
obtains the node's credentials by TLS bootstrap (kubelite.kubelet.tlsbootstrap), then runs the
node — kubelet, OCI runtime and kubelet API with its own serving certificate — and the node's
service proxy and routes to the other nodes, all over HTTPS to the server with the node's client
certificate. Cluster DNS, ServiceLB and ingress run with the server; this node's pods reach DNS
through the kube-dns ClusterIP, routed to the server node's bridge. Prints `kubelite agent ready:
node <name>` once the node is registered (with its pod CIDR from node IPAM unless --pod-cidr is
given) and stops cleanly on SIGTERM/SIGINT; `--reset` removes what the node left, as the server's.

Must hold no kubelet, networking or bootstrap logic itself (nodeparts.py and the packages do).
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubelite.apiserver.bootstrap import host_address
from kubelite.cli import nodeparts
from kubelite.client.client import Client

USER_AGENT = "kubelite-agent"


def default_agent_data_dir() -> Path:
    """Apart from a server's (both may run on one machine)."""
    env = os.environ.get("KUBELITE_AGENT_DATA_DIR")
    if env:
        return Path(env)
    return Path("/var/lib/kubelite-agent") if os.geteuid() == 0 else Path.home() / ".kubelite-agent"


@dataclass
class AgentOptions:
    server: str
    token: str
    data_dir: Path
    node_name: str = ""
    node_ip: str = ""  # "": the address this machine reaches the server from
    kubelet_port: int = 10250
    reset: bool = False
    bootstrap_timeout: float = 60.0
    # hidden, as the server's: a node network/cgroup of its own
    pod_cidr: str = ""  # "": node IPAM's
    bridge: str = "kubelite0"
    cgroup_parent: str = "/kubelite"
    netns_prefix: str = "kubelite-"
    proxy_table: str = "kubelite"
    private_registry: Path | None = None


def address_towards(url: str) -> str:
    """The local address the kernel would use to reach the server (no packet is sent), else the
    default route's interface address."""
    parts = urlsplit(url)
    try:
        host = socket.gethostbyname(parts.hostname or "")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, parts.port or 443))
            address = str(probe.getsockname()[0])
        if not address.startswith("127."):
            return address
    except OSError:
        pass
    return host_address()


def agent_settings(opts: AgentOptions) -> nodeparts.NodeSettings:
    return nodeparts.NodeSettings(
        data_dir=opts.data_dir,
        node_name=opts.node_name or socket.gethostname().lower(),
        node_ip=opts.node_ip or (address_towards(opts.server) if opts.server else host_address()),
        kubelet_port=opts.kubelet_port,
        pod_cidr=opts.pod_cidr,
        bridge=opts.bridge,
        cgroup_parent=opts.cgroup_parent,
        netns_prefix=opts.netns_prefix,
        proxy_table=opts.proxy_table,
        cluster_addons=False,
        private_registry=opts.private_registry,
    )


class Agent:
    """A joined node; `start()` then `stop()`."""

    def __init__(self, options: AgentOptions):
        self.options = options
        self.settings = agent_settings(options)
        self.clients: list[Client] = []
        self.node: Any = None  # the LocalNode
        self.node_services: Any = None  # its proxy and routes

    async def start(self) -> None:
        from kubelite.client.http import from_kubeconfig
        from kubelite.client.sharedinformers import SharedInformers
        from kubelite.kubelet.tlsbootstrap import bootstrap_credentials

        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)
        credentials = await bootstrap_credentials(
            self.options.server,
            self.options.token,
            settings.node_name,
            [settings.node_ip],
            settings.data_dir / "tls",
            timeout=self.options.bootstrap_timeout,
        )
        kubelet = Client(from_kubeconfig(credentials.kubeconfig, user_agent=f"{USER_AGENT}/kubelet"))
        self.clients.append(kubelet)
        node_options = nodeparts.local_node_options(settings, credentials.serving_cert, credentials.serving_key, credentials.ca_cert)
        self.node = await nodeparts.start_local_node(kubelet, node_options)
        if self.node is None:
            raise RuntimeError("this machine cannot run the node (see the warning above)")
        proxy = Client(from_kubeconfig(credentials.kubeconfig, user_agent=f"{USER_AGENT}/node-services"))
        proxy.informers = SharedInformers(proxy)  # one watch per resource for the proxy and routes
        self.clients.append(proxy)
        self.node_services = await nodeparts.start_node_services(proxy, nodeparts.node_services_options(settings, self.node.pod_cidr))

    async def stop(self) -> None:
        """Service networking first (its table and routes go), then the node; containers keep
        running (`kubelite agent --reset` removes them)."""
        node, services, self.node, self.node_services = self.node, self.node_services, None, None
        await nodeparts.stop_node(node, services)
        clients, self.clients = self.clients, []
        for client in clients:
            await client.close()


async def run_agent(options: AgentOptions) -> int:
    if options.reset:
        return await nodeparts.reset_node(agent_settings(options))
    if not options.server or not options.token:
        print("kubelite agent: --server and --token are required (the token comes from `kubelite token create`)", file=sys.stderr)
        return 2
    agent = Agent(options)
    code = await nodeparts.run_until_signalled(agent.start, agent.stop, lambda: f"kubelite agent ready: node {agent.settings.node_name}")
    if code == 0:
        print("kubelite agent stopped", flush=True)
    return code


def add_parser(sub: Any) -> None:
    """The `agent` subcommand's arguments."""
    import argparse

    agent = sub.add_parser("agent", help="join this machine to a cluster as a node")
    agent.add_argument("--server", default="", help="the server's URL, e.g. https://192.168.1.10:6443")
    agent.add_argument("--token", default="", help="a join token from `kubelite token create`")
    agent.add_argument("--data-dir", type=Path, default=default_agent_data_dir(), help="state and credentials of this node")
    agent.add_argument("--node-name", default="", help="name of this node (default: the hostname)")
    agent.add_argument("--node-ip", default="", help="this node's address (default: the one facing the server)")
    agent.add_argument("--kubelet-port", type=int, default=10250, help="port of this node's kubelet API")
    agent.add_argument(
        "--private-registry", type=Path, default=nodeparts.DEFAULT_PRIVATE_REGISTRY, help="registries.yaml: mirrors and credentials (k3s format)"
    )
    agent.add_argument(
        "--reset", action="store_true", help="remove this node's pods, network and cgroups (containers keep running otherwise), then exit"
    )
    for flag, default in (("--pod-cidr", ""), ("--bridge", "kubelite0"), ("--cgroup-parent", "/kubelite"), ("--netns-prefix", "kubelite-"), ("--proxy-table", "kubelite")):
        agent.add_argument(flag, default=default, help=argparse.SUPPRESS)
    agent.add_argument("--log-level", default="WARNING")


def run(args: Any) -> int:
    import asyncio
    import logging

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = AgentOptions(
        server=args.server,
        token=args.token,
        data_dir=args.data_dir,
        node_name=args.node_name,
        node_ip=args.node_ip,
        kubelet_port=args.kubelet_port,
        reset=args.reset,
        pod_cidr=args.pod_cidr,
        bridge=args.bridge,
        cgroup_parent=args.cgroup_parent,
        netns_prefix=args.netns_prefix,
        proxy_table=args.proxy_table,
        private_registry=args.private_registry,
    )
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_agent(options))
    return uvloop.run(run_agent(options))
