"""A Service spec as upstream's strategy prepares it for validation and storage."""

from __future__ import annotations

from kubelite.schema.servicefields import prepare_service_spec


def test_create_fills_cluster_ips_from_cluster_ip() -> None:
    assert prepare_service_spec({"clusterIP": "None"}, None)["clusterIPs"] == ["None"]
    assert "clusterIPs" not in prepare_service_spec({}, None)


def test_update_carries_allocated_values_over() -> None:
    old = {
        "type": "NodePort",
        "clusterIP": "10.0.0.5",
        "clusterIPs": ["10.0.0.5"],
        "ports": [{"name": "http", "port": 80, "nodePort": 30080}],
    }
    new = prepare_service_spec({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}, old)
    assert new["clusterIP"] == "10.0.0.5" and new["clusterIPs"] == ["10.0.0.5"]
    assert new["ports"][0]["nodePort"] == 30080


def test_type_change_drops_unchanged_dependent_fields() -> None:
    old = {
        "type": "LoadBalancer",
        "clusterIP": "10.0.0.5",
        "clusterIPs": ["10.0.0.5"],
        "ports": [{"port": 80, "nodePort": 30080}],
        "externalTrafficPolicy": "Cluster",
        "allocateLoadBalancerNodePorts": True,
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
    }
    new = prepare_service_spec({**old, "type": "ClusterIP"}, old)
    assert "nodePort" not in new["ports"][0]
    assert "externalTrafficPolicy" not in new and "allocateLoadBalancerNodePorts" not in new
    external = prepare_service_spec({**old, "type": "ExternalName", "externalName": "db.example.com"}, old)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(external)
    assert old["ports"][0]["nodePort"] == 30080, "inputs are not changed"
