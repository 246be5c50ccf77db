"""The hollow runtime: IPs from the pod CIDR (freed on remove), containers that start at once,
scripted completions on the injected clock, idempotent calls and recovery listings."""

from __future__ import annotations

import ipaddress

import pytest

from kubelite.client.clock import FakeClock
from kubelite.runtime.hollow import HollowRuntime, script_outcome
from kubelite.runtime.ipam import PodIPAM, PoolExhausted


def make_pod(uid: str, *containers: dict, init: list[dict] | None = None, host_network: bool = False) -> dict:
    spec: dict = {"containers": list(containers) or [{"name": "app", "image": "nginx:1.27"}]}
    if init:
        spec["initContainers"] = init
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"uid": uid, "name": f"p-{uid}", "namespace": "ns"}, "spec": spec}


async def test_sandboxes_get_distinct_ips_in_the_cidr_and_free_them() -> None:
    runtime = HollowRuntime()
    await runtime.update_pod_cidr("10.42.3.0/24")
    network = ipaddress.ip_network("10.42.3.0/24")
    first = await runtime.run_pod_sandbox(make_pod("a"))
    second = await runtime.run_pod_sandbox(make_pod("b"))
    assert first.ip == "10.42.3.2" and second.ip == "10.42.3.3"
    assert ipaddress.ip_address(first.ip) in network
    assert (await runtime.run_pod_sandbox(make_pod("a"))).ip == first.ip  # idempotent
    assert runtime.allocated_ips == 2
    await runtime.remove_pod("a")
    assert runtime.allocated_ips == 1
    assert await runtime.pod_status("a") is None
    assert (await runtime.run_pod_sandbox(make_pod("c"))).ip == "10.42.3.4"  # round robin, not reused at once


async def test_host_network_pods_take_no_ip_and_no_cidr_is_an_error() -> None:
    runtime = HollowRuntime()
    with pytest.raises(RuntimeError):
        await runtime.run_pod_sandbox(make_pod("a"))
    await runtime.update_pod_cidr("10.42.0.0/24")
    assert (await runtime.run_pod_sandbox(make_pod("h", host_network=True))).ip == ""
    assert runtime.allocated_ips == 0


def test_ipam_exhausts_and_wraps() -> None:
    ipam = PodIPAM("10.0.0.0/29")  # .2 - .6
    got = [ipam.allocate(str(i)) for i in range(5)]
    assert got == [f"10.0.0.{i}" for i in range(2, 7)]
    with pytest.raises(PoolExhausted):
        ipam.allocate("x")
    ipam.release("1")
    assert ipam.allocate("x") == "10.0.0.3"
    with pytest.raises(ValueError):
        ipam.reserve("y", "10.0.0.3")


async def test_containers_run_until_stopped_and_restarts_count() -> None:
    runtime = HollowRuntime()
    await runtime.update_pod_cidr("10.42.0.0/24")
    pod = make_pod("a")
    await runtime.run_pod_sandbox(pod)
    started = await runtime.start_container(pod, pod["spec"]["containers"][0])
    assert started.state == "running" and started.restart_count == 0
    assert started.container_id.startswith("hollow://")
    assert (await runtime.start_container(pod, pod["spec"]["containers"][0])) == started  # already running
    await runtime.stop_pod(pod, 30)
    status = await runtime.pod_status("a")
    assert status is not None
    app = status.container("app")
    assert app is not None and app.state == "terminated" and app.exit_code == 0
    again = await runtime.start_container(pod, pod["spec"]["containers"][0])
    assert again.restart_count == 1 and again.container_id != started.container_id
    assert [p.pod_uid for p in await runtime.list_pods()] == ["a"]


def test_script_outcomes() -> None:
    assert script_outcome({"command": ["sleep", "5"]}) == (5.0, 0)
    assert script_outcome({"command": ["sh", "-c"], "args": ["sleep 2; exit 3"]}) == (2.0, 3)
    assert script_outcome({"command": ["/bin/sh", "-c", "false"]}) == (0.0, 1)
    assert script_outcome({"command": ["sh", "-c", "sleep 1 && echo hi"]}) is None
    assert script_outcome({"command": ["nginx"]}) is None
    assert script_outcome({}) is None


async def test_scripted_containers_exit_on_the_clock_and_tell_subscribers() -> None:
    clock = FakeClock()
    runtime = HollowRuntime(time_source=clock, capacity={"cpu": "8"})
    assert runtime.node_capacity()["cpu"] == "8" and runtime.node_capacity()["pods"] == "110"
    changed: list[str] = []
    runtime.subscribe(changed.append)
    await runtime.update_pod_cidr("10.42.0.0/24")
    job = {"name": "job", "image": "busybox", "command": ["sh", "-c", "sleep 30; exit 2"]}
    init = {"name": "init", "image": "busybox", "command": ["setup"]}
    pod = make_pod("a", job, init=[init])
    await runtime.run_pod_sandbox(pod)
    await runtime.start_container(pod, init)
    await runtime.start_container(pod, job)
    # a plain init container completes at once
    status = await runtime.pod_status("a")
    assert status is not None
    init_status, job_status = status.container("init"), status.container("job")
    assert init_status is not None and init_status.state == "terminated" and init_status.exit_code == 0
    assert job_status is not None and job_status.state == "running"
    assert changed == ["a"]
    clock.advance(29)
    assert changed == ["a"]
    clock.advance(1)
    status = await runtime.pod_status("a")
    assert status is not None
    job_status = status.container("job")
    assert job_status is not None and job_status.exit_code == 2 and job_status.reason == "Error"
    assert changed == ["a", "a"]
    assert runtime.node_info().container_runtime_version.startswith("hollow://")
