"""Services, Endpoints, EndpointSlices, Ingresses, IngressClasses and NetworkPolicies validate with
upstream's messages and field paths."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.schema.defaults import apply_defaults
from kubelite.schema.kindvalidation import validate_object

Obj = dict[str, Any]


def errors(resource: str, group: str, obj: Obj, old: Obj | None = None) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_object(resource, group, obj, old)]


def service(spec: Obj, name: str = "web") -> Obj:
    obj: Obj = {"metadata": {"name": name, "namespace": "default"}, "spec": spec}
    apply_defaults("services", "", obj)
    return obj


# --------------------------------------------------------------------------- Service
def test_plain_service_is_valid() -> None:
    assert errors("services", "", service({"selector": {"app": "web"}, "ports": [{"port": 80}]})) == []


def test_service_duplicate_and_missing_port_names() -> None:
    obj = service({"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}, {"port": 70000}]})
    assert errors("services", "", obj) == [
        'spec.ports[1].name: Duplicate value: "http"',
        "spec.ports[2].name: Required value",
        "spec.ports[2].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ports[2].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ]


def test_service_duplicate_port_and_protocol() -> None:
    obj = service({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]})
    assert errors("services", "", obj) == [
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    ]


def test_service_name_is_a_dns1035_label() -> None:
    obj = service({"ports": [{"port": 80}]}, name="1web")
    assert errors("services", "", obj) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


def test_service_ports_required_unless_headless_or_external_name() -> None:
    assert errors("services", "", service({})) == ["spec.ports: Required value"]
    assert errors("services", "", service({"clusterIP": "None"})) == []
    assert errors("services", "", service({"type": "ExternalName"})) == ["spec.externalName: Required value"]
    assert errors("services", "", service({"type": "ExternalName", "externalName": "db.example.com."})) == []


def test_service_node_port_only_for_node_port_types() -> None:
    obj = service({"ports": [{"port": 80, "nodePort": 30080}]})
    assert errors("services", "", obj) == ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    obj = service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})
    assert errors("services", "", obj) == []


def test_service_type_and_session_affinity_values() -> None:
    obj = service({"type": "Magic", "sessionAffinity": "Sticky", "ports": [{"port": 80, "protocol": "ICMP"}]})
    assert errors("services", "", obj) == [
        'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]


def test_service_client_ip_timeout_range() -> None:
    obj = service({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}, "ports": [{"port": 80}]})
    assert errors("services", "", obj) == [
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"
    ]


def test_service_cluster_ip_may_not_change() -> None:
    old = service({"ports": [{"port": 80}], "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]})
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    assert errors("services", "", new, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set'
    ]


def test_service_update_without_cluster_ip_keeps_the_allocated_one() -> None:
    old = service({"ports": [{"port": 80}], "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]})
    new = service({"ports": [{"port": 80}]})
    assert errors("services", "", new, old) == []


def test_service_type_change_drops_unchanged_node_ports_and_policy() -> None:
    old = service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    assert errors("services", "", new, old) == []


def test_service_external_ips_and_traffic_policy() -> None:
    obj = service({"ports": [{"port": 80}], "externalIPs": ["127.0.0.1", "nope"]})
    obj["spec"]["externalTrafficPolicy"] = "Sideways"
    assert errors("services", "", obj) == [
        'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'spec.externalIPs[1]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'spec.externalTrafficPolicy: Unsupported value: "Sideways": supported values: "Cluster", "Local"',
    ]


# --------------------------------------------------------------------------- Endpoints / EndpointSlice
def test_endpoints_addresses() -> None:
    obj = {
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "169.254.1.1"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}, {}],
    }
    assert errors("endpoints", "", obj) == [
        'subsets[0].addresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
    ]


def test_endpoint_slice_rules() -> None:
    obj: Obj = {
        "metadata": {"name": "web-abc", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["fd00::1"]}, {"addresses": []}],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    }
    assert errors("endpointslices", "discovery.k8s.io", obj) == [
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
        "endpoints[1].addresses: Required value: must contain at least 1 address",
    ]
    obj["addressType"] = "IPv5"
    assert errors("endpointslices", "discovery.k8s.io", {**obj, "endpoints": []}) == [
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"'
    ]
    old = {**obj, "addressType": "IPv4", "endpoints": []}
    assert errors("endpointslices", "discovery.k8s.io", {**old, "addressType": "IPv6"}, old) == [
        'addressType: Invalid value: "IPv6": field is immutable'
    ]


# --------------------------------------------------------------------------- Ingress / IngressClass
def ingress(rules: list[Obj]) -> Obj:
    return {"metadata": {"name": "ing", "namespace": "default"}, "spec": {"rules": rules}}


def test_ingress_needs_rules_or_default_backend() -> None:
    assert errors("ingresses", "networking.k8s.io", {"metadata": {"name": "i", "namespace": "d"}, "spec": {}}) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
    ]


def test_ingress_paths_hosts_and_backends() -> None:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    obj = ingress(
        [
            {"host": "*.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}},
            {"host": "1.2.3.4", "http": {"paths": [{"path": "api", "pathType": "Exact", "backend": backend}]}},
            {"http": {"paths": [{"path": "/x", "backend": backend}, {"path": "/y", "pathType": "Regex", "backend": {}}]}},
            {"host": "a..b", "http": {"paths": [{"path": "/z", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}]}},
        ]
    )
    found = errors("ingresses", "networking.k8s.io", obj)
    assert found[:4] == [
        'spec.rules[1].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address',
        'spec.rules[1].http.paths[0].path: Invalid value: "api": must be an absolute path',
        "spec.rules[2].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[2].http.paths[1].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"',
    ]
    assert found[4:] == [
        'spec.rules[2].http.paths[1].backend: Invalid value: "": resource or service backend is required',
        'spec.rules[3].host: Invalid value: "a..b": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "spec.rules[3].http.paths[0].backend: Required value: port name or number is required",
    ]


def test_ingress_backend_service_and_resource_are_exclusive() -> None:
    both = {"service": {"name": "web", "port": {"number": 80}}, "resource": {"kind": "Bucket", "name": "b"}}
    obj = ingress([{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": both}]}}])
    assert errors("ingresses", "networking.k8s.io", obj) == [
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends'
    ]


def test_ingress_class_controller() -> None:
    obj: Obj = {"metadata": {"name": "nginx"}, "spec": {"controller": "nginx"}}
    assert errors("ingressclasses", "networking.k8s.io", obj) == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'
    ]
    old = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    new = {"metadata": {"name": "nginx"}, "spec": {"controller": "example.com/other"}}
    assert errors("ingressclasses", "networking.k8s.io", new, old) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable'
    ]


# --------------------------------------------------------------------------- NetworkPolicy
def test_network_policy_types_ports_and_peers() -> None:
    obj: Obj = {
        "metadata": {"name": "np", "namespace": "default"},
        "spec": {
            "podSelector": {},
            "ingress": [{"ports": [{"port": 70000, "protocol": "TCP"}, {"port": "http", "endPort": 90}], "from": [{}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}, "podSelector": {}}]}],
            "policyTypes": ["Ingress", "Sideways"],
        },
    }
    assert errors("networkpolicies", "networking.k8s.io", obj) == [
        "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of `cidr`',
        "spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer",
        'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]
