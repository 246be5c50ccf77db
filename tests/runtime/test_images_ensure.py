"""imagePullPolicy against a real loopback registry: Never, IfNotPresent, Always, and the
kubelet's reasons and messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kubelite.runtime.images import layout
from kubelite.runtime.images.ensure import ImageUnavailable, default_pull_policy, ensure_image
from kubelite.runtime.images.importer import import_archive
from kubelite.runtime.images.puller import Puller
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import RunningRegistry, push, small_image, start_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    work = tmp_path_factory.mktemp("registry")
    running = start_registry(work)
    archive = work / "app.tar"
    layout.write_oci_archive(archive, [(None, small_image("from-registry"))])
    push(archive, f"{running.host}/team/app:1")
    yield running
    running.stop()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[ImageStore, Puller]]:
    store = ImageStore.for_data_dir(tmp_path)
    puller = Puller(store)
    yield store, puller
    await puller.close()


def import_local(store: ImageStore, tmp_path: Path, name: str, text: str) -> str:
    archive = tmp_path / "local.tar"
    layout.write_oci_archive(archive, [(name, small_image(text))])
    return import_archive(store, archive)[0].id


@pytest.mark.parametrize(
    ("image", "policy"),
    [("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"), ("busybox@sha256:" + "a" * 64, "IfNotPresent")],
)
def test_default_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


async def test_never_uses_only_what_is_there(node: tuple[ImageStore, Puller], tmp_path: Path, registry: RunningRegistry) -> None:
    store, puller = node
    ref = f"{registry.host}/team/app:1"
    with pytest.raises(ImageUnavailable) as caught:
        await ensure_image(store, puller, ref, "Never")
    assert caught.value.reason == "ErrImageNeverPull"
    assert caught.value.message == f'Container image "{ref}" is not present with pull policy of Never'
    local = import_local(store, tmp_path, ref, "imported")
    ensured = await ensure_image(store, puller, ref, "Never")
    assert ensured.record.id == local and not ensured.pulled


async def test_if_not_present_pulls_only_when_missing(
    node: tuple[ImageStore, Puller], tmp_path: Path, registry: RunningRegistry
) -> None:
    store, puller = node
    ref = f"{registry.host}/team/app:1"
    pulled = await ensure_image(store, puller, ref, "IfNotPresent")
    assert pulled.pulled and (store.rootfs_layers(ref)[0] / "app/version").read_text() == "from-registry\n"
    again = await ensure_image(store, puller, ref, "IfNotPresent")
    assert not again.pulled and again.record.id == pulled.record.id


async def test_always_resolves_again(node: tuple[ImageStore, Puller], tmp_path: Path, registry: RunningRegistry) -> None:
    store, puller = node
    ref = f"{registry.host}/team/app:1"
    local = import_local(store, tmp_path, ref, "stale local copy")
    ensured = await ensure_image(store, puller, ref, "Always")
    assert ensured.pulled and ensured.record.id != local
    assert store.resolve(ref).id == ensured.record.id


async def test_pull_failures_and_bad_names(node: tuple[ImageStore, Puller], registry: RunningRegistry) -> None:
    store, puller = node
    ref = f"{registry.host}/team/missing:1"
    with pytest.raises(ImageUnavailable) as caught:
        await ensure_image(store, puller, ref, "IfNotPresent")
    assert caught.value.reason == "ErrImagePull"
    assert caught.value.message.endswith(f"{ref}: not found")
    with pytest.raises(ImageUnavailable) as bad:
        await ensure_image(store, puller, "Not A Name", "IfNotPresent")
    assert bad.value.reason == "InvalidImageName"
    assert bad.value.message == (
        'Failed to apply default image tag "Not A Name": couldn\'t parse image reference "Not A Name": invalid reference format'
    )
