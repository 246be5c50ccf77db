"""Reproducible image writing, and the test images of `make test-images`
(tools/build_test_images.py): names, contents, skopeo-compatibility and — as root — that the
web image really serves `web <version> <hostname>` and /healthz."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.runtime.images import layout
from kubelite.runtime.images.importer import import_archive
from kubelite.runtime.images.puller import Puller
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import RunningRegistry, push, small_image, start_registry

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "build_test_images.py"
BUSYBOX = Path("/bin/busybox")
EXPECTED = {
    "busybox-1.tar": "kubelite.test/busybox:1",
    "web-1.tar": "kubelite.test/web:1",
    "web-2.tar": "kubelite.test/web:2",
}


def test_archives_are_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "1.tar", tmp_path / "2.tar"
    assert layout.write_oci_archive(first, [("example.com/a:1", small_image())])
    assert layout.write_oci_archive(second, [("example.com/a:1", small_image())])
    assert first.read_bytes() == second.read_bytes()
    mtime = first.stat().st_mtime_ns
    assert not layout.write_oci_archive(first, [("example.com/a:1", small_image())])  # unchanged: not rewritten
    assert first.stat().st_mtime_ns == mtime
    assert layout.write_oci_archive(first, [("example.com/a:1", small_image("other"))])


@pytest.fixture(scope="module")
def test_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUSYBOX.is_file():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install -y busybox-static", pytrace=False)
    out = tmp_path_factory.mktemp("test-images")
    result = subprocess.run([sys.executable, str(TOOL), "--out", str(out)], capture_output=True, text=True, check=True)
    assert result.stdout.count("(written)") == 3
    return out


def test_the_tool_builds_the_three_images_reproducibly(test_images: Path) -> None:
    assert sorted(p.name for p in test_images.iterdir()) == sorted(EXPECTED)
    before = {p.name: p.read_bytes() for p in test_images.iterdir()}
    again = subprocess.run([sys.executable, str(TOOL), "--out", str(test_images)], capture_output=True, text=True, check=True)
    assert again.stdout.count("(up to date)") == 3
    assert {p.name: p.read_bytes() for p in test_images.iterdir()} == before


def test_test_images_import_with_their_names_and_contents(test_images: Path, tmp_path: Path) -> None:
    store = ImageStore.for_data_dir(tmp_path)
    for file_name, name in EXPECTED.items():
        (record,) = import_archive(store, test_images / file_name)
        assert record.tags == (name,)
    busybox = store.image_config("kubelite.test/busybox:1")["config"]
    assert busybox["Cmd"] == ["sh"] and "Entrypoint" not in busybox
    (base,) = store.rootfs_layers("kubelite.test/busybox:1")
    assert os.readlink(base / "bin/sh") == "busybox" and os.readlink(base / "bin/httpd") == "busybox"
    assert (base / "bin/busybox").read_bytes() == BUSYBOX.read_bytes()
    assert (base / "etc/passwd").read_text().startswith("root:x:0:0:")
    assert (base / "etc/group").read_text().startswith("root:x:0:")
    web1, web2 = store.resolve("kubelite.test/web:1"), store.resolve("kubelite.test/web:2")
    assert web1.layers[0] == web2.layers[0] == store.resolve("kubelite.test/busybox:1").layers[0]
    web_config = store.image_config("kubelite.test/web:2")["config"]
    assert web_config["Entrypoint"] == ["/web/start.sh"] and web_config["ExposedPorts"] == {"80/tcp": {}}
    assert (store.rootfs_layers("kubelite.test/web:2")[0] / "web/VERSION").read_text() == "2\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()


async def test_test_images_push_with_skopeo_and_pull_back(test_images: Path, registry: RunningRegistry, tmp_path: Path) -> None:
    push(test_images / "web-1.tar", f"{registry.host}/kubelite.test/web:1")
    puller = Puller(ImageStore.for_data_dir(tmp_path))
    try:
        record = await puller.pull(f"{registry.host}/kubelite.test/web:1")
    finally:
        await puller.close()
    imported = import_archive(ImageStore.for_data_dir(tmp_path / "other"), test_images / "web-1.tar")[0]
    assert record.id == imported.id and record.manifest_digest == imported.manifest_digest


SERVE_AND_ASK = """
set -e
bb=/bin/busybox
$bb hostname {hostname}
$bb ip link set lo up
chroot {rootfs} /web/start.sh > {log} 2>&1 &
server=$!
for i in $($bb seq 100); do
  if printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | $bb nc -w1 127.0.0.1 80 > {health} 2>/dev/null && [ -s {health} ]; then break; fi
  $bb sleep 0.05
done
printf 'GET / HTTP/1.0\\r\\n\\r\\n' | $bb nc -w2 127.0.0.1 80
kill $server
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts and namespaces need root")
@pytest.mark.parametrize("version", ["1", "2"])
def test_the_web_image_serves_its_version_and_hostname(test_images: Path, tmp_path: Path, version: str) -> None:
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed", pytrace=False)
    store = ImageStore.for_data_dir(tmp_path)
    import_archive(store, test_images / f"web-{version}.tar")
    lower = ":".join(str(p) for p in store.rootfs_layers(f"kubelite.test/web:{version}"))
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for path in (upper, work, merged):
        path.mkdir()
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)],
        check=True,
    )
    try:
        script = SERVE_AND_ASK.format(
            hostname=f"pod-{version}", rootfs=merged, log=tmp_path / "web.log", health=tmp_path / "health.txt"
        )
        result = subprocess.run(
            ["unshare", "--uts", "--net", "--pid", "--fork", "--kill-child", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HTTP/1.1 200 OK"), result.stdout
    assert result.stdout.endswith(f"\n\nweb {version} pod-{version}\n"), result.stdout  # text mode: \r\n read as \n
    assert (tmp_path / "health.txt").read_text().startswith("HTTP/1.1 200 OK")
    assert f"web {version} serving on :80 as pod-{version}" in (tmp_path / "web.log").read_text()
