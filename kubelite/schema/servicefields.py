"""What upstream's Service strategy does to a Service's spec before validating it
(pkg/registry/core/service/strategy.go): keep `clusterIP` and `clusterIPs` in step, carry
allocated values (cluster IPs, node ports, the health-check node port) over from the old object
when an update leaves them out, and drop type-dependent fields the user did not change when the
type no longer needs them.

`prepare_service_spec` works on a copy and returns it; the registry may store the result, and
networkvalidation validates it.

Must not allocate anything or validate; the registry allocates and networkvalidation validates.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.schema.metavalidation import as_dict, as_list, as_str

Obj = dict[str, Any]


def service_type(spec: Obj) -> str:
    return as_str(spec.get("type")) or "ClusterIP"


def needs_cluster_ip(spec: Obj) -> bool:
    return service_type(spec) != "ExternalName"


def needs_node_port(spec: Obj) -> bool:
    kind = service_type(spec)
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False


def externally_accessible(spec: Obj) -> bool:
    kind = service_type(spec)
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(as_list(spec.get("externalIPs"))))


def needs_health_check(spec: Obj) -> bool:
    return service_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _node_ports(spec: Obj) -> list[Any]:
    return [as_dict(p).get("nodePort") or 0 for p in as_list(spec.get("ports"))]


def _patch_allocated(spec: Obj, old: Obj) -> None:
    if needs_cluster_ip(old) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not as_list(spec.get("clusterIPs")) and as_list(old.get("clusterIPs")):
            spec["clusterIPs"] = list(old["clusterIPs"])
    if needs_node_port(old) and needs_node_port(spec):
        used = {p for p in _node_ports(old) if p} & {p for p in _node_ports(spec) if p}
        by_name = {as_str(as_dict(p).get("name")): as_dict(p).get("nodePort") or 0 for p in as_list(old.get("ports"))}
        for port in as_list(spec.get("ports")):
            if isinstance(port, dict) and not port.get("nodePort"):
                previous = by_name.get(as_str(port.get("name")), 0)
                if previous and previous not in used:
                    port["nodePort"] = previous
    if needs_health_check(old) and needs_health_check(spec) and not spec.get("healthCheckNodePort") and old.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old["healthCheckNodePort"]


def _same_cluster_ips(spec: Obj, old: Obj) -> bool:
    return as_list(spec.get("clusterIPs")) == as_list(old.get("clusterIPs"))


def _normalize_cluster_ips(spec: Obj, old: Obj | None) -> None:
    cluster_ip, cluster_ips = as_str(spec.get("clusterIP")), as_list(spec.get("clusterIPs"))
    if old is None:
        if cluster_ip and not cluster_ips:
            spec["clusterIPs"] = [cluster_ip]
        return
    old_ip, old_ips = as_str(old.get("clusterIP")), as_list(old.get("clusterIPs"))
    if old_ips and not cluster_ips and old_ip == cluster_ip:
        spec["clusterIPs"] = list(old_ips)
    if old_ip != cluster_ip:
        if old_ip and not cluster_ip:
            if _same_cluster_ips(spec, old):
                spec.pop("clusterIPs", None)
        elif _same_cluster_ips(spec, old):
            spec["clusterIPs"] = [cluster_ip]


def _drop_type_dependent(spec: Obj, old: Obj) -> None:
    if needs_cluster_ip(old) and not needs_cluster_ip(spec):
        if _same_cluster_ips(spec, old):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for field in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(field) == old.get(field):
                spec.pop(field, None)
    if needs_node_port(old) and not needs_node_port(spec):
        if _node_ports(spec) == _node_ports(old):
            for port in as_list(spec.get("ports")):
                if isinstance(port, dict):
                    port.pop("nodePort", None)
        if spec.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
            spec.pop("healthCheckNodePort", None)
    was_lb, is_lb = service_type(old) == "LoadBalancer", service_type(spec) == "LoadBalancer"
    if was_lb and not is_lb:
        allocate, old_allocate = spec.get("allocateLoadBalancerNodePorts"), old.get("allocateLoadBalancerNodePorts")
        if allocate is not None and old_allocate is not None and allocate == old_allocate:
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    same_policy = spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy")
    if externally_accessible(old) and not externally_accessible(spec) and same_policy:
        spec.pop("externalTrafficPolicy", None)


def prepare_service_spec(spec: Any, old_spec: Any | None) -> Obj:
    """The spec as upstream's PrepareForCreate / PrepareForUpdate leave it (a new dict)."""
    result = copy.deepcopy(as_dict(spec))
    if old_spec is None:
        _normalize_cluster_ips(result, None)
        return result
    old = as_dict(old_spec)
    _patch_allocated(result, old)
    _normalize_cluster_ips(result, old)
    _drop_type_dependent(result, old)
    return result
