"""The `kube-dns` Service in kube-system that every cluster has (the name pods and `kubectl
cluster-info` know: labels `k8s-app: kube-dns`, `kubernetes.io/cluster-service: "true"`,
`kubernetes.io/name: CoreDNS`; cluster IP 10.43.0.10; ports `dns` 53/UDP and `dns-tcp`
53/TCP), and — since no pod serves it here — an EndpointSlice of our own listing where the
cluster DNS server really listens, so the service proxy sends the cluster IP's traffic there.

`ensure_kube_dns` creates what is missing and puts back the labels, ports and endpoints it owns
on what exists; a Service made elsewhere with another cluster IP keeps it (cluster IPs cannot
change) and a warning is logged. Must not touch anything else in the cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "kube-system"
NAME = "kube-dns"
SLICE_NAME = "kube-dns-kubelite"
FIELD_MANAGER = "kubelite-dns"
MANAGED_BY = "cluster-dns.kubelite.io"
LABELS = {
    "k8s-app": "kube-dns",
    "kubernetes.io/cluster-service": "true",
    "kubernetes.io/name": "CoreDNS",
}


def kube_dns_service(cluster_ip: str = "10.43.0.10") -> Obj:
    family = "IPv6" if ":" in cluster_ip else "IPv4"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": [family],
            "ipFamilyPolicy": "SingleStack",
            "ports": _service_ports(),
            "sessionAffinity": "None",
        },
    }


def _service_ports() -> list[Obj]:
    return [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
    ]


def kube_dns_slice(addresses: Sequence[str], port: int = 53, node_name: str = "") -> Obj:
    """Our EndpointSlice for kube-dns: `addresses` serve DNS on `port` (UDP and TCP)."""
    family = "IPv6" if addresses and ":" in addresses[0] else "IPv4"
    endpoints = []
    for address in addresses:
        endpoint: Obj = {
            "addresses": [address],
            "conditions": {"ready": True, "serving": True, "terminating": False},
        }
        if node_name:
            endpoint["nodeName"] = node_name
        endpoints.append(endpoint)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": SLICE_NAME,
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": NAME,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        "addressType": family,
        "endpoints": endpoints,
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
        ],
    }


async def ensure_kube_dns(
    client: Client,
    *,
    cluster_ip: str = "10.43.0.10",
    addresses: Sequence[str] = (),
    port: int = 53,
    node_name: str = "",
) -> Obj:
    """Make sure kube-system/kube-dns exists (and, when `addresses` are given, our EndpointSlice
    pointing at them); returns the Service."""
    services = client.resource("", "v1", "services").namespace(NAMESPACE)
    wanted = kube_dns_service(cluster_ip)
    try:
        current = await services.get(NAME)
    except StatusError as err:
        if err.code != 404:
            raise
        try:
            current = await services.create(wanted, field_manager=FIELD_MANAGER)
        except StatusError as conflict:
            if conflict.code != 409:
                raise
            current = await services.get(NAME)
    current = await _repair_service(services, current, cluster_ip)
    if addresses:
        await _ensure_slice(client, kube_dns_slice(list(addresses), port, node_name))
    return current


async def _repair_service(services: Any, current: Obj, cluster_ip: str) -> Obj:
    meta = current.get("metadata") or {}
    spec = current.get("spec") or {}
    labels = meta.get("labels") or {}
    if spec.get("clusterIP") != cluster_ip:
        log.warning("kube-system/kube-dns has cluster IP %s, not %s: kept", spec.get("clusterIP"), cluster_ip)
    missing_labels = {k: v for k, v in LABELS.items() if labels.get(k) != v}
    ports_wrong = [
        (p.get("name"), p.get("port"), p.get("protocol")) for p in spec.get("ports") or []
    ] != [(p["name"], p["port"], p["protocol"]) for p in _service_ports()]
    if not missing_labels and not ports_wrong:
        return current
    patch: Obj = {}
    if missing_labels:
        patch["metadata"] = {"labels": missing_labels}
    if ports_wrong:
        patch["spec"] = {"ports": _service_ports()}
    patched: Obj = await services.patch(NAME, patch, "merge", field_manager=FIELD_MANAGER)
    return patched


async def _ensure_slice(client: Client, wanted: Obj) -> None:
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace(NAMESPACE)
    try:
        current = await slices.get(SLICE_NAME)
    except StatusError as err:
        if err.code != 404:
            raise
        try:
            await slices.create(wanted, field_manager=FIELD_MANAGER)
            return
        except StatusError as conflict:
            if conflict.code != 409:
                raise
            current = await slices.get(SLICE_NAME)
    same = (
        current.get("endpoints") == wanted["endpoints"]
        and current.get("ports") == wanted["ports"]
        and current.get("addressType") == wanted["addressType"]
        and (current.get("metadata") or {}).get("labels") == wanted["metadata"]["labels"]
    )
    if same:
        return
    if current.get("addressType") != wanted["addressType"]:  # immutable: replace the slice
        await slices.delete(SLICE_NAME)
        await slices.create(wanted, field_manager=FIELD_MANAGER)
        return
    updated = {**current, "endpoints": wanted["endpoints"], "ports": wanted["ports"]}
    updated["metadata"] = {**current["metadata"], "labels": wanted["metadata"]["labels"]}
    await slices.update(updated, field_manager=FIELD_MANAGER)
