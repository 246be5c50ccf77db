"""OciRuntime with real runc, conmon, CNI plugins, overlayfs and cgroups (root). Every test uses
its own data dir, bridge, pod CIDR, netns prefix and cgroup parent, talks only to loopback and the
pod IPs it created, and removes everything it made (asserted after each remove_pod)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelite.runtime import containerlogs as logs
from kubelite.runtime.base import ContainerStatus
from kubelite.runtime.oci import cgroups
from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.host import HostSupport
from kubelite.runtime.oci.runtime import OciRuntime
from tests.runtime.oci_harness import (
    WEB,
    RunNames,
    clean_up,
    container,
    footprint,
    http_get,
    leftovers,
    log_contents,
    log_text,
    make_runtime,
    pod,
    require_host,
    store_with_test_images,
    unique_net,
    wait_gone,
    wait_until,
)

CRI_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$")
HTTP_REQUEST = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w2'


@dataclass
class Node:
    runtime: OciRuntime
    net: RunNames
    data_dir: Path
    host: HostSupport

    async def status(self, uid: str, name: str) -> ContainerStatus:
        current = await self.runtime.pod_status(uid)
        assert current is not None
        found = current.container(name)
        assert found is not None, f"no container {name}"
        return found

    async def wait_state(self, uid: str, name: str, state: str, timeout: float = 10.0) -> ContainerStatus:
        async def reached() -> bool:
            return (await self.status(uid, name)).state == state

        await wait_until(reached, timeout)
        return await self.status(uid, name)

    async def wait_log(self, uid: str, name: str, text: str, timeout: float = 10.0) -> None:
        async def logged() -> bool:
            return text in log_text(self.runtime, uid, name)

        await wait_until(logged, timeout)

    async def remove_and_check(self, uid: str) -> None:
        """remove_pod, then nothing of the pod may remain: netns, veth, mount, cgroup, process."""
        status = await self.runtime.pod_status(uid)
        assert status is not None
        before = footprint(self.runtime, status)
        assert before.monitors or not status.containers
        assert before.veths or not status.sandbox.ip
        await self.runtime.remove_pod(uid)
        await wait_gone(before.monitors | before.container_pids)
        assert await self.runtime.pod_status(uid) is None
        assert leftovers(self.runtime, self.net, before) == []


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    data_dir = tmp_path / "data"
    host = require_host(data_dir)
    net = unique_net()
    store_with_test_images(data_dir)
    runtime = make_runtime(data_dir, net, host)
    made = Node(runtime, net, data_dir, host)
    try:
        await runtime.update_pod_cidr(net.cidr)
        yield made
    finally:
        await clean_up(made.runtime, net, data_dir, host)


async def test_pod_ip_localhost_host_to_pod_and_pod_to_pod(node: Node) -> None:
    rt = node.runtime
    web = pod(
        "web",
        container("web", WEB),
        container("client", script=f"sleep 0.3; {HTTP_REQUEST} 127.0.0.1 80; sleep 60"),
    )
    uid = web["metadata"]["uid"]
    sandbox = await rt.run_pod_sandbox(web)
    assert ipaddress.ip_address(sandbox.ip) in ipaddress.ip_network(node.net.cidr)
    assert sandbox.ip != node.net.gateway
    assert await rt.run_pod_sandbox(web) == sandbox  # idempotent
    for spec in web["spec"]["containers"]:
        assert (await rt.start_container(web, spec)).state == "running"
    assert (await rt.start_container(web, web["spec"]["containers"][0])).restart_count == 0  # running: left alone

    await node.wait_log(uid, "client", "web 1 web")  # two containers of one pod over localhost
    assert await rt.exec_sync(uid, "web", ["cat", "/web/VERSION"]) == (0, b"1\n", b"")
    assert (await rt.exec_sync(uid, "web", ["sh", "-c", "echo oops >&2; exit 4"]))[0::2] == (4, b"oops\n")
    assert rt.netns_path(uid) == f"/var/run/netns/{node.net.netns_prefix}{uid.replace('-', '')[:8]}"

    async def host_reaches_pod() -> bool:
        try:
            return "web 1 web" in await asyncio.to_thread(http_get, sandbox.ip)
        except OSError:
            return False

    await wait_until(host_reaches_pod, 5)

    probe = pod(
        "probe",
        container("probe", script=f"{HTTP_REQUEST} {sandbox.ip} 80; hostname; cat /etc/hosts /etc/resolv.conf"),
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["alias.example"]}],
        dnsPolicy="None",
        dnsConfig={"nameservers": ["10.0.0.10"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"}]},
    )
    probe_uid = probe["metadata"]["uid"]
    second = await rt.run_pod_sandbox(probe)
    assert second.ip != sandbox.ip
    await rt.start_container(probe, probe["spec"]["containers"][0])
    done = await node.wait_state(probe_uid, "probe", "terminated")
    assert (done.exit_code, done.reason) == (0, "Completed")
    output = log_contents(rt, probe_uid, "probe")
    assert "web 1 web" in output  # pod to pod
    assert "probe" in output  # the pod's hostname
    assert f"{second.ip}\tprobe" in output
    assert "10.1.2.3\talias.example" in output
    assert "nameserver 10.0.0.10" in output and "search example.test" in output and "options ndots:2" in output

    await node.remove_and_check(probe_uid)
    await node.remove_and_check(uid)
    await rt.remove_pod(uid)  # unknown uids are fine


async def test_exit_codes_logs_termination_messages_and_restarts(node: Node) -> None:
    rt = node.runtime
    events: list[str] = []
    rt.subscribe(events.append)
    exits = pod(
        "exits",
        container("fails", script='echo to-stdout; echo to-stderr >&2; printf partial; echo "bad thing" > /dev/termination-log; exit 3'),
        container("ok", script="exit 0"),
        container("fallback", script="echo last words; exit 2", terminationMessagePolicy="FallbackToLogsOnError"),
    )
    uid = exits["metadata"]["uid"]
    await rt.run_pod_sandbox(exits)
    first_ids = {}
    for spec in exits["spec"]["containers"]:
        first_ids[spec["name"]] = (await rt.start_container(exits, spec)).container_id
    fails = await node.wait_state(uid, "fails", "terminated")
    ok = await node.wait_state(uid, "ok", "terminated")
    fallback = await node.wait_state(uid, "fallback", "terminated")
    assert (fails.exit_code, fails.reason, fails.message, fails.restart_count) == (3, "Error", "bad thing\n", 0)
    assert (ok.exit_code, ok.reason) == (0, "Completed")
    assert (fallback.exit_code, fallback.message) == (2, "last words\n")
    assert fails.started_at is not None and fails.finished_at is not None and fails.finished_at >= fails.started_at
    assert fails.container_id.startswith(node.host.binary.name + "://")
    assert uid in events

    parsed = [logs.parse_line(line.encode()) for line in log_text(rt, uid, "fails").splitlines()]
    assert all(entry is not None and CRI_TIMESTAMP.match(entry.timestamp) for entry in parsed)
    entries = {(e.stream, e.partial, e.content) for e in parsed if e is not None}
    assert {("stdout", False, b"to-stdout"), ("stderr", False, b"to-stderr"), ("stdout", True, b"partial")} <= entries

    again = await rt.start_container(exits, exits["spec"]["containers"][0])
    assert again.restart_count == 1 and again.container_id != first_ids["fails"]
    retried = await node.wait_state(uid, "fails", "terminated")
    assert (retried.exit_code, retried.restart_count) == (3, 1)
    third = await rt.start_container(exits, exits["spec"]["containers"][0])
    assert third.restart_count == 2
    await node.wait_state(uid, "fails", "terminated")
    log_dir = node.data_dir / "pods" / uid / "fails"
    assert sorted(p.name for p in log_dir.iterdir()) == ["1.log", "2.log"]  # the previous attempt's log stays
    assert "to-stdout" in log_text(rt, uid, "fails", 1)

    await node.remove_and_check(uid)


async def test_memory_hog_is_oom_killed_and_limits_reach_cgroups(node: Node) -> None:
    rt = node.runtime
    hog = pod(
        "hog",
        container("hog", script="exec dd if=/dev/zero of=/dev/null bs=64M count=1", resources={"limits": {"memory": "16Mi"}}),
        container("limited", script="sleep 60", resources={"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "32Mi"}}),
    )
    uid = hog["metadata"]["uid"]
    await rt.run_pod_sandbox(hog)
    for spec in hog["spec"]["containers"]:
        await rt.start_container(hog, spec)
    killed = await node.wait_state(uid, "hog", "terminated")
    assert (killed.reason, killed.exit_code) == ("OOMKilled", 137)

    limited = await node.status(uid, "limited")
    container_id = limited.container_id.split("://")[1]
    layout = node.host.layout
    pod_path = f"{node.net.cgroup_parent}/burstable/pod{uid}"
    cpu_mount, cpu_v2 = layout.controller_mount("cpu") or (None, False)
    memory_mount, memory_v2 = layout.controller_mount("memory") or (None, False)
    assert cpu_mount is not None and memory_mount is not None
    cpu_dir = cpu_mount / pod_path.strip("/") / container_id
    memory_dir = memory_mount / pod_path.strip("/") / container_id
    if cpu_v2:
        assert (cpu_dir / "cpu.max").read_text().split() == ["50000", "100000"]
    else:
        assert (cpu_dir / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu_dir / "cpu.shares").read_text().strip() == "256"
    limit_file = "memory.max" if memory_v2 else "memory.limit_in_bytes"
    assert (memory_dir / limit_file).read_text().strip() == str(32 * 1024 * 1024)
    assert (memory_mount / pod_path.strip("/") / limit_file).read_text().strip() == str(48 * 1024 * 1024)  # the pod: the sum
    assert cgroups.processes(layout, pod_path)  # the sleeper is in the pod's cgroup

    await node.remove_and_check(uid)


async def test_stop_sends_sigterm_and_holds_the_grace_period(node: Node) -> None:
    rt = node.runtime
    graceful = pod(
        "graceful",
        container("polite", script='trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.1; done'),
        container("stubborn", script='trap "echo ignoring TERM" TERM; echo ready; while true; do sleep 0.1; done'),
    )
    uid = graceful["metadata"]["uid"]
    await rt.run_pod_sandbox(graceful)
    for spec in graceful["spec"]["containers"]:
        await rt.start_container(graceful, spec)
    await node.wait_log(uid, "polite", "ready")
    await node.wait_log(uid, "stubborn", "ready")
    began = time.time()
    await rt.stop_pod(graceful, 2)
    elapsed = time.time() - began
    polite = await node.status(uid, "polite")
    stubborn = await node.status(uid, "stubborn")
    assert (polite.state, polite.exit_code, polite.reason) == ("terminated", 0, "Completed")
    assert polite.finished_at is not None and polite.finished_at - began < 1.5
    assert "got TERM" in log_contents(rt, uid, "polite")
    assert "ignoring TERM" in log_contents(rt, uid, "stubborn")  # SIGTERM reached the app ...
    assert (stubborn.state, stubborn.exit_code) == ("terminated", 137)  # ... and SIGKILL came after the grace
    assert stubborn.finished_at is not None and stubborn.finished_at - began >= 1.9
    assert 1.9 <= elapsed < 5
    sandbox = await rt.pod_status(uid)
    assert sandbox is not None and sandbox.sandbox.ip  # the sandbox stays until remove_pod

    await node.remove_and_check(uid)


async def test_new_runtime_over_the_same_data_dir_rebuilds_pods(node: Node) -> None:
    rt = node.runtime
    survivor = pod("survivor", container("long", script="echo started; sleep 60"), container("short", script="sleep 0.5; exit 7"))
    uid = survivor["metadata"]["uid"]
    sandbox = await rt.run_pod_sandbox(survivor)
    long_id = (await rt.start_container(survivor, survivor["spec"]["containers"][0])).container_id
    short_id = (await rt.start_container(survivor, survivor["spec"]["containers"][1])).container_id
    await rt.close()  # the "kubelet" goes away; conmon keeps the containers

    exit_file = node.data_dir / "oci" / "exits" / short_id.split("://")[1]

    async def short_exited_meanwhile() -> bool:
        return exit_file.exists()

    await wait_until(short_exited_meanwhile, 10)
    restarted = make_runtime(node.data_dir, node.net, node.host)
    node.runtime = restarted
    await restarted.update_pod_cidr(node.net.cidr)
    pods = await restarted.list_pods()
    assert [p.pod_uid for p in pods] == [uid]
    rebuilt = pods[0]
    assert (rebuilt.name, rebuilt.namespace, rebuilt.sandbox.ip) == ("survivor", "default", sandbox.ip)
    assert len(rebuilt.containers) == 2
    long = rebuilt.container("long")
    short = rebuilt.container("short")
    assert long is not None and (long.state, long.container_id) == ("running", long_id)
    assert short is not None and (short.state, short.exit_code, short.reason) == ("terminated", 7, "Error")
    assert await restarted.run_pod_sandbox(survivor) == sandbox
    again = await restarted.start_container(survivor, survivor["spec"]["containers"][1])
    assert again.restart_count == 1
    assert "started" in log_contents(restarted, uid, "long")

    await node.remove_and_check(uid)


async def test_security_context_env_workdir_and_shared_empty_dir(node: Node) -> None:
    rt = node.runtime
    script = (
        'id -u; id -g; echo "greeting=$GREETING"; pwd; '
        "(touch /probe 2>/dev/null && echo writable) || echo read-only; "
        "grep -E '^Cap(Eff|Bnd)' /proc/self/status; echo hello > /shared/msg"
    )
    secure = pod(
        "secure",
        container(
            "app",
            script=script,
            env=[{"name": "GREETING", "value": "hi there"}],
            workingDir="/tmp",
            securityContext={
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
            volumeMounts=[{"name": "shared", "mountPath": "/shared"}],
        ),
        container(
            "reader",
            script="while [ ! -s /shared/msg ]; do sleep 0.05; done; cat /shared/msg",
            volumeMounts=[{"name": "shared", "mountPath": "/shared", "readOnly": True}],
        ),
        container("rootcaps", script="grep CapEff /proc/self/status"),
        volumes=[{"name": "shared", "emptyDir": {}}],
    )
    uid = secure["metadata"]["uid"]
    await rt.run_pod_sandbox(secure)
    for spec in secure["spec"]["containers"]:
        await rt.start_container(secure, spec)
    app = await node.wait_state(uid, "app", "terminated")
    reader = await node.wait_state(uid, "reader", "terminated")
    assert app.exit_code == 0 and reader.exit_code == 0
    output = log_contents(rt, uid, "app")
    assert output[:4] == ["65534", "65534", "greeting=hi there", "/tmp"]
    assert "read-only" in output
    assert "CapBnd:\t0000000000000400" in output  # drop ALL, add NET_BIND_SERVICE
    assert "CapEff:\t0000000000000000" in output  # a non-root user keeps none effective, as upstream
    assert log_contents(rt, uid, "reader") == ["hello"]
    await node.wait_state(uid, "rootcaps", "terminated")
    assert log_contents(rt, uid, "rootcaps") == ["CapEff:\t00000000a80425fb"]  # Docker's default set

    await node.remove_and_check(uid)


async def test_start_errors(node: Node) -> None:
    rt = node.runtime
    broken = pod(
        "broken",
        container("missing", image="kubelite.test/missing:1"),
        container("nonroot", securityContext={"runAsNonRoot": True}),
        container("noexec", command=["/no/such/binary"]),
    )
    uid = broken["metadata"]["uid"]
    missing, nonroot, noexec = broken["spec"]["containers"]
    with pytest.raises(RuntimeError):
        await rt.start_container(broken, noexec)  # no sandbox yet
    await rt.run_pod_sandbox(broken)
    with pytest.raises(ContainerStartError) as image_error:
        await rt.start_container(broken, missing)
    assert image_error.value.reason == "ErrImageNeverPull"
    assert image_error.value.message == 'Container image "kubelite.test/missing:1" is not present with pull policy of Never'
    with pytest.raises(ContainerStartError) as config_error:
        await rt.start_container(broken, nonroot)
    assert config_error.value.reason == "CreateContainerConfigError"
    assert "container has runAsNonRoot and image will run as root" in config_error.value.message
    failed = await rt.start_container(broken, noexec)
    assert (failed.state, failed.exit_code, failed.reason) == ("terminated", 128, "StartError")
    assert "/no/such/binary" in failed.message

    shm = node.data_dir / "oci" / "pods" / uid / "shm"
    subprocess.run(["umount", str(shm)], check=True)  # as after a reboot
    renewed = await rt.run_pod_sandbox(broken)  # the sandbox is set up again
    assert renewed.ip and os.path.ismount(shm)

    await node.remove_and_check(uid)


async def test_logs_rotate_by_size_while_the_container_writes(node: Node) -> None:
    rt = make_runtime(node.data_dir, node.net, node.host, log_max_size=2048, log_max_files=3)
    await node.runtime.close()
    node.runtime = rt
    await rt.update_pod_cidr(node.net.cidr)
    chatty = pod("chatty", container("chatty", script="i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done"))
    uid = chatty["metadata"]["uid"]
    await rt.run_pod_sandbox(chatty)
    await rt.start_container(chatty, chatty["spec"]["containers"][0])
    current = rt.container_log_path(uid, "chatty")

    async def rotated_twice() -> bool:
        if current.exists() and current.stat().st_size >= 2048:
            await rt.rotate_logs()
            await asyncio.sleep(1.0)  # rotated names have one-second resolution
        return len(logs.log_files(current)) >= 3

    await wait_until(rotated_twice, 20)
    files = logs.log_files(current)
    assert files[-1] == current and len(files) == 3  # max_files: two rotated + the live one
    assert files[0].name.endswith(".gz") and not files[1].name.endswith(".gz")  # older ones compressed
    numbers = [int(e.content.split()[1]) for path in files for e in logs.read_lines(path)]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)  # nothing written twice

    async def writes_continue() -> bool:
        return bool(list(logs.read_lines(current)))

    await wait_until(writes_continue, 5)
    await node.remove_and_check(uid)


async def test_host_network_pod(node: Node) -> None:
    rt = node.runtime
    on_host = pod("on-host", container("c", script="hostname; cat /etc/hosts"), hostNetwork=True)
    uid = on_host["metadata"]["uid"]
    sandbox = await rt.run_pod_sandbox(on_host)
    assert sandbox.ip == "" and rt.netns_path(uid) is None
    await rt.start_container(on_host, on_host["spec"]["containers"][0])
    done = await node.wait_state(uid, "c", "terminated")
    assert done.exit_code == 0
    output = log_contents(rt, uid, "c")
    assert output[0] == os.uname().nodename
    assert "# Kubernetes-managed hosts file (host network)." in output
    await node.remove_and_check(uid)
