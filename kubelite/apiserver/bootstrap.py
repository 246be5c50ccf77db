"""First-start objects every cluster has: the system namespaces, the `kubernetes` Service with its
Endpoints and EndpointSlice, and a `default` ServiceAccount in each system namespace.

Idempotent: an object that exists is left as it is (the Endpoints are refreshed to this server).
Must not create anything a user did not expect from upstream.
"""

from __future__ import annotations

import socket
from typing import Any

from kubelite.api import errors
from kubelite.registry.context import RequestContext
from kubelite.registry.registry import Registry

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE_IP = "10.43.0.1"


def host_address() -> str:
    """The IPv4 address of the interface holding the default route (read from the kernel; no
    packet is sent), else the address the hostname resolves to, else 127.0.0.1."""
    try:
        with open("/proc/net/route") as routes:
            next(routes)
            for line in routes:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    address = _interface_address(fields[0])
                    if address:
                        return address
    except OSError:
        pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def _interface_address(interface: str) -> str | None:
    import fcntl
    import struct

    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", interface[:15].encode()))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


async def _ensure(registry: Registry, group: str, version: str, resource: str, namespace: str, obj: dict) -> None:
    store = registry.store(group, version, resource)
    assert store is not None, f"{resource} is not served"
    if store.cache.get(namespace, obj["metadata"]["name"]) is not None:
        return
    ctx = RequestContext(field_manager="kube-apiserver")
    try:
        await store.create(namespace, obj, ctx)
    except errors.StatusError as exc:
        if exc.code != 409:
            raise


async def bootstrap(registry: Registry, https_port: int, advertise_address: str) -> None:
    for name in SYSTEM_NAMESPACES:
        await _ensure(registry, "", "v1", "namespaces", "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for name in SYSTEM_NAMESPACES:
        await _ensure(
            registry,
            "",
            "v1",
            "serviceaccounts",
            name,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}},
        )
    await _ensure(
        registry,
        "",
        "v1",
        "services",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": KUBERNETES_SERVICE_IP,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": https_port}],
                "sessionAffinity": "None",
            },
        },
    )
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [
            {"addresses": [{"ip": advertise_address}], "ports": [{"name": "https", "port": https_port, "protocol": "TCP"}]}
        ],
    }
    store = registry.store("", "v1", "endpoints")
    assert store is not None
    ctx = RequestContext(field_manager="kube-apiserver")
    await store.update("default", "kubernetes", endpoints, ctx)
    slice_store = registry.store("discovery.k8s.io", "v1", "endpointslices")
    if slice_store is not None:
        endpoint_slice: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": https_port, "protocol": "TCP"}],
        }
        existing = slice_store.cache.get("default", "kubernetes")
        if existing is None:
            await _ensure(registry, "discovery.k8s.io", "v1", "endpointslices", "default", endpoint_slice)
        else:
            endpoint_slice["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            await slice_store.update("default", "kubernetes", endpoint_slice, ctx)
