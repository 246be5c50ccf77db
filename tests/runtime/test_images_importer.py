"""Importing `docker save` and OCI-layout tarballs (built in tmp_path) into the store."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import orjson
import pytest

from kubelite.runtime.images import layout, oci
from kubelite.runtime.images.importer import ImageImportError, import_archive
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import small_image, write_docker_archive


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore.for_data_dir(tmp_path / "node")


def layers_of(text: str) -> list[bytes]:
    return [
        layout.layer_tar([layout.file("etc/os-release", "ID=test\n"), layout.file("etc/old", "old")]),
        layout.layer_tar([layout.file("srv/" + text, text), layout.whiteout("etc/old")]),
    ]


def test_oci_layout_with_full_names(store: ImageStore, tmp_path: Path) -> None:
    one, two = small_image("v1"), small_image("v2")
    archive = tmp_path / "images.tar"
    layout.write_oci_archive(archive, [("kubelite.test/app:1", one), ("busybox:latest", two)])
    records = import_archive(store, archive)
    assert [r.tags for r in records] == [("kubelite.test/app:1",), ("docker.io/library/busybox:latest",)]
    assert records[0].repo_digests == (f"kubelite.test/app@{one.descriptor['digest']}",)
    assert (store.rootfs_layers("busybox")[0] / "app/version").read_text() == "v2\n"
    assert records[0].layers[0] == records[1].layers[0]  # the shared base layer is stored once
    assert len(list(store.layers.iterdir())) == 3


def test_oci_layout_with_only_a_tag_needs_a_base_name(store: ImageStore, tmp_path: Path) -> None:
    archive = tmp_path / "tagged.tar"
    layout.write_oci_archive(archive, [("1.0", small_image())])
    with pytest.raises(ImageImportError, match="--base-name"):
        import_archive(store, archive)
    assert store.list() == []
    records = import_archive(store, archive, base_name="example.com/team/app")
    assert records[0].tags == ("example.com/team/app:1.0",)


def test_oci_layout_unnamed_image_is_kept_by_id(store: ImageStore, tmp_path: Path) -> None:
    archive = tmp_path / "unnamed.tar"
    layout.write_oci_archive(archive, [(None, small_image())])
    (record,) = import_archive(store, archive)
    assert record.tags == () and store.get(record.id) == record


def test_oci_index_is_followed_to_linux_amd64(store: ImageStore, tmp_path: Path) -> None:
    amd64 = small_image("amd64")
    arm64 = layout.build_image(layers_of("arm"), {"Cmd": ["sh"]}, architecture="arm64")
    index = layout.build_index([(arm64, {"os": "linux", "architecture": "arm64"}), (amd64, {"os": "linux", "architecture": "amd64"})])
    archive = tmp_path / "multi.tar"
    layout.write_oci_archive(archive, [("example.com/multi:1", index)])
    (record,) = import_archive(store, archive)
    assert record.manifest_digest == amd64.descriptor["digest"]
    assert record.repo_digests == (f"example.com/multi@{index.descriptor['digest']}",)  # the index is what the name resolves to
    assert store.get(f"example.com/multi@{index.descriptor['digest']}") == record


def test_containerd_name_annotation_wins(store: ImageStore, tmp_path: Path) -> None:
    artifact = small_image()
    archive = tmp_path / "ctr.tar"
    layout.write_oci_archive(archive, [("latest", artifact)])
    rewritten = tmp_path / "ctr2.tar"
    with tarfile.open(archive) as source, tarfile.open(rewritten, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            if member.name == "index.json":
                data = data.replace(b'"annotations":{', b'"annotations":{"io.containerd.image.name":"docker.io/team/app:3",')
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if member.isreg() else None)
    (record,) = import_archive(store, rewritten)
    assert record.tags == ("docker.io/team/app:3",)


@pytest.mark.parametrize("variant", ["plain", "gzip-layers", "gzip-archive", "legacy-repositories"])
def test_docker_save_archives(store: ImageStore, tmp_path: Path, variant: str) -> None:
    archive = tmp_path / "saved.tar"
    write_docker_archive(
        archive,
        [(["myapp:1", "registry.local:5000/myapp:1"], layers_of("one"), {"Cmd": ["/bin/sh"]}), (["busybox:latest"], layers_of("two"), {})],
        gzip_layers=variant == "gzip-layers",
        gzip_archive=variant == "gzip-archive",
        legacy_repositories=variant == "legacy-repositories",
    )
    records = import_archive(store, archive)
    assert [r.tags for r in records] == [
        ("docker.io/library/myapp:1", "registry.local:5000/myapp:1"),
        ("docker.io/library/busybox:latest",),
    ]
    assert store.image_config("myapp:1")["config"]["Cmd"] == ["/bin/sh"]
    manifest = oci.load_json(store.read_blob(records[0].manifest_digest), "manifest")
    assert manifest["mediaType"] == oci.DOCKER_MANIFEST
    expected_type = oci.DOCKER_LAYER_GZIP if variant == "gzip-layers" else oci.DOCKER_LAYER
    assert {layer["mediaType"] for layer in manifest["layers"]} == {expected_type}
    top, base = store.rootfs_layers("busybox")
    assert (top / "srv/two").read_text() == "two" and (base / "etc/os-release").exists()
    assert records[0].layers[0] == records[1].layers[0]
    # Importing again changes nothing.
    assert [r.id for r in import_archive(store, archive)] == [r.id for r in records]


def test_a_corrupted_blob_is_refused(store: ImageStore, tmp_path: Path) -> None:
    artifact = small_image()
    archive = tmp_path / "bad.tar"
    layout.write_oci_archive(archive, [("example.com/bad:1", artifact)])
    data = bytearray(archive.read_bytes())
    layer_digest = oci.load_json(artifact.blobs[artifact.descriptor["digest"]], "m")["layers"][1]["digest"]
    blob = artifact.blobs[layer_digest]
    at = bytes(data).index(blob)
    data[at + len(blob) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ImageImportError):
        import_archive(store, archive)
    assert store.list() == []


def test_a_wrong_diff_id_is_refused(store: ImageStore, tmp_path: Path) -> None:
    archive = tmp_path / "liar.tar"
    write_docker_archive(archive, [(["liar:1"], layers_of("x"), {})])
    with tarfile.open(archive) as source:
        members = [(m, source.extractfile(m).read()) for m in source.getmembers()]  # type: ignore[union-attr]
    config_name = orjson.loads(dict((m.name, d) for m, d in members)["manifest.json"])[0]["Config"]
    rewritten = tmp_path / "liar2.tar"
    with tarfile.open(rewritten, "w") as target:
        for member, data in members:
            if member.name == config_name:
                config = orjson.loads(data)
                config["rootfs"]["diff_ids"][1] = oci.sha256_digest(b"another layer")
                data = orjson.dumps(config)
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(ImageImportError, match="diffID"):
        import_archive(store, rewritten)
    assert store.list() == []


@pytest.mark.parametrize("content", [b"", b"plain text, not a tar"])
def test_not_an_image_archive(store: ImageStore, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.tar"
    if content:
        path.write_bytes(content)
    else:
        with tarfile.open(path, "w") as archive:
            info = tarfile.TarInfo("readme")
            archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ImageImportError):
        import_archive(store, path)
