"""The image store: layer sharing, lookups, atomicity (failures and crashes leave no half
image), removal, pruning and the file lock between processes."""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import orjson
import pytest

from kubelite.runtime.images import layout, oci
from kubelite.runtime.images.reference import parse_reference
from kubelite.runtime.images.store import ImageNotFound, ImageStore, MissingLayers
from kubelite.runtime.images.unpack import LayerError
from tests.runtime.images_harness import add_artifact as add
from tests.runtime.images_harness import small_image


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore.for_data_dir(tmp_path)


def test_layers_are_unpacked_once_and_shared(store: ImageStore) -> None:
    one, two = small_image("v1"), small_image("v2")
    id1 = add(store, one, "example.com/app:1")
    id2 = add(store, two, "example.com/app:2")
    first, second = store.resolve("example.com/app:1"), store.resolve("example.com/app:2")
    assert first.id == id1 and second.id == id2 and id1 != id2
    assert first.layers[0] == second.layers[0] and first.layers[1] != second.layers[1]
    assert sorted(p.name for p in store.layers.iterdir()) == sorted(
        {d.split(":")[1] for d in first.layers + second.layers}
    )
    lower = store.rootfs_layers("example.com/app:2")
    assert lower == [store.layer_dir(second.layers[1]), store.layer_dir(second.layers[0])]  # top first
    assert (lower[0] / "app/version").read_text() == "v2\n"
    assert (lower[1] / "etc/hello").read_text() == "hello\n"


def test_lookups_by_tag_digest_id_and_prefix(store: ImageStore) -> None:
    artifact = small_image()
    image_id = add(store, artifact, "busybox", "example.com/other:7")
    manifest_digest = artifact.descriptor["digest"]
    record = store.resolve("docker.io/library/busybox:latest")
    assert record.id == image_id
    assert record.tags == ("docker.io/library/busybox:latest", "example.com/other:7")
    assert f"docker.io/library/busybox@{manifest_digest}" in record.repo_digests
    assert record.size == sum(d["size"] for d in orjson.loads(artifact.blobs[manifest_digest])["layers"]) + len(
        store.read_blob(image_id)
    )
    for ref in ("busybox", f"busybox@{manifest_digest}", image_id, image_id[7:19], "example.com/other:7"):
        assert store.get(ref) == record, ref
    assert store.get("busybox:2") is None
    assert store.get(f"nginx@{manifest_digest}") is None
    assert store.image_config("busybox")["config"]["Cmd"] == ["/app/run"]


def test_a_moved_tag_leaves_the_old_image_listed_without_it(store: ImageStore) -> None:
    old = add(store, small_image("v1"), "example.com/app:latest")
    new = add(store, small_image("v2"), "example.com/app:latest")
    records = {r.id: r for r in store.list()}
    assert records[new].tags == ("example.com/app:latest",)
    assert records[old].tags == () and records[old].repo_digests  # dangling, like `<none>` in crictl


def test_remove_keeps_shared_layers_until_the_last_user_goes(store: ImageStore) -> None:
    add(store, small_image("v1"), "example.com/app:1")
    add(store, small_image("v2"), "example.com/app:2")
    shared = store.resolve("example.com/app:1").layers[0]
    usage_before = store.disk_usage()
    removed = store.remove("example.com/app:1")
    assert removed.record.tags == ("example.com/app:1",)
    assert removed.freed_bytes > 0
    assert store.has_layer(shared)
    assert store.disk_usage() == usage_before - removed.freed_bytes
    store.remove("example.com/app:2")
    assert not store.has_layer(shared)
    assert list(store.layers.iterdir()) == [] and list(store.blobs.iterdir()) == []
    assert store.list() == []
    with pytest.raises(ImageNotFound, match='no such image "example.com/app:2"'):
        store.remove("example.com/app:2")


def test_a_corrupt_layer_leaves_nothing_behind(store: ImageStore) -> None:
    data = layout.layer_tar([layout.file("f", "x")])
    with pytest.raises(LayerError, match="diffID"):
        store.unpack_layer(io.BytesIO(data), oci.sha256_digest(b"something else"))
    blob = layout.gzip_bytes(data)
    with pytest.raises(LayerError, match="unexpected commit digest"):
        store.unpack_layer(io.BytesIO(blob), oci.sha256_digest(data), digest=oci.sha256_digest(b"other"))
    with pytest.raises(LayerError, match="layer is not a readable tar"):
        store.unpack_layer(io.BytesIO(blob[: len(blob) // 2]), oci.sha256_digest(data))
    assert list(store.layers.iterdir()) == [] and list(store.tmp.iterdir()) == []


def test_commit_refuses_an_image_whose_layers_are_missing(store: ImageStore) -> None:
    artifact = small_image()
    manifest = artifact.blobs[artifact.descriptor["digest"]]
    config = artifact.blobs[orjson.loads(manifest)["config"]["digest"]]
    with pytest.raises(MissingLayers) as caught:
        store.commit(manifest, config, [parse_reference("app")])
    assert len(caught.value.diff_ids) == 2
    assert store.list() == [] and not store.index_path.exists()
    with pytest.raises(oci.ImageFormatError):
        store.commit(manifest, config + b" ", [parse_reference("app")])


def test_crash_leftovers_are_invisible_and_pruned(store: ImageStore, tmp_path: Path) -> None:
    add(store, small_image("v1"), "example.com/app:1")
    # A crash between unpacking and commit: a layer nobody references, and work in progress
    # of a process that no longer exists.
    orphan = layout.layer_tar([layout.file("orphan", "o")])
    store.unpack_layer(io.BytesIO(orphan), oci.sha256_digest(orphan))
    dead_pid = 2**22 + 12345
    leftover = store.tmp / f"{dead_pid}-deadbeef"
    (leftover / "fs").mkdir(parents=True)
    assert [r.tags for r in store.list()] == [("example.com/app:1",)]
    assert store.prune(now=0) == 0  # too young: may be an import in progress
    assert store.has_layer(oci.sha256_digest(orphan))
    assert not leftover.exists()  # its process is gone
    freed = store.prune(min_age=0)
    assert freed > 0 and not store.has_layer(oci.sha256_digest(orphan))
    assert store.resolve("example.com/app:1") and all(
        store.has_layer(d) for d in store.resolve("example.com/app:1").layers
    )


def test_the_index_is_reread_when_another_process_changes_it(tmp_path: Path) -> None:
    reader = ImageStore.for_data_dir(tmp_path)
    assert reader.list() == []
    writer = ImageStore.for_data_dir(tmp_path)
    add(writer, small_image(), "example.com/app:1")
    assert [r.tags for r in reader.list()] == [("example.com/app:1",)]
    writer.remove("example.com/app:1")
    assert reader.get("example.com/app:1") is None


def test_mark_used_updates_lru_time_at_most_once_a_minute(store: ImageStore) -> None:
    add(store, small_image(), "example.com/app:1", now=1000.0)
    store.mark_used("example.com/app:1", now=1030.0)
    assert store.resolve("example.com/app:1").last_used == 1000.0
    store.mark_used("example.com/app:1", now=1100.0)
    assert store.resolve("example.com/app:1").last_used == 1100.0
    assert store.resolve("example.com/app:1").created_at == 1000.0


def _import_in_child(data_dir: str, text: str, count: int) -> None:
    store = ImageStore.for_data_dir(Path(data_dir))
    for index in range(count):
        add(store, small_image(f"{text}-{index}"), f"example.com/{text}:{index}")


def test_concurrent_writers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_import_in_child, args=(str(tmp_path), name, 8)) for name in ("a", "b", "c")]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    tags = {tag for record in ImageStore.for_data_dir(tmp_path).list() for tag in record.tags}
    assert tags == {f"example.com/{name}:{i}" for name in "abc" for i in range(8)}
    assert os.listdir(tmp_path / "images" / "tmp") == []
