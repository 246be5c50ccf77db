"""`LocalNode`: the node agent `kubelite server` runs on its own machine — the OCI runtime over
DATA (images, containers, CNI bridge, cgroups), the kubelet's volume manager and env resolution,
a NodeAgent, and the kubelet HTTPS API (logs/exec/attach/port-forward) with OCI-backed streams.

Containers keep running when it stops (as k3s: a restarted server adopts them); `reset()` removes
every pod, the bridge and the cgroup parent.

Must not build clients or certificates (the CLI passes them) nor hold kubelet logic itself.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.ocistreams import OciStreams
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.server import KubeletAuth, KubeletServer, kubelet_ssl_context
from kubelite.kubelet.volumes import VolumeManager
from kubelite.runtime.oci.runtime import OciOptions, OciRuntime

log = logging.getLogger(__name__)

LOCAL_POD_CIDR = "10.42.0.0/24"


@dataclass(frozen=True)
class LocalNodeOptions:
    data_dir: Path
    node_name: str
    node_ip: str
    serving_cert: Path
    serving_key: Path
    client_ca: Path
    kubelet_port: int = 10250
    pod_cidr: str = LOCAL_POD_CIDR
    bridge: str = "kubelite0"
    cgroup_parent: str = "/kubelite"
    netns_prefix: str = "kubelite-"
    cluster_dns: tuple[str, ...] = ()


class LocalNode:
    def __init__(self, client: Client, options: LocalNodeOptions, clock: Clock | None = None):
        """Raises RuntimeUnavailable (with the reason) when this machine cannot run containers."""
        self.options = options
        self.clock = clock or RealClock()
        objects = KubeletObjects(client)
        self.volumes = VolumeManager(options.data_dir / "kubelet" / "pods", objects, host_ip=lambda: options.node_ip)
        self.runtime = OciRuntime(
            OciOptions(
                data_dir=options.data_dir,
                cgroup_parent=options.cgroup_parent,
                bridge=options.bridge,
                network_name=options.bridge,
                netns_prefix=options.netns_prefix,
                cluster_dns=options.cluster_dns,
            ),
            volume_paths=self.volumes,
            time_source=self.clock,
        )
        self.volumes.allocatable = self.runtime.node_capacity
        kubelet_options = KubeletOptions(pod_cidr=options.pod_cidr, node_ip=options.node_ip, kubelet_port=options.kubelet_port)
        self.agent = NodeAgent(client, options.node_name, self.runtime, kubelet_options, self.clock, objects=objects, volumes=self.volumes)
        lookup = self.agent.pod_workers.lookup
        self.server = KubeletServer(OciStreams(self.runtime, options.data_dir / "pods", pod_lookup=lookup), lookup, auth=KubeletAuth())

    async def start(self) -> None:
        await self.agent.start()
        context = kubelet_ssl_context(str(self.options.serving_cert), str(self.options.serving_key), str(self.options.client_ca))
        await self.server.start(self.options.node_ip, self.options.kubelet_port, context)

    async def stop(self) -> None:
        """Stop serving and syncing; containers keep running."""
        with contextlib.suppress(Exception):
            await self.server.stop()
        await self.agent.stop()
        await self.runtime.close()

    async def reset(self) -> None:
        """Remove every pod and what pods share on the node (bridge, cgroup parent)."""
        await self.runtime.reset_node()
        for uid in self.volumes.known_pods():
            await self.volumes.tear_down(uid)


async def reset_local_node(options: LocalNodeOptions) -> None:
    """What `LocalNode.reset` does, without an API server: the runtime alone over the data dir."""
    runtime = OciRuntime(
        OciOptions(
            data_dir=options.data_dir,
            cgroup_parent=options.cgroup_parent,
            bridge=options.bridge,
            network_name=options.bridge,
            netns_prefix=options.netns_prefix,
        )
    )
    try:
        await runtime.reset_node()
    finally:
        await runtime.close()
    from kubelite.runtime.oci import rootfs

    root = options.data_dir / "kubelet" / "pods"
    for point in sorted(rootfs.mounts_under(root), key=lambda p: len(str(p)), reverse=True):
        rootfs.unmount(point)
    shutil.rmtree(root, ignore_errors=True)
