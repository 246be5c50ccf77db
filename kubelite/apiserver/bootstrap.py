"""First-start objects every cluster has: the system namespaces, the `kubernetes` Service with its
Endpoints and EndpointSlice, a `default` ServiceAccount in each system namespace, and (given the
CA) the kube-public/cluster-info ConfigMap joining nodes read anonymously; and, as k3s ships it,
the default StorageClass `local-path` that the nodes' local-path provisioner serves; then the
bootstrap RBAC policy is reconciled (rbacpolicy.py).

Idempotent: an object that exists is left as it is (the Endpoints are refreshed to this server).
Must not create anything a user did not expect from upstream.
"""

from __future__ import annotations

import copy
import socket
from typing import Any

from kubelite.api import errors
from kubelite.apiserver import rbacpolicy
from kubelite.registry.context import RequestContext
from kubelite.registry.registry import Registry

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE_IP = "10.43.0.1"
LOCAL_PATH_CLASS: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "rancher.io/local-path",
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
}


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


CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"


def cluster_info_kubeconfig(ca_pem: str, server_url: str) -> str:
    """The kubeconfig in cluster-info (upstream's layout: one unnamed cluster, no users)."""
    import base64

    import yaml

    config: dict[str, Any] = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {"certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(), "server": server_url},
                "name": "",
            }
        ],
        "contexts": None,
        "current-context": "",
        "kind": "Config",
        "preferences": {},
        "users": None,
    }
    return str(yaml.safe_dump(config, sort_keys=False))


async def _ensure_cluster_info(registry: Registry, ca_pem: str, server_url: str) -> None:
    """Create kube-public/cluster-info, or refresh its kubeconfig when the CA or URL changed."""
    store = registry.store("", "v1", "configmaps")
    assert store is not None
    data = {"kubeconfig": cluster_info_kubeconfig(ca_pem, server_url)}
    existing = store.cache.get(CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_NAME)
    if existing is None:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CLUSTER_INFO_NAME, "namespace": CLUSTER_INFO_NAMESPACE}, "data": data}
        await _ensure(registry, "", "v1", "configmaps", CLUSTER_INFO_NAMESPACE, obj)
    elif (existing.get("data") or {}).get("kubeconfig") != data["kubeconfig"]:
        updated = copy.deepcopy(existing)  # the cached object is the server's: never write into it
        updated["data"] = {**(updated.get("data") or {}), **data}
        await store.update(CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_NAME, updated, RequestContext(field_manager="kube-apiserver"))


async def bootstrap(
    registry: Registry, https_port: int, advertise_address: str, ca_pem: str = "", server_url: str = ""
) -> None:
    """`ca_pem` and `server_url` (both needed) publish kube-public/cluster-info."""
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
    if ca_pem and server_url:
        await _ensure_cluster_info(registry, ca_pem, server_url)
    if registry.store("storage.k8s.io", "v1", "storageclasses") is not None:
        await _ensure(registry, "storage.k8s.io", "v1", "storageclasses", "", copy.deepcopy(LOCAL_PATH_CLASS))
    await rbacpolicy.reconcile(registry)  # the default roles and bindings, topped up at every start
