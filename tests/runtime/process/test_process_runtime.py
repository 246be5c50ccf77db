"""ProcessRuntime against the test images, in both isolation modes (own namespaces; plain host
processes): logs and exit codes, restarts, volumes, exec, graceful stop, host ports, start errors,
adoption by a new runtime, cgroup limits and OOM, and nothing left after removal (asserted by the
harness for every test)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from kubelite.runtime import containerlogs
from kubelite.runtime.oci import cgroups
from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.process.launch import HOST, NAMESPACES
from kubelite.runtime.process.runtime import ProcessRuntime
from tests.runtime.oci_harness import container, pod, wait_until
from tests.runtime.process.process_harness import alive, process_runtime, recorded_processes

Obj = dict[str, object]
MODES = [NAMESPACES, HOST]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="covered unprivileged by test_process_unprivileged.py")


def log_lines(runtime: ProcessRuntime, uid: str, name: str, attempt: int | None = None) -> list[containerlogs.LogLine]:
    return list(containerlogs.read_lines(runtime.container_log_path(uid, name, attempt)))


def text_of(lines: list[containerlogs.LogLine], stream: str = "stdout") -> str:
    return "".join(line.content.decode() + ("" if line.partial else "\n") for line in lines if line.stream == stream)


async def terminated(runtime: ProcessRuntime, uid: str, name: str, timeout: float = 10.0) -> object:
    async def done() -> bool:
        status = await runtime.pod_status(uid)
        found = status.container(name) if status else None
        return found is not None and found.state == "terminated"

    await wait_until(done, timeout)
    status = await runtime.pod_status(uid)
    assert status is not None
    return status.container(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("mode", MODES)
async def test_runs_to_completion_with_logs_exit_code_and_event(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        events: list[str] = []
        runtime.subscribe(events.append)
        script = "echo hello; echo oops >&2; printf 'no newline'; cat etc/hostname; exit 3"
        made = pod("done", container("c", script=script))
        uid = str(made["metadata"]["uid"])
        sandbox = await runtime.run_pod_sandbox(made)
        assert sandbox.ip == ""  # the node's IP: pods share the host's network
        started = await runtime.start_container(made, made["spec"]["containers"][0])
        assert started.state == "running" and started.container_id.startswith("process://")
        status = await terminated(runtime, uid, "c")
        assert (status.exit_code, status.reason, status.restart_count) == (3, "Error", 0)
        assert events and set(events) == {uid}
        lines = log_lines(runtime, uid, "c")
        hostname = "done" if mode == NAMESPACES else os.uname().nodename  # host mode keeps the node's UTS
        assert text_of(lines) == f"hello\nno newline{hostname}\n"
        assert text_of(lines, "stderr") == "oops\n"


@pytest.mark.parametrize("mode", MODES)
async def test_restart_keeps_previous_log_and_counts(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        made = pod("again", container("c", script="echo run; exit 0"))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        spec = made["spec"]["containers"][0]
        await runtime.start_container(made, spec)
        first = await terminated(runtime, uid, "c")
        assert first.reason == "Completed" and first.exit_code == 0
        second = await runtime.start_container(made, spec)
        assert second.restart_count == 1 and second.container_id != first.container_id
        await terminated(runtime, uid, "c")
        assert text_of(log_lines(runtime, uid, "c", 0)) == "run\n"
        assert text_of(log_lines(runtime, uid, "c", 1)) == "run\n"


@pytest.mark.parametrize("mode", MODES)
async def test_volumes_appear_at_their_mount_paths(tmp_path: Path, mode: str) -> None:
    shared = tmp_path / "host-data"
    shared.mkdir()
    (shared / "greeting").write_text("from the host\n")
    async with process_runtime(tmp_path, mode) as runtime:
        # relative paths from the working directory "/": the same in both modes
        script = "cat data/greeting; echo written > scratch/out; cat scratch/out"
        made = pod(
            "vols",
            container("c", script=script, volumeMounts=[{"name": "host", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/scratch"}]),
            volumes=[{"name": "host", "hostPath": {"path": str(shared)}}, {"name": "tmp", "emptyDir": {}}],
        )
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        await runtime.start_container(made, made["spec"]["containers"][0])
        status = await terminated(runtime, uid, "c")
        assert status.exit_code == 0, text_of(log_lines(runtime, uid, "c"), "stderr")
        assert text_of(log_lines(runtime, uid, "c")) == "from the host\nwritten\n"


async def test_namespaces_give_hostname_root_and_private_pids(tmp_path: Path) -> None:
    async with process_runtime(tmp_path, NAMESPACES) as runtime:
        script = "hostname; echo $$; cat /etc/hostname; ls /proc | grep -c '^[0-9]'; echo msg > /dev/termination-log; exit 1"
        made = pod("isolated", container("c", script=script))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        await runtime.start_container(made, made["spec"]["containers"][0])
        status = await terminated(runtime, uid, "c")
        lines = text_of(log_lines(runtime, uid, "c")).splitlines()
        assert lines[:3] == ["isolated", "1", "isolated"]
        assert int(lines[3]) <= 3  # sh, and at most grep's pipeline: not the host's processes
        assert status.message == "msg\n"


@pytest.mark.parametrize("mode", MODES)
async def test_exec_in_the_container(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        made = pod("exec", container("c", script="sleep 30", env=[{"name": "COLOR", "value": "blue"}]))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        await runtime.start_container(made, made["spec"]["containers"][0])
        code, out, err = await runtime.exec_sync(uid, "c", ["sh", "-c", "echo $COLOR; ls bin/busybox; exit 7"])
        assert (code, out, err) == (7, b"blue\nbin/busybox\n", b"")
        if mode == NAMESPACES:
            code, out, _ = await runtime.exec_sync(uid, "c", ["hostname"])
            assert (code, out) == (0, b"exec\n")
        with pytest.raises(ContainerStartError):
            runtime.exec_argv(uid, "missing", ["true"])


@pytest.mark.parametrize("mode", MODES)
async def test_stop_honours_the_grace_period_then_kills(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        polite = pod("polite", container("c", script="trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"))
        stubborn = pod("stubborn", container("c", script="trap '' TERM; while true; do sleep 0.1; done"))
        for made in (polite, stubborn):
            await runtime.run_pod_sandbox(made)
            await runtime.start_container(made, made["spec"]["containers"][0])
        processes = recorded_processes(runtime)
        assert len(alive(processes)) >= 4
        began = time.monotonic()
        await runtime.stop_pod(polite, 10)
        assert time.monotonic() - began < 5
        status = (await runtime.pod_status(str(polite["metadata"]["uid"]))).container("c")
        assert (status.state, status.exit_code) == ("terminated", 0)
        assert "bye" in text_of(log_lines(runtime, str(polite["metadata"]["uid"]), "c"))
        began = time.monotonic()
        await runtime.stop_pod(stubborn, 1)
        assert 0.9 <= time.monotonic() - began < 6
        status = (await runtime.pod_status(str(stubborn["metadata"]["uid"]))).container("c")
        assert (status.state, status.exit_code) == ("terminated", 137)
        await asyncio.sleep(0.2)
        assert alive(processes) == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_missing_executable_is_a_start_error(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        made = pod("broken", container("c", command=["no-such-program"]))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        status = await runtime.start_container(made, made["spec"]["containers"][0])
        assert (status.state, status.reason, status.exit_code) == ("terminated", "StartError", 128)
        assert status.message == 'exec: "no-such-program": executable file not found in $PATH'
        assert (await runtime.pod_status(uid)).container("c").reason == "StartError"


async def test_host_ports_collide_with_a_clear_reason(tmp_path: Path) -> None:
    port = free_port()
    async with process_runtime(tmp_path, NAMESPACES) as runtime:
        web = {"ports": [{"containerPort": port}]}
        first = pod("first", container("web", script=f"exec httpd -f -p {port} -h /tmp", **web))
        second = pod("second", container("web", script=f"exec httpd -f -p {port} -h /tmp", **web))
        for made in (first, second):
            await runtime.run_pod_sandbox(made)
        await runtime.start_container(first, first["spec"]["containers"][0])
        with pytest.raises(ContainerStartError) as raised:
            await runtime.start_container(second, second["spec"]["containers"][0])
        assert raised.value.reason == "CreateContainerError"
        assert f"port {port}/TCP is already in use by pod default/first" in raised.value.message
        taken = free_port()
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", taken))
            listener.listen(1)
            third = pod("third", container("web", script="sleep 5", ports=[{"containerPort": taken}]))
            await runtime.run_pod_sandbox(third)
            with pytest.raises(ContainerStartError) as raised:
                await runtime.start_container(third, third["spec"]["containers"][0])
            assert "another process on the node" in raised.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_new_runtime_adopts_running_containers_and_missed_exits(tmp_path: Path, mode: str) -> None:
    async with process_runtime(tmp_path, mode) as runtime:
        made = pod("adopt", container("long", script="sleep 30"), container("short", script="sleep 1; exit 4"))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        ids = {}
        for spec in made["spec"]["containers"]:
            ids[spec["name"]] = (await runtime.start_container(made, spec)).container_id
        await runtime.close()
        await asyncio.sleep(1.5)  # "short" exits while no runtime watches
        successor = ProcessRuntime(runtime.options, support=runtime.support, image_store=runtime.images)
        try:
            status = await successor.pod_status(uid)
            assert status is not None
            assert (status.container("long").state, status.container("long").container_id) == ("running", ids["long"])
            short = status.container("short")
            assert (short.state, short.exit_code, short.container_id) == ("terminated", 4, ids["short"])
            code, out, _ = await successor.exec_sync(uid, "long", ["echo", "adopted"])
            assert (code, out) == (0, b"adopted\n")
            runtime._pods = successor._pods  # the harness checks the successor's processes are gone
            await successor.reset_node()
        finally:
            await successor.close()


async def test_cgroup_limits_and_oom(tmp_path: Path) -> None:
    async with process_runtime(tmp_path, NAMESPACES) as runtime:
        assert runtime.support.cgroups is not None
        limits = {"resources": {"limits": {"memory": "32Mi", "cpu": "500m"}}}
        made = pod("hog", container("c", script="sleep 0.5; head -c 200000000 /dev/zero | tail", **limits))
        uid = str(made["metadata"]["uid"])
        await runtime.run_pod_sandbox(made)
        await runtime.start_container(made, made["spec"]["containers"][0])
        record = runtime._pods[uid].containers["c"].record
        memory = cgroups.existing(runtime.support.cgroups, record["cgroup"])
        assert any((path / "memory.limit_in_bytes").exists() and (path / "memory.limit_in_bytes").read_text().strip() == str(32 << 20) for path in memory)
        status = await terminated(runtime, uid, "c", timeout=20)
        assert status.reason == "OOMKilled"
