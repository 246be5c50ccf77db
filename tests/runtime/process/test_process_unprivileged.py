"""The process runtime as a user without root: the test drops to uid 65534 (`setpriv --reuid
65534 --regid 65534 --clear-groups`, no capabilities) and runs a busybox pod in a data dir that
user owns — in a user namespace mapping it to root (this machine permits unprivileged user
namespaces), and in host mode. No cgroups are writable for it, so resources go unenforced with a
reason; the container's processes run as 65534 on the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.oci_harness import ROOT, image_archives

NOBODY = 65534
DROP = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

SCRIPT = r"""
import asyncio, json, os, sys, uuid
from pathlib import Path
from kubelite.runtime.images.importer import import_archive
from kubelite.runtime.images.store import ImageStore
from kubelite.runtime.process.runtime import ProcessOptions, ProcessRuntime

async def main(data_dir, archives, isolation):
    store = ImageStore.for_data_dir(Path(data_dir))
    import_archive(store, Path(archives) / "busybox-1.tar")
    runtime = ProcessRuntime(ProcessOptions(data_dir=Path(data_dir), isolation=isolation, cgroup_parent="/kubelite-unprivileged"), image_store=store)
    pod = {"metadata": {"name": "nobody", "namespace": "default", "uid": str(uuid.uuid4())},
           "spec": {"containers": [{"name": "c", "image": "kubelite.test/busybox:1", "imagePullPolicy": "Never",
                                    "command": ["sh", "-c", "echo hello; id -u; sleep 30"],
                                    "resources": {"limits": {"memory": "64Mi"}}}]}}
    uid = pod["metadata"]["uid"]
    await runtime.run_pod_sandbox(pod)
    await runtime.start_container(pod, pod["spec"]["containers"][0])
    await asyncio.sleep(0.5)
    record = runtime._pods[uid].containers["c"].record
    host_uid = [line.split()[1] for line in Path(f"/proc/{record['pid']}/status").read_text().splitlines() if line.startswith("Uid:")][0]
    code, out, err = await runtime.exec_sync(uid, "c", ["sh", "-c", "echo exec; exit 5"])
    await runtime.stop_pod(pod, 1)
    status = (await runtime.pod_status(uid)).container("c")
    log = Path(runtime.container_log_path(uid, "c")).read_text()
    pids = [record[k] for k in ("pid", "pgid", "monitor")]
    await runtime.remove_pod(uid)
    await runtime.close()
    left = [p for p in pids if os.path.exists(f"/proc/{p}") and Path(f"/proc/{p}/stat").read_text().split()[2] not in "ZX"]
    print(json.dumps({
        "isolation": runtime.support.isolation, "user_namespace": runtime.support.user_namespace,
        "cgroups": runtime.support.cgroups is not None, "reasons": runtime.support.reasons,
        "host_uid": host_uid, "exec": [code, out.decode(), err.decode()], "exit_code": status.exit_code,
        "log": log, "left": left, "pods": os.listdir(runtime.layout.pods),
    }))

asyncio.run(main(*sys.argv[1:]))
"""


def _python_for_nobody() -> list[str] | None:
    """An interpreter uid 65534 can run with kubelite and its dependencies importable."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    env_path = os.pathsep.join([str(ROOT), *site])
    for candidate in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([*DROP, "sh", "-c", f'exec "{candidate}" -c "import kubelite, orjson"'], env={"PYTHONPATH": env_path, "PATH": os.environ["PATH"]}, capture_output=True)
        if probe.returncode == 0:
            return [candidate]
    return None


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="kubelite-nobody-"))
    os.chmod(directory, 0o755)
    os.chown(directory, NOBODY, NOBODY)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_as_nobody(nobody_dir: Path, isolation: str) -> dict[str, object]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("this test drops from root to uid 65534 with setpriv", pytrace=False)
    python = _python_for_nobody()
    if python is None:
        pytest.skip("no Python interpreter here that uid 65534 may execute with kubelite importable")
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), *site]), "PATH": os.environ["PATH"], "HOME": str(nobody_dir)}
    data_dir = nobody_dir / isolation
    done = subprocess.run(
        [*DROP, *python, "-c", SCRIPT, str(data_dir), str(image_archives()), isolation], env=env, capture_output=True, text=True, timeout=60, cwd=nobody_dir
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_unprivileged_user_namespace(nobody_dir: Path) -> None:
    found = run_as_nobody(nobody_dir, "auto")
    assert (found["isolation"], found["user_namespace"], found["cgroups"]) == ("namespaces", True, False)
    assert any("container resources are not enforced" in reason for reason in found["reasons"])  # type: ignore[union-attr]
    assert found["host_uid"] == str(NOBODY)  # root inside, nobody outside
    assert "stdout F hello" in str(found["log"]) and "stdout F 0" in str(found["log"])
    assert found["exec"] == [5, "exec\n", ""]
    assert found["exit_code"] == 137  # sh as PID 1 ignores SIGTERM: killed after the grace period
    assert found["left"] == [] and found["pods"] == []


def test_unprivileged_host_mode(nobody_dir: Path) -> None:
    found = run_as_nobody(nobody_dir, "host")
    assert (found["isolation"], found["user_namespace"], found["cgroups"]) == ("host", False, False)
    assert found["host_uid"] == str(NOBODY)
    assert "stdout F hello" in str(found["log"]) and f"stdout F {NOBODY}" in str(found["log"])
    assert found["exec"] == [5, "exec\n", ""]
    assert found["exit_code"] == 143  # SIGTERM to the process group
    assert found["left"] == [] and found["pods"] == []
