"""`LocalNode`: the node agent `kubelite server` runs on its own machine — the OCI runtime over
DATA (images, containers, CNI bridge, cgroups; or, where this machine cannot run OCI containers,
the process runtime: containers as host processes, with one warning saying why), the kubelet's volume manager and env resolution,
a NodeAgent, the local-path provisioner (volumes under DATA/storage), and the kubelet HTTPS API
(logs/exec/attach/port-forward) with OCI-backed streams.

Containers keep running when it stops (as k3s: a restarted server adopts them); `reset()` removes
every pod, the bridge and the cgroup parent.

Must not build clients or certificates (the CLI passes them) nor hold kubelet logic itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.images import pod_pull_secrets
from kubelite.kubelet.localpath import LocalPathProvisioner
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.ocistreams import OciStreams
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.server import KubeletAuth, KubeletServer, kubelet_ssl_context
from kubelite.kubelet.volumes import VolumeManager
from kubelite.runtime.images.registries import RegistryConfig
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.oci.runtime import OciOptions, OciRuntime, PullSecrets
from kubelite.runtime.process.runtime import ProcessOptions, ProcessRuntime

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
    pod_cidr: str = LOCAL_POD_CIDR  # "": wait for the controller manager's node IPAM to set one
    bridge: str = "kubelite0"
    cgroup_parent: str = "/kubelite"
    netns_prefix: str = "kubelite-"
    cluster_dns: tuple[str, ...] = ()
    runtime: str = "auto"  # auto (OCI where the machine allows it, else process), oci or process
    private_registry: Path | None = None  # registries.yaml: mirrors and credentials for pulls


def choose_runtime(
    options: LocalNodeOptions,
    volume_paths: VolumeManager | None = None,
    clock: Clock | None = None,
    pull_secrets: PullSecrets | None = None,
) -> OciRuntime | ProcessRuntime:
    """The OCI runtime when `check_host` passes (or `runtime` is "oci": its RuntimeUnavailable
    then propagates), else the process runtime, announced by one warning naming the reason."""
    if options.private_registry is not None:
        RegistryConfig.load(options.private_registry)  # a broken file fails before any runtime state exists
    if options.runtime in ("auto", "oci"):
        try:
            return OciRuntime(
                OciOptions(
                    data_dir=options.data_dir,
                    cgroup_parent=options.cgroup_parent,
                    bridge=options.bridge,
                    network_name=options.bridge,
                    netns_prefix=options.netns_prefix,
                    cluster_dns=options.cluster_dns,
                    registries=options.private_registry,
                ),
                volume_paths=volume_paths,
                pull_secrets=pull_secrets,
                time_source=clock,
            )
        except RuntimeUnavailable as exc:
            if options.runtime == "oci":
                raise
            log.warning("no OCI containers on this machine (%s): pods run as host processes (process runtime: host network, pod IP = node IP)", exc)
    elif options.runtime != "process":
        raise RuntimeUnavailable(f"unknown runtime {options.runtime!r} (auto, oci or process)")
    return ProcessRuntime(
        ProcessOptions(
            data_dir=options.data_dir,
            cgroup_parent=options.cgroup_parent,
            node_ip=options.node_ip,
            cluster_dns=options.cluster_dns,
            registries=options.private_registry,
        ),
        volume_paths=volume_paths,
        pull_secrets=pull_secrets,
        time_source=clock,
    )


class LocalNode:
    def __init__(self, client: Client, options: LocalNodeOptions, clock: Clock | None = None):
        """Raises RuntimeUnavailable (with the reason) when this machine cannot run containers."""
        self.options = options
        self.clock = clock or RealClock()
        objects = KubeletObjects(client)
        self.volumes = VolumeManager(options.data_dir / "kubelet" / "pods", objects, host_ip=lambda: options.node_ip)
        self.runtime = choose_runtime(options, self.volumes, self.clock, functools.partial(pod_pull_secrets, objects))
        self.volumes.allocatable = self.runtime.node_capacity
        kubelet_options = KubeletOptions(pod_cidr=options.pod_cidr, node_ip=options.node_ip, kubelet_port=options.kubelet_port)
        self.agent = NodeAgent(client, options.node_name, self.runtime, kubelet_options, self.clock, objects=objects, volumes=self.volumes)
        self.agent.node.pod_cidr_from_ipam = not options.pod_cidr  # no pod CIDR given: node IPAM's
        self.provisioner = LocalPathProvisioner(client, [options.node_name], options.data_dir / "storage", self.clock)
        lookup = self.agent.pod_workers.lookup
        self.server = KubeletServer(
            OciStreams(self.runtime, options.data_dir / "pods", pod_lookup=lookup),
            lookup,
            auth=KubeletAuth(),
            metrics_source=self.runtime,  # /metrics/resource for metrics.k8s.io, on every node
            node_name=options.node_name,
        )

    async def start(self) -> None:
        await self.agent.start()
        await self.provisioner.start()
        context = kubelet_ssl_context(str(self.options.serving_cert), str(self.options.serving_key), str(self.options.client_ca))
        await self.server.start(self.options.node_ip, self.options.kubelet_port, context)

    @property
    def pod_cidr(self) -> str:
        """The node's pod CIDR (known once `start()` returned)."""
        return self.agent.node.pod_cidr

    async def stop(self) -> None:
        """Stop serving and syncing; containers keep running."""
        with contextlib.suppress(Exception):
            await self.server.stop()
        await self.provisioner.stop()
        await self.agent.stop()
        await self.runtime.close()

    async def reset(self) -> None:
        """Remove every pod and what pods share on the node (bridge, cgroup parent)."""
        await self.runtime.reset_node()
        for uid in self.volumes.known_pods():
            await self.volumes.tear_down(uid)


async def reset_local_node(options: LocalNodeOptions) -> None:
    """What `LocalNode.reset` does, without an API server: the runtime alone over the data dir
    (the process runtime's pods too, when it ran here). RuntimeUnavailable when neither can."""
    unavailable: RuntimeUnavailable | None = None
    runtimes: list[OciRuntime | ProcessRuntime] = []
    if options.runtime != "process":
        try:
            runtimes.append(choose_runtime(dataclasses.replace(options, runtime="oci")))
        except RuntimeUnavailable as exc:
            unavailable = exc
    if options.runtime == "process" or (options.data_dir / "process").is_dir():
        runtimes.append(choose_runtime(dataclasses.replace(options, runtime="process")))
    if not runtimes and unavailable is not None:
        raise unavailable
    for runtime in runtimes:
        try:
            await runtime.reset_node()
        finally:
            await runtime.close()
    from kubelite.runtime.oci import rootfs

    root = options.data_dir / "kubelet" / "pods"
    for point in sorted(rootfs.mounts_under(root), key=lambda p: len(str(p)), reverse=True):
        rootfs.unmount(point)
    shutil.rmtree(root, ignore_errors=True)
