"""The kubelet's settings, as a frozen dataclass handed to NodeAgent (and HollowNodePool), with
upstream's defaults, and the address rules derived from a node's index.

Must not read files, flags or the environment: the CLI turns those into options.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from kubelite import KUBERNETES_VERSION, __version__

CLUSTER_CIDR = "10.42.0.0/16"
NODE_CIDR_MASK = 24
HOLLOW_NODE_IP_BASE = "172.16.0.0"
KUBELET_PORT = 10250


@dataclass(frozen=True, slots=True)
class KubeletOptions:
    node_index: int = 0  # picks the pod CIDR (and a hollow node's IP) when none is given
    pod_cidr: str = ""  # "" = keep the Node's spec.podCIDR, else the node_index-th subnet of cluster_cidr
    cluster_cidr: str = CLUSTER_CIDR
    node_cidr_mask: int = NODE_CIDR_MASK
    node_ip: str = ""  # "" = the node_index-th address after HOLLOW_NODE_IP_BASE
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    kubelet_version: str = f"{KUBERNETES_VERSION}+kubelite-{__version__}"
    status_update_frequency: float = 10.0  # how often the node status is computed (and written if changed)
    status_report_frequency: float = 300.0  # an unchanged status is still written this often (upstream 5m)
    lease_duration_seconds: int = 40
    lease_renew_interval: float = 10.0  # upstream: a quarter of the lease duration
    pod_workers: int = 8  # concurrent pod syncs (shared by every node of a pool)
    field_manager: str = "kubelet"
    kubelet_port: int = KUBELET_PORT  # advertised in status.daemonEndpoints; 0 = no kubelet API (hollow nodes)

    def resolved_pod_cidr(self) -> str:
        if self.pod_cidr:
            return self.pod_cidr
        return node_pod_cidr(self.cluster_cidr, self.node_cidr_mask, self.node_index)

    def resolved_node_ip(self) -> str:
        return self.node_ip or str(ipaddress.ip_address(HOLLOW_NODE_IP_BASE) + 2 + self.node_index)


def node_pod_cidr(cluster_cidr: str, mask: int, index: int) -> str:
    """The index-th /mask subnet of cluster_cidr."""
    network = ipaddress.ip_network(cluster_cidr, strict=False)
    if mask < network.prefixlen:
        raise ValueError(f"node CIDR mask /{mask} is wider than the cluster CIDR {cluster_cidr}")
    count = 1 << (mask - network.prefixlen)
    if not 0 <= index < count:
        raise ValueError(f"node index {index} does not fit: {cluster_cidr} holds {count} /{mask} subnets")
    size = 1 << (network.max_prefixlen - mask)
    first = ipaddress.ip_address(int(network.network_address) + index * size)
    return f"{first}/{mask}"
