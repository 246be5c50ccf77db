"""Validation of the networking kinds after upstream's pkg/apis/core/validation (Service,
Endpoints), pkg/apis/discovery/validation (EndpointSlice) and pkg/apis/networking/validation
(Ingress, IngressClass, NetworkPolicy): ports, cluster IPs, traffic policies, addresses, rules,
backends and peers, with upstream's field paths and messages.

Services are validated as upstream's strategy leaves them first (servicefields). Each public
function takes the new object and the old one (None on create).

Must not allocate cluster IPs or node ports, nor check node-port ranges; the registry does.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kubelite.api.gofmt import go_quote
from kubelite.schema import names
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    duplicate,
    forbidden,
    go_string_slice,
    index,
    invalid,
    key,
    not_supported,
    required,
    too_long,
    too_many,
)
from kubelite.schema.kindhelpers import go_struct, int_field, validate_kind_and_name, validate_meta
from kubelite.schema.metavalidation import (
    as_dict,
    as_list,
    as_str,
    validate_label_selector,
    validate_labels,
)
from kubelite.schema.podvalidation import (
    validate_port_num_or_name,
    validate_protocol,
    validate_qualified_name,
)
from kubelite.schema.servicefields import externally_accessible, needs_health_check, prepare_service_spec

Obj = dict[str, Any]

_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_MAX_AFFINITY_SECONDS = 86400
_TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"
_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"
_LB_ONLY = "may only be used when `type` is 'LoadBalancer'"
_IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _ip_errors(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, msg) for msg in names.is_valid_ip(value)]


def non_special_ip(value: str, path: str) -> list[Cause]:
    """ValidateNonSpecialIP: no unspecified, loopback or link-local addresses."""
    ip = names.parse_ip_sloppy(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    causes: list[Cause] = []
    if ip.is_unspecified:
        causes.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        causes.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and not ip.is_multicast:
        causes.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if _link_local_multicast(ip):
        causes.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return causes


def _link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    return ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02


def _is_ipv6(value: str) -> bool:
    ip = names.parse_ip_sloppy(value)
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None


# --------------------------------------------------------------------------- Service
def _service_port_struct(protocol: str, port: int) -> GoText:
    """%#v of the core.ServicePort{Protocol, Port} key upstream reports duplicates with."""
    return go_struct(
        "core.ServicePort",
        [
            ("Name", '""'),
            ("Protocol", go_quote(protocol)),
            ("AppProtocol", "(*string)(nil)"),
            ("Port", str(port)),
            ("TargetPort", 'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}'),
            ("NodePort", "0"),
        ],
    )


def _service_port(port: Obj, require_name: bool, seen: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        causes.append(required(child(path, "name"), ""))
    elif name:
        causes.extend(invalid(child(path, "name"), name, msg) for msg in names.is_dns1123_label(name))
        if name in seen:
            causes.append(duplicate(child(path, "name"), name))
        else:
            seen.add(name)
    number = int_field(port.get("port")) or 0
    causes.extend(invalid(child(path, "port"), number, msg) for msg in names.is_valid_port_num(number))
    causes.extend(validate_protocol(port.get("protocol"), child(path, "protocol")))
    causes.extend(validate_port_num_or_name(port.get("targetPort"), child(path, "targetPort")))
    if port.get("appProtocol") is not None:
        causes.extend(validate_qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol")))
    return causes


def _client_ip_affinity(config: Any, path: str) -> list[Cause]:
    detail = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [required(path, detail)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [required(child(path, "clientIP"), detail)]
    timeout = int_field(client_ip.get("timeoutSeconds"))
    timeout_path = child(path, "clientIP", "timeoutSeconds")
    if timeout is None:
        return [required(timeout_path, detail)]
    if timeout <= 0 or timeout > _MAX_AFFINITY_SECONDS:
        return [invalid(timeout_path, timeout, f"must be greater than 0 and less than {_MAX_AFFINITY_SECONDS}")]
    return []


def _is_headless(spec: Obj) -> bool:
    ips = as_list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def _cluster_ips_related(spec: Obj) -> list[Cause]:
    """ValidateServiceClusterIPsRelatedFields."""
    if as_str(spec.get("type")) == "ExternalName":
        return []
    causes: list[Cause] = []
    cluster_ip = as_str(spec.get("clusterIP"))
    ips = [as_str(ip) for ip in as_list(spec.get("clusterIPs"))]
    families = as_list(spec.get("ipFamilies"))
    if cluster_ip:
        if not ips:
            causes.append(required("spec.clusterIPs", ""))
        elif ips[0] != cluster_ip:
            causes.append(invalid("spec.clusterIPs", go_string_slice(ips), "first value must match `clusterIP`"))
    elif ips:
        causes.append(invalid("spec.clusterIPs", go_string_slice(ips), "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            causes.append(not_supported(index("spec.ipFamilies", i), family, ["IPv4", "IPv6"]))
        if family in seen:
            causes.append(duplicate(index("spec.ipFamilies", i), family))
        seen.add(as_str(family))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("SingleStack", "PreferDualStack", "RequireDualStack"):
        causes.append(not_supported("spec.ipFamilyPolicy", policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ips = True
                causes.append(invalid("spec.clusterIPs", go_string_slice(ips), "'None' must be the first and only value"))
            continue
        errs = _ip_errors(ip, index("spec.clusterIPs", i))
        bad_ips = bad_ips or bool(errs)
        causes.extend(errs)
    if len(ips) > 2:
        causes.append(invalid("spec.clusterIPs", go_string_slice(ips), "may only hold up to 2 values"))
    if bad_ips:
        return causes
    if len(ips) > 1 and len({_is_ipv6(ip) for ip in ips}) != 2:
        causes.append(invalid("spec.clusterIPs", go_string_slice(ips), "may specify no more than one IP for each IP family"))
    if not _is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            if families[i] == "IPv4" and _is_ipv6(ip):
                causes.append(invalid(index("spec.clusterIPs", i), ip, f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not _is_ipv6(ip):
                causes.append(invalid(index("spec.clusterIPs", i), ip, f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return causes


def _external_traffic(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    policy = as_str(spec.get("externalTrafficPolicy"))
    if not externally_accessible(spec):
        if policy:
            causes.append(invalid("spec.externalTrafficPolicy", policy, "may only be set for externally-accessible services"))
    elif not policy:
        causes.append(required("spec.externalTrafficPolicy", ""))
    elif policy not in ("Cluster", "Local"):
        causes.append(not_supported("spec.externalTrafficPolicy", policy, ["Cluster", "Local"]))
    health = int_field(spec.get("healthCheckNodePort")) or 0
    if not needs_health_check(spec):
        if health:
            causes.append(
                invalid(
                    "spec.healthCheckNodePort",
                    health,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif health:  # a missing port is allocated by the registry after validation
        causes.extend(invalid("spec.healthCheckNodePort", health, m) for m in names.is_valid_port_num(health))
    return causes


def _load_balancer_class(spec: Obj, old_spec: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    is_lb = as_str(spec.get("type")) == "LoadBalancer"
    lb_class = spec.get("loadBalancerClass")
    was_lb = old_spec is not None and as_str(old_spec.get("type")) == "LoadBalancer"
    if was_lb and is_lb and old_spec is not None and lb_class != old_spec.get("loadBalancerClass"):
        value = GoText("null") if lb_class is None else as_str(lb_class)
        causes.append(invalid("spec.loadBalancerClass", value, "may not change once set"))
    if is_lb:
        if lb_class is not None:
            causes.extend(validate_qualified_name(as_str(lb_class), "spec.loadBalancerClass"))
    elif lb_class is not None:
        causes.append(forbidden("spec.loadBalancerClass", _LB_ONLY))
    return causes


def _source_ranges(obj: Obj, spec: Obj, is_lb: bool) -> list[Cause]:
    causes: list[Cause] = []
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic, upstream's capital L
        if not is_lb:
            causes.append(forbidden(path, _LB_ONLY))
        for i, value in enumerate(ranges):
            text = as_str(value).strip()
            causes.extend(invalid(index(path, i), text, m) for m in names.is_valid_cidr(text))
    elif _SOURCE_RANGES in annotations:
        path = key("metadata.annotations", _SOURCE_RANGES)
        if not is_lb:
            causes.append(forbidden(path, _LB_ONLY))
        text = as_str(annotations[_SOURCE_RANGES]).strip()
        if text:
            for value in text.split(","):
                value = value.strip()
                causes.extend(invalid(path, value, m) for m in names.is_valid_cidr(value))
    return causes


def _service(obj: Obj, spec: Obj, old_spec: Obj | None) -> list[Cause]:
    """ValidateService, minus ObjectMeta."""
    causes: list[Cause] = []
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if _TOPOLOGY_MODE in annotations and _TOPOLOGY_HINTS in annotations and annotations[_TOPOLOGY_MODE] != annotations[_TOPOLOGY_HINTS]:
        causes.append(
            invalid(
                key("metadata.annotations", _TOPOLOGY_MODE),
                as_str(annotations[_TOPOLOGY_MODE]),
                f"must match annotations[{_TOPOLOGY_HINTS}] when both are specified",
            )
        )
    kind = as_str(spec.get("type"))
    headless = _is_headless(spec)
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    if not ports and not headless and kind != "ExternalName":
        causes.append(required("spec.ports", ""))
    if kind in ("LoadBalancer", "NodePort") and headless:
        causes.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    elif kind == "ExternalName":
        for field in ("clusterIPs", "ipFamilies"):
            if as_list(spec.get(field)):
                causes.append(forbidden(child("spec", field), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName"))
        cname = cname[:-1] if cname.endswith(".") else cname
        if cname:
            causes.extend(invalid("spec.externalName", cname, m) for m in names.is_dns1123_subdomain(cname))
        else:
            causes.append(required("spec.externalName", ""))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        causes.extend(_service_port(port, len(ports) > 1, seen, index("spec.ports", i)))
    if spec.get("selector") is not None:
        causes.extend(validate_labels(spec.get("selector"), "spec.selector"))
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        causes.append(required("spec.sessionAffinity", ""))
    elif affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if affinity == "ClientIP":
        causes.extend(_client_ip_affinity(spec.get("sessionAffinityConfig"), "spec.sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    causes.extend(_cluster_ips_related(spec))
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        ip_path = index("spec.externalIPs", i)
        errs = _ip_errors(as_str(ip), ip_path)
        causes.extend(errs or non_special_ip(as_str(ip), ip_path))
    if not kind:
        causes.append(required("spec.type", ""))
    elif kind not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if int_field(port.get("nodePort")):
                causes.append(forbidden(child(index("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = int_field(port.get("nodePort")) or 0
        if node_port:
            entry = (as_str(port.get("protocol")), node_port)
            if entry in node_ports:
                causes.append(duplicate(child(index("spec.ports", i), "nodePort"), node_port))
            node_ports.add(entry)
    port_keys: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        entry = (as_str(port.get("protocol")), int_field(port.get("port")) or 0)
        if entry in port_keys:
            causes.append(duplicate(index("spec.ports", i), _service_port_struct(*entry)))
        port_keys.add(entry)
    is_lb = kind == "LoadBalancer"
    causes.extend(_source_ranges(obj, spec, is_lb))
    if spec.get("allocateLoadBalancerNodePorts") is not None and not is_lb:
        causes.append(forbidden("spec.allocateLoadBalancerNodePorts", _LB_ONLY))
    if is_lb and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(required("allocateLoadBalancerNodePorts", ""))  # sic, upstream's path has no "spec."
    causes.extend(_load_balancer_class(spec, None))
    causes.extend(_external_traffic(spec))
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
            causes.append(required("spec.internalTrafficPolicy", ""))
    elif internal not in ("Cluster", "Local"):
        causes.append(not_supported("spec.internalTrafficPolicy", internal, ["Cluster", "Local"]))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        causes.append(not_supported("spec.trafficDistribution", distribution, ["PreferClose"]))
    return causes


def _cluster_ips_update(spec: Obj, old: Obj) -> list[Cause]:
    """validateUpgradeDowngradeClusterIPs."""
    if as_str(spec.get("type")) == "ExternalName" or as_str(old.get("type")) == "ExternalName":
        return []
    if _is_headless(old) and _is_headless(spec):
        return []
    ips, old_ips = [as_str(i) for i in as_list(spec.get("clusterIPs"))], [as_str(i) for i in as_list(old.get("clusterIPs"))]
    value = go_string_slice(ips) if "clusterIPs" in spec else GoText("[]string(nil)")
    causes: list[Cause] = []
    if len(old_ips) == len(ips):
        for i, ip in enumerate(old_ips):
            if ip != ips[i]:
                causes.append(invalid(index("spec.clusterIPs", i), value, "may not change once set"))
    elif len(old_ips) > len(ips):
        if not ips:
            causes.append(invalid("spec.clusterIPs[0]", value, "primary clusterIP can not be unset"))
        if old_ips and ips and ips[0] != old_ips[0]:
            causes.append(invalid("spec.clusterIPs[0]", value, "may not change once set"))
        if len(ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            policy = spec.get("ipFamilyPolicy")
            shown = GoText("null") if policy is None else as_str(policy)
            causes.append(invalid("spec.ipFamilyPolicy", shown, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and ips[0] != old_ips[0]:
        causes.append(invalid("spec.clusterIPs[0]", value, "may not change once set"))
    return causes


def _families_text(families: list[Any]) -> GoText:
    return go_string_slice(families, "core.IPFamily")


def _ip_families_update(spec: Obj, old: Obj) -> list[Cause]:
    """validateUpgradeDowngradeIPFamilies."""
    if as_str(spec.get("type")) == "ExternalName" or as_str(old.get("type")) == "ExternalName":
        return []
    if _is_headless(spec) or _is_headless(old):
        return []
    families, old_families = as_list(spec.get("ipFamilies")), as_list(old.get("ipFamilies"))
    causes: list[Cause] = []
    if len(old_families) == len(families):
        for i, family in enumerate(old_families):
            if family != families[i]:
                causes.append(invalid("spec.ipFamilies[0]", _families_text(families), "may not change once set"))
    elif len(old_families) > len(families):
        if not as_list(spec.get("clusterIPs")):
            causes.append(invalid("spec.ipFamilies[0]", _families_text(families), "primary ipFamily can not be unset"))
        if families and families[0] != old_families[0]:
            causes.append(invalid("spec.ipFamilies[0]", go_string_slice(as_list(spec.get("clusterIPs"))), "may not change once set"))
        if len(families) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            policy = spec.get("ipFamilyPolicy")
            shown = GoText("null") if policy is None else as_str(policy)
            causes.append(invalid("spec.ipFamilyPolicy", shown, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_families and families and families[0] != old_families[0]:
        causes.append(invalid("spec.ipFamilies[0]", go_string_slice(as_list(spec.get("clusterIPs"))), "may not change once set"))
    return causes


def validate_service(obj: Obj, old: Obj | None) -> list[Cause]:
    old_spec = as_dict(old.get("spec")) if old is not None else None
    spec = prepare_service_spec(obj.get("spec"), old_spec)
    if old_spec is None:
        causes = validate_meta(obj, None, names.name_is_dns1035_label, True)
        return causes + _service(obj, spec, None)
    causes = validate_meta(obj, old, names.name_is_dns1035_label, True)
    causes.extend(_cluster_ips_update(spec, old_spec))
    causes.extend(_ip_families_update(spec, old_spec))
    causes.extend(_load_balancer_class(spec, old_spec))
    health_changed = spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    if needs_health_check(old_spec) and needs_health_check(spec) and health_changed:
        causes.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    causes.extend(validate_meta(obj, None, names.name_is_dns1035_label, True))
    causes.extend(_service(obj, spec, old_spec))
    return causes


# --------------------------------------------------------------------------- Endpoints
def _endpoint_address(address: Obj, path: str) -> list[Cause]:
    ip = as_str(address.get("ip"))
    causes = _ip_errors(ip, child(path, "ip"))
    hostname = as_str(address.get("hostname"))
    if hostname:
        causes.extend(invalid(child(path, "hostname"), hostname, m) for m in names.is_dns1123_label(hostname))
    node_name = address.get("nodeName")
    if node_name is not None:
        text = as_str(node_name)
        causes.extend(invalid(child(path, "nodeName"), text, m) for m in names.name_is_dns_subdomain(text))
    causes.extend(non_special_ip(ip, child(path, "ip")))
    return causes


def _endpoint_port(port: Obj, require_name: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        causes.append(required(child(path, "name"), ""))
    elif name:
        causes.extend(invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(name))
    number = int_field(port.get("port")) or 0
    causes.extend(invalid(child(path, "port"), number, m) for m in names.is_valid_port_num(number))
    causes.extend(validate_protocol(port.get("protocol"), child(path, "protocol")))
    if port.get("appProtocol") is not None:
        causes.extend(validate_qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol")))
    return causes


def validate_endpoints(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    if old is not None:
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        subset, path = as_dict(subset), index("subsets", i)
        addresses, not_ready = as_list(subset.get("addresses")), as_list(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            causes.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(addresses):
            causes.extend(_endpoint_address(as_dict(address), index(child(path, "addresses"), j)))
        for j, address in enumerate(not_ready):
            causes.extend(_endpoint_address(as_dict(address), index(child(path, "notReadyAddresses"), j)))
        ports = as_list(subset.get("ports"))
        for j, port in enumerate(ports):
            causes.extend(_endpoint_port(as_dict(port), len(ports) > 1, index(child(path, "ports"), j)))
    return causes


# --------------------------------------------------------------------------- EndpointSlice
_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
_MAX_ENDPOINTS = 1000
_MAX_ADDRESSES = 100
_MAX_PORTS = 20000
_MAX_TOPOLOGY_LABELS = 16


def _fqdn_errors(name: str, path: str) -> list[Cause]:
    if not name:
        return [required(path, "")]
    name = name[:-1] if name.endswith(".") else name
    errs = names.is_dns1123_subdomain(name)
    if errs:
        return [invalid(path, name, ",".join(errs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in labels:
        errs = names.is_dns1123_label(label)
        if errs:
            return [invalid(path, label, ",".join(errs))]
    return []


def _slice_address(address: str, address_type: str, path: str) -> list[Cause]:
    if address_type in ("IPv4", "IPv6"):
        ip = names.parse_ip_sloppy(address)
        family_ok = ip is not None and (
            (address_type == "IPv4" and (isinstance(ip, ipaddress.IPv4Address)))
            or (address_type == "IPv6" and isinstance(ip, ipaddress.IPv6Address))
        )
        if not family_ok:
            return [invalid(path, address, f"must be a valid {address_type} address")]
        return non_special_ip(address, path)
    if address_type == "FQDN":
        return _fqdn_errors(address, path)
    return []


def validate_endpoint_slice(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
    address_type = as_str(obj.get("addressType"))
    endpoints = as_list(obj.get("endpoints"))
    if len(endpoints) > _MAX_ENDPOINTS:
        causes.append(too_many("endpoints", len(endpoints), _MAX_ENDPOINTS))
    else:
        for i, endpoint in enumerate(endpoints):
            endpoint, path = as_dict(endpoint), index("endpoints", i)
            addresses = as_list(endpoint.get("addresses"))
            address_path = child(path, "addresses")
            if not addresses:
                causes.append(required(address_path, "must contain at least 1 address"))
            elif len(addresses) > _MAX_ADDRESSES:
                causes.append(too_many(address_path, len(addresses), _MAX_ADDRESSES))
            for j, address in enumerate(addresses):
                causes.extend(_slice_address(as_str(address), address_type, index(address_path, j)))
            if endpoint.get("nodeName") is not None:
                node = as_str(endpoint.get("nodeName"))
                causes.extend(invalid(child(path, "nodeName"), node, m) for m in names.name_is_dns_subdomain(node))
            topology = as_dict(endpoint.get("deprecatedTopology"))
            topology_path = child(path, "deprecatedTopology")
            if len(topology) > _MAX_TOPOLOGY_LABELS:
                causes.append(too_many(topology_path, len(topology), _MAX_TOPOLOGY_LABELS))
            causes.extend(validate_labels(topology, topology_path))
            if endpoint.get("hostname") is not None:
                hostname = as_str(endpoint.get("hostname"))
                causes.extend(invalid(child(path, "hostname"), hostname, m) for m in names.is_dns1123_label(hostname))
    ports = as_list(obj.get("ports"))
    if len(ports) > _MAX_PORTS:
        causes.append(too_many("ports", len(ports), _MAX_PORTS))
    else:
        seen: set[str] = set()
        for i, port in enumerate(ports):
            port, path = as_dict(port), index("ports", i)
            name = as_str(port.get("name"))
            if name:
                causes.extend(invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(name))
            if name in seen:
                causes.append(duplicate(child(path, "name"), name))
            seen.add(name)
            protocol = port.get("protocol")
            if protocol is None:
                causes.append(required(child(path, "protocol"), ""))
            elif protocol not in _PROTOCOLS:
                causes.append(not_supported(child(path, "protocol"), protocol, _PROTOCOLS))
            if port.get("appProtocol") is not None:
                causes.extend(validate_qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol")))
    if old is None:
        if not address_type:
            causes.append(required("addressType", ""))
        elif address_type not in _ADDRESS_TYPES:
            causes.append(not_supported("addressType", address_type, _ADDRESS_TYPES))
    elif address_type != as_str(old.get("addressType")):
        causes.append(invalid("addressType", address_type, "field is immutable"))
    return causes


# --------------------------------------------------------------------------- NetworkPolicy
def _policy_port(port: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        causes.append(not_supported(child(path, "protocol"), protocol, ["TCP", "UDP", "SCTP"]))
    number, end_port = port.get("port"), int_field(port.get("endPort"))
    if number is not None:
        if isinstance(number, str):
            if end_port is not None:
                causes.append(invalid(child(path, "endPort"), end_port, "may not be specified when `port` is non-numeric"))
            causes.extend(invalid(child(path, "port"), number, m) for m in names.is_valid_port_name(number))
        else:
            value = int_field(number) or 0
            causes.extend(invalid(child(path, "port"), value, m) for m in names.is_valid_port_num(value))
            if end_port is not None:
                if end_port < value:
                    causes.append(invalid(child(path, "endPort"), end_port, "must be greater than or equal to `port`"))
                causes.extend(invalid(child(path, "endPort"), end_port, m) for m in names.is_valid_port_num(end_port))
    elif end_port is not None:
        causes.append(invalid(child(path, "endPort"), end_port, "may not be specified when `port` is not specified"))
    return causes


def _ip_block(block: Obj, path: str, allowed: set[str]) -> list[Cause]:
    cidr = as_str(block.get("cidr"))
    if not cidr:
        return [required(child(path, "cidr"), "")]
    causes: list[Cause] = []
    if cidr not in allowed:
        causes.extend(invalid(child(path, "cidr"), cidr, m) for m in names.is_valid_cidr(cidr))
    network = names.parse_cidr_sloppy(cidr)
    if network is None:
        return causes
    for i, except_text in enumerate(as_list(block.get("except"))):
        except_text = as_str(except_text)
        except_path = index(child(path, "except"), i)
        if except_text not in allowed:
            causes.extend(invalid(except_path, except_text, m) for m in names.is_valid_cidr(except_text))
        except_net = names.parse_cidr_sloppy(except_text)
        if except_net is None:
            continue
        contained = except_net.version == network.version and except_net.network_address in network
        if not contained or network.prefixlen >= except_net.prefixlen:
            causes.append(invalid(except_path, except_text, "must be a strict subset of `cidr`"))
    return causes


def _policy_peer(peer: Obj, path: str, allowed: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    for field in ("podSelector", "namespaceSelector"):
        if peer.get(field) is not None:
            count += 1
            causes.extend(validate_label_selector(peer.get(field), child(path, field)))
    if peer.get("ipBlock") is not None:
        count += 1
        causes.extend(_ip_block(as_dict(peer.get("ipBlock")), child(path, "ipBlock"), allowed))
    if count == 0:
        causes.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        causes.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def _existing_cidrs(spec: Obj) -> set[str]:
    found: set[str] = set()
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for rule in as_list(spec.get(direction)):
            for peer in as_list(as_dict(rule).get(peers)):
                block = as_dict(as_dict(peer).get("ipBlock"))
                if block:
                    found.add(as_str(block.get("cidr")))
                    found.update(as_str(e) for e in as_list(block.get("except")))
    return found


def validate_network_policy(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    spec = as_dict(obj.get("spec"))
    allowed = _existing_cidrs(as_dict(old.get("spec"))) if old is not None else set()
    causes.extend(validate_label_selector(spec.get("podSelector") or {}, "spec.podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_list(spec.get(direction))):
            rule, rule_path = as_dict(rule), index(child("spec", direction), i)
            for j, port in enumerate(as_list(rule.get("ports"))):
                causes.extend(_policy_port(as_dict(port), index(child(rule_path, "ports"), j)))
            for j, peer in enumerate(as_list(rule.get(peers))):
                causes.extend(_policy_peer(as_dict(peer), index(child(rule_path, peers), j), allowed))
    types = as_list(spec.get("policyTypes"))
    if len(types) > 2:
        causes.append(invalid("spec.policyTypes", go_string_slice(types, "networking.PolicyType"), "may not specify more than two policyTypes"))
        return causes
    for i, policy_type in enumerate(types):
        if policy_type not in ("Ingress", "Egress"):
            causes.append(not_supported(index("spec.policyTypes", i), policy_type, ["Ingress", "Egress"]))
    return causes


# --------------------------------------------------------------------------- Ingress
_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _host(host: str, path: str) -> list[Cause]:
    if "*" in host:
        return [invalid(path, host, m) for m in names.is_wildcard_dns1123_subdomain(host)]
    return [invalid(path, host, m) for m in names.is_dns1123_subdomain(host)]


def _typed_reference(ref: Obj, path: str) -> list[Cause]:
    """validateIngressTypedLocalObjectReference (also used for IngressClass parameters)."""
    causes: list[Cause] = []
    if ref.get("apiGroup") is not None:
        group = as_str(ref.get("apiGroup"))
        causes.extend(invalid(child(path, "apiGroup"), group, m) for m in names.is_dns1123_subdomain(group))
    causes.extend(validate_kind_and_name(ref, path))
    return causes


def _ingress_backend(backend: Obj, path: str) -> list[Cause]:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(as_dict(resource), child(path, "resource"))
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    service = as_dict(service)
    causes: list[Cause] = []
    name = as_str(service.get("name"))
    if not name:
        causes.append(required(child(path, "service", "name"), ""))
    else:
        causes.extend(invalid(child(path, "service", "name"), name, m) for m in names.name_is_dns1035_label(name))
    port = as_dict(service.get("port"))
    port_name, port_number = as_str(port.get("name")), int_field(port.get("number")) or 0
    if port_name and port_number:
        causes.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes.extend(invalid(child(path, "service", "port", "name"), port_name, m) for m in names.is_valid_port_name(port_name))
    elif port_number:
        causes.extend(invalid(child(path, "service", "port", "number"), port_number, m) for m in names.is_valid_port_num(port_number))
    else:
        causes.append(required(path, "port name or number is required"))
    return causes


def _http_path(http_path: Obj, path: str) -> list[Cause]:
    path_type = http_path.get("pathType")
    if path_type is None:
        return [required(child(path, "pathType"), "pathType must be specified")]
    value = as_str(http_path.get("path"))
    causes: list[Cause] = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(invalid(child(path, "path"), value, "must be an absolute path"))
        if value:
            for sequence in _INVALID_PATH_SEQUENCES:
                if sequence in value:
                    causes.append(invalid(child(path, "path"), value, f"must not contain '{sequence}'"))
            for suffix in _INVALID_PATH_SUFFIXES:
                if value.endswith(suffix):
                    causes.append(invalid(child(path, "path"), value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(invalid(child(path, "path"), value, "must be an absolute path"))
    else:
        causes.append(not_supported(child(path, "pathType"), path_type, _PATH_TYPES))
    causes.extend(_ingress_backend(as_dict(http_path.get("backend")), child(path, "backend")))
    return causes


def _rule_value_errors(rule: Obj, path: str) -> list[Cause]:
    http = rule.get("http")
    if not isinstance(http, dict):
        return []
    paths = as_list(http.get("paths"))
    causes = [] if paths else [required(child(path, "http", "paths"), "")]
    for i, http_path in enumerate(paths):
        causes.extend(_http_path(as_dict(http_path), index(child(path, "http", "paths"), i)))
    return causes


def _allows_invalid_wildcard_rules(old: Obj | None) -> bool:
    for rule in as_list(as_dict((old or {}).get("spec")).get("rules")):
        rule = as_dict(rule)
        if "*" in as_str(rule.get("host")) and _rule_value_errors(rule, ""):
            return True
    return False


def _allows_invalid_secret_names(old: Obj | None) -> bool:
    for tls in as_list(as_dict((old or {}).get("spec")).get("tls")):
        secret = as_str(as_dict(tls).get("secretName"))
        if secret and names.is_dns1123_subdomain(secret):
            return True
    return False


def _ingress_spec(spec: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    rules = spec.get("rules")
    if not as_list(rules) and spec.get("defaultBackend") is None:
        shown = GoText("[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}")
        causes.append(invalid("spec", shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        causes.extend(_ingress_backend(as_dict(spec.get("defaultBackend")), "spec.defaultBackend"))
    skip_wildcards = _allows_invalid_wildcard_rules(old)
    for i, rule in enumerate(as_list(rules)):
        rule, rule_path = as_dict(rule), index("spec.rules", i)
        host = as_str(rule.get("host"))
        wildcard = False
        if host:
            if names.parse_ip_sloppy(host) is not None:
                causes.append(invalid(child(rule_path, "host"), host, "must be a DNS name, not an IP address"))
            causes.extend(_host(host, child(rule_path, "host")))
            wildcard = "*" in host
        if not wildcard or not skip_wildcards:
            causes.extend(_rule_value_errors(rule, rule_path))
    allow_bad_secrets = _allows_invalid_secret_names(old)
    for i, tls in enumerate(as_list(spec.get("tls"))):
        tls, tls_path = as_dict(tls), index("spec.tls", i)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            causes.extend(_host(as_str(host), index(child(tls_path, "hosts"), j)))
        secret = as_str(tls.get("secretName"))
        if secret and not allow_bad_secrets:
            causes.extend(invalid(child(tls_path, "secretName"), secret, m) for m in names.is_dns1123_subdomain(secret))
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        text = as_str(class_name)
        causes.extend(invalid("spec.ingressClassName", text, m) for m in names.name_is_dns_subdomain(text))
    return causes


def validate_ingress(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    if old is not None:
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    spec = as_dict(obj.get("spec"))
    causes.extend(_ingress_spec(spec, old))
    if old is None:
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        class_name = spec.get("ingressClassName")
        annotation = annotations.get(_INGRESS_CLASS_ANNOTATION)
        if annotation is not None and class_name is not None and annotation != class_name:
            causes.append(
                invalid(
                    child("annotations", _INGRESS_CLASS_ANNOTATION),
                    as_str(annotation),
                    "must match `ingressClassName` when both are specified",
                )
            )
    return causes


def _ingress_class_parameters(params: Obj, path: str) -> list[Cause]:
    causes = _typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        causes.append(required(child(path, "scope"), ""))
        return causes
    if scope not in ("Cluster", "Namespace"):
        causes.append(not_supported(child(path, "scope"), scope, ["Cluster", "Namespace"]))
    elif scope == "Namespace":
        namespace = params.get("namespace")
        if namespace is None:
            causes.append(required(child(path, "namespace"), "`parameters.scope` is set to 'Namespace'"))
        else:
            text = as_str(namespace)
            causes.extend(invalid(child(path, "namespace"), text, m) for m in names.name_is_dns_label(text))
    elif params.get("namespace") is not None:
        causes.append(forbidden(child(path, "namespace"), "`parameters.scope` is set to 'Cluster'"))
    return causes


def validate_ingress_class(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, False)
    spec = as_dict(obj.get("spec"))
    if old is not None:
        old_controller = as_str(as_dict(old.get("spec")).get("controller"))
        if as_str(spec.get("controller")) != old_controller:
            causes.append(invalid("spec.controller", as_str(spec.get("controller")), "field is immutable"))
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, False))
    controller = as_str(spec.get("controller"))
    if not controller:
        causes.append(required("spec.controller", ""))
    else:
        if len(controller) > 250:
            causes.append(too_long("spec.controller", 250))
        for bad, message in names.is_domain_prefixed_path(controller):
            causes.append(invalid("spec.controller", bad, message))
    if isinstance(spec.get("parameters"), dict):
        causes.extend(_ingress_class_parameters(spec["parameters"], "spec.parameters"))
    return causes
