"""The `kubelite` command: `server`, `kubectl`, and (in later layers) `agent`, `image`, `token`.

Must hold no logic beyond parsing arguments and handing over to the module that does the work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
from pathlib import Path

KUBECTL_CANDIDATES = ("/usr/bin/kubectl", "/usr/local/bin/kubectl")


def _parser() -> argparse.ArgumentParser:
    from kubelite.cli.nodeparts import DEFAULT_PRIVATE_REGISTRY
    from kubelite.cli.server import default_data_dir

    parser = argparse.ArgumentParser(prog="kubelite", description="Kubernetes, implemented in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser("server", help="run the control plane (and, later, a node)")
    server.add_argument("--data-dir", type=Path, default=default_data_dir(), help="state, certificates and kubeconfig")
    server.add_argument("--https-port", type=int, default=6443)
    server.add_argument("--bind-address", default="127.0.0.1", help="address the API server listens on")
    server.add_argument(
        "--datastore", default="sqlite", help="sqlite (default), memory, or etcd://HOST:PORT[,HOST:PORT...]"
    )
    server.add_argument("--disable-agent", action="store_true", help="run no node on this machine")
    server.add_argument("--node-name", default="", help="name of this machine's node (default: the hostname)")
    server.add_argument("--kubelet-port", type=int, default=10250, help="port of the node agent's kubelet API")
    server.add_argument(
        "--reset", action="store_true", help="remove this node's pods, network and cgroups (containers keep running otherwise), then exit"
    )
    for flag, default in (("--pod-cidr", "10.42.0.0/24"), ("--bridge", "kubelite0"), ("--cgroup-parent", "/kubelite"), ("--netns-prefix", "kubelite-")):
        server.add_argument(flag, default=default, help=argparse.SUPPRESS)
    server.add_argument("--proxy-table", default="kubelite", help=argparse.SUPPRESS)
    server.add_argument("--runtime", choices=("auto", "oci", "process"), default="auto", help=argparse.SUPPRESS)
    server.add_argument(
        "--private-registry", type=Path, default=DEFAULT_PRIVATE_REGISTRY, help="registries.yaml: mirrors and credentials (k3s format)"
    )
    server.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod addresses: each node gets a /24 of it")
    server.add_argument("--node-cidr-mask-size", type=int, default=24, help=argparse.SUPPRESS)
    server.add_argument("--metric-resolution", type=float, default=15.0, help=argparse.SUPPRESS)  # seconds between metrics scrapes
    for flag, port in (("--ingress-http-port", 80), ("--ingress-https-port", 443)):
        server.add_argument(flag, type=int, default=port, help=argparse.SUPPRESS)
    server.add_argument("--disable-controller-manager", action="store_true", help="run no controllers")
    server.add_argument("--disable-scheduler", action="store_true", help="run no scheduler")
    server.add_argument(
        "--hollow-nodes", type=int, default=0, help="also run N simulated nodes (no containers), for tests and benchmarks"
    )
    server.add_argument("--log-level", default="WARNING")
    kubectl = sub.add_parser("kubectl", help="run the real kubectl against this cluster", add_help=False)
    kubectl.add_argument("args", nargs=argparse.REMAINDER)
    from kubelite.cli.image import add_parser as add_image_parser

    add_image_parser(sub)
    from kubelite.cli.token import add_parser as add_token_parser

    add_token_parser(sub)
    from kubelite.cli.agent import add_parser as add_agent_parser

    add_agent_parser(sub)
    return parser


def _kubectl(args: list[str]) -> int:
    from kubelite.cli.server import default_data_dir

    data_dir = default_data_dir()
    if args[:1] == ["--data-dir"] and len(args) >= 2:
        data_dir, args = Path(args[1]), args[2:]
    elif args and args[0].startswith("--data-dir="):
        data_dir, args = Path(args[0].split("=", 1)[1]), args[1:]
    kubeconfig = data_dir / "kubeconfig.yaml"
    if not kubeconfig.exists():
        print(f"kubelite: no kubeconfig at {kubeconfig}; is `kubelite server` running?", file=sys.stderr)
        return 1
    binary = os.environ.get("KUBECTL") or shutil.which("kubectl") or next(
        (c for c in KUBECTL_CANDIDATES if os.path.exists(c)), None
    )
    if binary is None:
        print("kubelite: kubectl not found on PATH", file=sys.stderr)
        return 1
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    os.execve(binary, [binary, *args], env)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kubectl"]:
        return _kubectl(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "server":
        from kubelite.cli.server import ServerOptions, run_server

        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        options = ServerOptions(
            data_dir=args.data_dir,
            https_port=args.https_port,
            bind_address=args.bind_address,
            datastore=args.datastore,
            disable_agent=args.disable_agent,
            node_name=args.node_name,
            hollow_nodes=args.hollow_nodes,
            controllers=not args.disable_controller_manager,
            scheduler=not args.disable_scheduler,
            kubelet_port=args.kubelet_port,
            reset=args.reset,
            pod_cidr=args.pod_cidr,
            bridge=args.bridge,
            cgroup_parent=args.cgroup_parent,
            netns_prefix=args.netns_prefix,
            runtime=args.runtime,
            private_registry=args.private_registry,
            proxy_table=args.proxy_table,
            ingress_http_port=args.ingress_http_port,
            ingress_https_port=args.ingress_https_port,
            cluster_cidr=args.cluster_cidr,
            node_cidr_mask=args.node_cidr_mask_size,
            metric_resolution=args.metric_resolution,
        )
        try:
            import uvloop
        except ImportError:
            return asyncio.run(run_server(options))
        return uvloop.run(run_server(options))
    if args.command == "image":
        from kubelite.cli.image import run as run_image

        return run_image(args)
    if args.command == "agent":
        from kubelite.cli.agent import run as run_agent

        return run_agent(args)
    if args.command == "token":
        from kubelite.cli.token import run as run_token

        return run_token(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
