"""Service ClusterIP and NodePort allocation: the allocators on their own, and through the
services Store (no collisions, requested values, conflicts, release on delete, kept on update)."""

from __future__ import annotations

import asyncio
import copy
import ipaddress

import pytest
from registry_harness import ctx, expect_status, service, store_of

from kubelite.registry import allocators
from kubelite.registry.allocators import NodePortAllocator, ServiceIPAllocator
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions

SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")

# ---------------------------------------------------------------- the allocators alone


def test_ip_allocator_picks_free_addresses_inside_the_range() -> None:
    allocator = ServiceIPAllocator()
    used: set[str] = set()
    for _ in range(300):
        ip = allocator.allocate(None, used)
        assert ipaddress.ip_address(ip) in SERVICE_CIDR
        assert ip not in used
        assert ip not in ("10.43.0.0", "10.43.255.255", "10.43.0.1", "10.43.0.10")
        used.add(ip)


def test_ip_allocator_fills_a_small_range_then_reports_full() -> None:
    allocator = ServiceIPAllocator("192.168.7.0/29", reserved=("192.168.7.1",))
    used: set[str] = set()
    for _ in range(5):  # .2 .. .6: network, broadcast and the reserved .1 are never handed out
        used.add(allocator.allocate(None, used))
    assert used == {f"192.168.7.{i}" for i in range(2, 7)}
    with pytest.raises(ValueError, match="range is full"):
        allocator.allocate(None, used)


def test_ip_allocator_requested_addresses() -> None:
    allocator = ServiceIPAllocator()
    assert allocator.allocate("10.43.7.7", set()) == "10.43.7.7"
    assert allocator.allocate("None", {"None"}) == "None"
    with pytest.raises(ValueError, match="provided IP is already allocated"):
        allocator.allocate("10.43.7.7", {"10.43.7.7"})
    with pytest.raises(ValueError, match="not in the valid range"):
        allocator.allocate("10.44.0.1", set())
    with pytest.raises(ValueError, match="valid IP address"):
        allocator.allocate("not-an-ip", set())


def test_node_port_allocator() -> None:
    allocator = NodePortAllocator()
    used: set[int] = set()
    for _ in range(200):
        port = allocator.allocate(None, used)
        assert 30000 <= port <= 32767 and port not in used
        used.add(port)
    assert allocator.allocate(30080, set()) == 30080
    with pytest.raises(ValueError, match="already allocated"):
        allocator.allocate(30080, {30080})
    with pytest.raises(ValueError, match="valid range"):
        allocator.allocate(80, set())
    small = NodePortAllocator(31000, 31002)
    taken = {small.allocate(None, set())}
    taken.add(small.allocate(None, taken))
    taken.add(small.allocate(None, taken))
    assert taken == {31000, 31001, 31002}
    with pytest.raises(ValueError, match="range is full"):
        small.allocate(None, taken)


# ---------------------------------------------------------------- through the services store


async def test_two_hundred_services_get_distinct_cluster_ips(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    ips = []
    for i in range(200):
        created = await services.create("default", service(f"svc-{i}"), ctx())
        spec = created["spec"]
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        ips.append(spec["clusterIP"])
    assert len(set(ips)) == 200
    for ip in ips:
        assert ipaddress.ip_address(ip) in SERVICE_CIDR
        assert ip not in ("10.43.0.0", "10.43.255.255", "10.43.0.1", "10.43.0.10")


async def test_concurrent_creates_get_distinct_cluster_ips(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every allocation starts its search at the same address: only real bookkeeping keeps them apart
    monkeypatch.setattr(allocators.random, "randrange", lambda size: 0)
    services = store_of(registry, "", "services")
    results = await asyncio.gather(
        *(services.create("default", service(f"svc-{i}"), ctx()) for i in range(10)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, dict)]
    ips = [obj["spec"]["clusterIP"] for obj in created]
    assert len(created) == 10, f"creates failed: {[r for r in results if not isinstance(r, dict)]}"
    assert len(set(ips)) == 10, f"duplicate cluster IPs: {sorted(ips)}"


async def test_concurrent_creates_get_distinct_node_ports(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(allocators.random, "randrange", lambda size: 0)
    services = store_of(registry, "", "services")
    results = await asyncio.gather(
        *(services.create("default", service(f"np-{i}", kind="NodePort"), ctx()) for i in range(10)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, dict)]
    assert len(created) == 10, f"creates failed: {[r for r in results if not isinstance(r, dict)]}"
    ports = [obj["spec"]["ports"][0]["nodePort"] for obj in created]
    assert len(set(ports)) == 10, f"duplicate node ports: {sorted(ports)}"


async def test_requested_cluster_ip_is_honoured(registry: Registry) -> None:
    created = await store_of(registry, "", "services").create(
        "default", service("fixed", cluster_ip="10.43.100.7"), ctx()
    )
    assert created["spec"]["clusterIP"] == "10.43.100.7"
    assert created["spec"]["clusterIPs"] == ["10.43.100.7"]


async def test_requested_cluster_ip_already_in_use_is_invalid(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    first = await services.create("default", service("first"), ctx())
    taken = first["spec"]["clusterIP"]
    error = await expect_status(
        services.create("default", service("second", cluster_ip=taken), ctx()), 422, "Invalid"
    )
    # upstream: field.Invalid(spec.clusterIPs, service.Spec.ClusterIPs, ...) prints the value as a Go []string
    assert error.message == (
        f'Service "second" is invalid: spec.clusterIPs: Invalid value: []string{{"{taken}"}}: '
        f"failed to allocate IP {taken}: provided IP is already allocated"
    )
    assert error.details is not None
    assert [c["field"] for c in error.details["causes"]] == ["spec.clusterIPs"]
    await expect_status(services.get("default", "second"), 404, "NotFound")


async def test_requested_cluster_ip_outside_the_range_is_invalid(registry: Registry) -> None:
    error = await expect_status(
        store_of(registry, "", "services").create("default", service("out", cluster_ip="192.168.0.5"), ctx()),
        422,
        "Invalid",
    )
    assert "not in the valid range" in error.message


async def test_headless_service_gets_no_address(registry: Registry) -> None:
    created = await store_of(registry, "", "services").create(
        "default", service("headless", cluster_ip="None"), ctx()
    )
    assert created["spec"]["clusterIP"] == "None"
    assert created["spec"]["clusterIPs"] == ["None"]
    # many headless services are fine
    await store_of(registry, "", "services").create(
        "default", service("headless-2", cluster_ip="None"), ctx()
    )


async def test_deleted_service_frees_its_cluster_ip(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    first = await services.create("default", service("first"), ctx())
    ip = first["spec"]["clusterIP"]
    await services.delete("default", "first", DeleteOptions(), ctx())
    again = await services.create("default", service("second", cluster_ip=ip), ctx())
    assert again["spec"]["clusterIP"] == ip


async def test_cluster_ip_is_kept_on_update_when_omitted(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    created = await services.create("default", service("web"), ctx())
    ip = created["spec"]["clusterIP"]
    replacement = service("web", port=8080)  # no clusterIP, as a client rebuilding the object would send
    replacement["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    updated, _ = await services.update("default", "web", replacement, ctx())
    assert updated["spec"]["clusterIP"] == ip
    assert updated["spec"]["clusterIPs"] == [ip]
    assert updated["spec"]["ports"][0]["port"] == 8080


async def test_cluster_ip_cannot_change(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    created = await services.create("default", service("web"), ctx())
    changed = copy.deepcopy(created)
    changed["spec"]["clusterIP"] = "10.43.99.99"
    changed["spec"]["clusterIPs"] = ["10.43.99.99"]
    error = await expect_status(services.update("default", "web", changed, ctx()), 422, "Invalid")
    assert (
        'spec.clusterIPs[0]: Invalid value: []string{"10.43.99.99"}: may not change once set' in error.message
    )
    assert (await services.get("default", "web"))["spec"]["clusterIP"] == created["spec"]["clusterIP"]


async def test_node_port_is_allocated_in_range(registry: Registry) -> None:
    created = await store_of(registry, "", "services").create(
        "default", service("np", kind="NodePort"), ctx()
    )
    port = created["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767


async def test_cluster_ip_services_may_not_ask_for_a_node_port(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    error = await expect_status(
        services.create("default", service("plain", node_port=30123), ctx()), 422, "Invalid"
    )
    assert "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in error.message
    created = await services.create("default", service("plain"), ctx())
    assert "nodePort" not in created["spec"]["ports"][0]


async def test_requested_node_port_conflict_is_invalid(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    first = await services.create("default", service("a", kind="NodePort", node_port=30500), ctx())
    assert first["spec"]["ports"][0]["nodePort"] == 30500
    error = await expect_status(
        services.create("default", service("b", kind="NodePort", node_port=30500), ctx()), 422, "Invalid"
    )
    assert error.message.startswith('Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30500: ')
    assert "provided port is already allocated" in error.message


async def test_node_port_outside_the_range_is_invalid(registry: Registry) -> None:
    error = await expect_status(
        store_of(registry, "", "services").create(
            "default", service("low", kind="NodePort", node_port=80), ctx()
        ),
        422,
        "Invalid",
    )
    assert "spec.ports[0].nodePort" in error.message
    assert "30000-32767" in error.message


async def test_node_port_is_freed_on_delete_and_reusable(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    first = await services.create("default", service("a", kind="NodePort"), ctx())
    port = first["spec"]["ports"][0]["nodePort"]
    await services.delete("default", "a", DeleteOptions(), ctx())
    reused = await services.create("default", service("b", kind="NodePort", node_port=port), ctx())
    assert reused["spec"]["ports"][0]["nodePort"] == port


async def test_node_port_is_kept_on_update_when_omitted(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    created = await services.create("default", service("np", kind="NodePort"), ctx())
    port = created["spec"]["ports"][0]["nodePort"]
    replacement = service("np", kind="NodePort")
    updated, _ = await services.update("default", "np", replacement, ctx())
    assert updated["spec"]["ports"][0]["nodePort"] == port
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]


async def test_update_may_keep_its_own_node_port(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    created = await services.create("default", service("np", kind="NodePort"), ctx())
    created["metadata"]["labels"] = {"touched": "yes"}
    updated, _ = await services.update("default", "np", created, ctx())
    assert updated["spec"]["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]


async def test_switching_to_cluster_ip_releases_the_node_port(registry: Registry) -> None:
    services = store_of(registry, "", "services")
    created = await services.create("default", service("np", kind="NodePort"), ctx())
    port = created["spec"]["ports"][0]["nodePort"]
    created["spec"]["type"] = "ClusterIP"
    del created["spec"]["ports"][0]["nodePort"]
    created.get("spec", {}).pop("externalTrafficPolicy", None)
    updated, _ = await services.update("default", "np", created, ctx())
    assert "nodePort" not in updated["spec"]["ports"][0]
    other = await services.create("default", service("other", kind="NodePort", node_port=port), ctx())
    assert other["spec"]["ports"][0]["nodePort"] == port


async def test_external_name_service_gets_no_cluster_ip(registry: Registry) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }
    created = await store_of(registry, "", "services").create("default", obj, ctx())
    assert "clusterIP" not in created["spec"]
