"""`kubelite image import|ls|rm` as a user runs them: the real console script on a tmp data dir,
alongside a process that keeps the store open (as a running kubelet would)."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubelite.runtime.images import layout
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import small_image, write_docker_archive

KUBELITE = Path(sys.executable).parent / "kubelite"


def kubelite(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(KUBELITE), *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"kubelite {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "saved.tar"
    layers = [layout.layer_tar([layout.file("bin/app", "#!/bin/sh\necho hi\n", 0o755)])]
    write_docker_archive(path, [(["myapp:1.0", "registry.local:5000/team/myapp:1.0"], layers, {"Cmd": ["/bin/app"]})])
    return path


@pytest.fixture
def oci_archive(tmp_path: Path) -> Path:
    path = tmp_path / "oci.tar"
    layout.write_oci_archive(path, [("kubelite.test/web:1", small_image("web"))])
    return path


def test_import_ls_rm(tmp_path: Path, saved: Path, oci_archive: Path) -> None:
    data_dir = str(tmp_path / "node")
    result = kubelite("image", "import", "--data-dir", data_dir, str(saved))
    assert result.stdout.splitlines() == [
        "Loaded image: docker.io/library/myapp:1.0",
        "Loaded image: registry.local:5000/team/myapp:1.0",
    ]
    kubelite("image", "import", "--data-dir", data_dir, str(oci_archive))
    listing = kubelite("image", "ls", "--data-dir", data_dir).stdout.splitlines()
    assert re.fullmatch(r"IMAGE +TAG +IMAGE ID +SIZE", listing[0])
    assert listing[0].index("TAG") == 33 and listing[0].index("IMAGE ID") == 53  # as crictl's tabwriter: len + 3, at least 20
    rows = [line.split() for line in listing[1:]]
    assert [(r[0], r[1]) for r in rows] == [  # images sorted by first tag, one row per tag (as crictl)
        ("docker.io/library/myapp", "1.0"),
        ("registry.local:5000/team/myapp", "1.0"),
        ("kubelite.test/web", "1"),
    ]
    assert rows[0][2:] == rows[1][2:]
    store = ImageStore.for_data_dir(Path(data_dir))
    assert rows[0][2] == store.resolve("myapp:1.0").id[7:20]  # 13 hex digits
    assert re.fullmatch(r"\d+(\.\d+)?(B|kB|MB)", rows[0][3])
    removed = kubelite("image", "rm", "--data-dir", data_dir, "myapp:1.0")
    assert removed.stdout.splitlines() == [
        "Deleted: docker.io/library/myapp:1.0",
        "Deleted: registry.local:5000/team/myapp:1.0",
    ]
    assert [line.split()[0] for line in kubelite("image", "ls", "--data-dir", data_dir).stdout.splitlines()[1:]] == [
        "kubelite.test/web"
    ]
    missing = kubelite("image", "rm", "--data-dir", data_dir, "myapp:1.0", check=False)
    assert missing.returncode == 1 and 'no such image "myapp:1.0"' in missing.stderr


def test_import_errors_are_reported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_text("not a tarball")
    result = kubelite("image", "import", "--data-dir", str(tmp_path / "node"), str(junk), check=False)
    assert result.returncode == 1 and "not a readable tar archive" in result.stderr
    absent = kubelite("image", "import", "--data-dir", str(tmp_path / "node"), str(tmp_path / "absent.tar"), check=False)
    assert absent.returncode == 1 and "absent.tar" in absent.stderr


def test_default_data_dir_comes_from_the_environment(tmp_path: Path, oci_archive: Path) -> None:
    env = dict(os.environ, KUBELITE_DATA_DIR=str(tmp_path / "env-node"))
    subprocess.run([str(KUBELITE), "image", "import", str(oci_archive)], check=True, env=env, capture_output=True)
    assert ImageStore.for_data_dir(tmp_path / "env-node").get("kubelite.test/web:1") is not None


def test_import_into_a_store_a_running_node_uses(tmp_path: Path, oci_archive: Path, saved: Path) -> None:
    data_dir = tmp_path / "node"
    node_store = ImageStore.for_data_dir(data_dir)  # what a running kubelet holds open
    assert node_store.get("kubelite.test/web:1") is None
    # While the node holds the store's lock, an import waits for it instead of writing.
    lock_fd = os.open(node_store.root / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    try:
        waiting = subprocess.Popen(
            [str(KUBELITE), "image", "import", "--data-dir", str(data_dir), str(oci_archive)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert waiting.poll() is None
        assert node_store.get("kubelite.test/web:1") is None
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    # The node sees the import without reopening its store; parallel imports lose nothing.
    assert node_store.get("kubelite.test/web:1") is not None
    others = [
        subprocess.Popen([str(KUBELITE), "image", "import", "--data-dir", str(data_dir), str(saved)], stdout=subprocess.DEVNULL),
        subprocess.Popen([str(KUBELITE), "image", "rm", "--data-dir", str(data_dir), "kubelite.test/web:1"], stdout=subprocess.DEVNULL),
    ]
    assert [p.wait(timeout=30) for p in others] == [0, 0]
    assert sorted(t for r in node_store.list() for t in r.tags) == [
        "docker.io/library/myapp:1.0",
        "registry.local:5000/team/myapp:1.0",
    ]
    assert node_store.rootfs_layers("myapp:1.0")[0].joinpath("bin/app").exists()
