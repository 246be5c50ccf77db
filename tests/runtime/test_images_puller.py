"""Pulls from a REAL registry (Debian's docker-registry on a loopback port, images pushed with
skopeo): OCI and Docker schema-2 manifests, indexes, digests, mirrors, failures, and both
htpasswd basic auth and bearer-token auth (a token server in the test, signing ES256 JWTs
with an x5c certificate the registry trusts)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from kubelite.runtime.images import layout, oci
from kubelite.runtime.images.progress import PullProgress
from kubelite.runtime.images.puller import ImagePullError, Puller
from kubelite.runtime.images.registries import RegistryConfig
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import (
    RunningRegistry,
    bcrypt_hash,
    docker_config,
    free_port,
    push,
    small_image,
    start_registry,
)

USER, PASSWORD = "puller", "s3cret-pass"
ARM64 = {"os": "linux", "architecture": "arm64"}
AMD64 = {"os": "linux", "architecture": "amd64"}


class Pushed:
    """Digests of what the module pushed, for assertions."""

    def __init__(self) -> None:
        self.app = small_image("app-v1")
        self.v2s2 = small_image("docker-v2s2")
        self.amd64 = small_image("amd64")
        self.index = layout.build_index(
            [(layout.build_image([layout.layer_tar([layout.file("arch", "arm64")])], {}, architecture="arm64"), ARM64), (self.amd64, AMD64)]
        )
        self.tiny = small_image("tiny")


@pytest.fixture(scope="module")
def pushed() -> Pushed:
    return Pushed()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, pushed: Pushed) -> Iterator[RunningRegistry]:
    work = tmp_path_factory.mktemp("registry")
    running = start_registry(work)
    try:
        archives = work / "archives"
        archives.mkdir()
        for name, artifact, destination, options in [
            ("app", pushed.app, "team/app:1", {}),
            ("v2s2", pushed.v2s2, "team/app:v2s2", {"v2s2": True}),
            ("multi", pushed.index, "team/multi:1", {"all_platforms": True}),
            ("tiny", pushed.tiny, "library/tiny:1", {}),
            ("tiny-mirror", pushed.tiny, "mirror/tiny:1", {}),
        ]:
            path = archives / f"{name}.tar"
            layout.write_oci_archive(path, [(None, artifact)])
            push(path, f"{running.host}/{destination}", **options)
        yield running
    finally:
        running.stop()


@pytest.fixture
async def puller(tmp_path: Path) -> AsyncIterator[Puller]:
    made = Puller(ImageStore.for_data_dir(tmp_path))
    yield made
    await made.close()


async def test_pull_an_oci_image(puller: Puller, registry: RunningRegistry, pushed: Pushed) -> None:
    seen: list[PullProgress] = []
    record = await puller.pull(f"{registry.host}/team/app:1", progress=seen.append)
    assert record.tags == (f"{registry.host}/team/app:1",)
    assert record.manifest_digest == pushed.app.descriptor["digest"]
    assert record.repo_digests == (f"{registry.host}/team/app@{pushed.app.descriptor['digest']}",)
    assert (puller.store.rootfs_layers(record.id)[0] / "app/version").read_text() == "app-v1\n"
    assert seen[-1].layers_done == seen[-1].layers_total == 2
    assert seen[-1].bytes_done == seen[-1].bytes_total > 0
    # A second pull resolves again but downloads nothing.
    seen.clear()
    again = await puller.pull(f"{registry.host}/team/app:1", progress=seen.append)
    assert again.id == record.id and seen == []
    assert list(puller.store.tmp.iterdir()) == []


async def test_pull_a_docker_schema2_image_by_digest_too(puller: Puller, registry: RunningRegistry) -> None:
    record = await puller.pull(f"{registry.host}/team/app:v2s2")
    manifest = oci.load_json(puller.store.read_blob(record.manifest_digest), "manifest")
    assert manifest["mediaType"] == oci.DOCKER_MANIFEST
    assert {layer["mediaType"] for layer in manifest["layers"]} == {oci.DOCKER_LAYER_GZIP}
    pinned = await puller.pull(f"{registry.host}/team/app@{record.manifest_digest}")
    assert pinned.id == record.id


async def test_an_index_is_followed_to_linux_amd64(puller: Puller, registry: RunningRegistry, pushed: Pushed) -> None:
    record = await puller.pull(f"{registry.host}/team/multi:1")
    assert record.manifest_digest == pushed.amd64.descriptor["digest"]
    assert record.repo_digests == (f"{registry.host}/team/multi@{pushed.index.descriptor['digest']}",)
    assert (puller.store.rootfs_layers(record.id)[0] / "app/version").read_text() == "amd64\n"


async def test_a_missing_image_says_not_found(puller: Puller, registry: RunningRegistry) -> None:
    ref = f"{registry.host}/team/nope:1"
    with pytest.raises(ImagePullError) as caught:
        await puller.pull(ref)
    assert caught.value.kind == "NotFound"
    assert str(caught.value) == f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'


async def test_an_unreachable_registry_is_unavailable(puller: Puller) -> None:
    port = free_port()
    with pytest.raises(ImagePullError) as caught:
        await puller.pull(f"127.0.0.1:{port}/team/app:1")
    assert caught.value.kind == "Unavailable"
    assert f'GET "http://127.0.0.1:{port}/v2/team/app/manifests/1": dial tcp 127.0.0.1:{port}: connect: connection refused' in str(
        caught.value
    )


async def test_mirrors_in_order_with_rewrite(tmp_path: Path, registry: RunningRegistry, pushed: Pushed) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = RegistryConfig({"mirrors": {"docker.io": {"endpoint": [dead, f"http://{registry.host}"]}}})
    puller = Puller(ImageStore.for_data_dir(tmp_path / "a"), config)
    try:
        record = await puller.pull("tiny:1")
    finally:
        await puller.close()
    assert record.tags == ("docker.io/library/tiny:1",)
    assert record.repo_digests == (f"docker.io/library/tiny@{pushed.tiny.descriptor['digest']}",)
    rewritten = RegistryConfig(
        {"mirrors": {"docker.io": {"endpoint": [f"http://{registry.host}"], "rewrite": {"^library/(.*)": "mirror/$1"}}}}
    )
    puller = Puller(ImageStore.for_data_dir(tmp_path / "b"), rewritten)
    try:
        assert (await puller.pull("docker.io/library/tiny:1")).id == record.id
    finally:
        await puller.close()


async def test_concurrent_pulls_of_one_image_download_once(
    puller: Puller, registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = Puller._download

    async def counting(self: Puller, client: Any, descriptor: dict[str, Any], path: Path, on_bytes: Any) -> None:
        calls.append(descriptor["digest"])
        await original(self, client, descriptor, path, on_bytes)

    monkeypatch.setattr(Puller, "_download", counting)
    records = await asyncio.gather(*(puller.pull(f"{registry.host}/team/app:1") for _ in range(4)))
    assert len({r.id for r in records}) == 1
    assert len(calls) == 2


async def test_a_corrupted_blob_is_refused(tmp_path: Path, pushed: Pushed, tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_registry(tmp_path_factory.mktemp("corrupt"))
    try:
        artifact = small_image("to-be-corrupted")
        archive = tmp_path / "c.tar"
        layout.write_oci_archive(archive, [(None, artifact)])
        push(archive, f"{running.host}/team/corrupt:1")
        top = oci.load_json(artifact.blobs[artifact.descriptor["digest"]], "m")["layers"][1]["digest"]
        hex_digest = top.split(":")[1]
        data_file = running.storage / f"docker/registry/v2/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"
        content = bytearray(data_file.read_bytes())
        content[len(content) // 2] ^= 0xFF
        data_file.write_bytes(bytes(content))
        store = ImageStore.for_data_dir(tmp_path / "node")
        puller = Puller(store)
        try:
            with pytest.raises(ImagePullError, match="unexpected commit digest"):
                await puller.pull(f"{running.host}/team/corrupt:1")
        finally:
            await puller.close()
        assert store.list() == [] and list(store.tmp.iterdir()) == []
    finally:
        running.stop()


# ---- basic auth (htpasswd) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory, registry: RunningRegistry) -> Iterator[RunningRegistry]:
    """A second registry serving the first one's storage, behind htpasswd."""
    work = tmp_path_factory.mktemp("basic")
    htpasswd = work / "htpasswd"
    htpasswd.write_text(f"{USER}:{bcrypt_hash(PASSWORD)}\n")
    running = start_registry(
        work, storage=registry.storage, auth={"htpasswd": {"realm": "kubelite-test", "path": str(htpasswd)}}
    )
    yield running
    running.stop()


async def test_basic_auth_without_credentials_is_refused(puller: Puller, basic_registry: RunningRegistry) -> None:
    ref = f"{basic_registry.host}/team/app:1"
    with pytest.raises(ImagePullError) as caught:
        await puller.pull(ref)
    assert caught.value.kind == "Unauthorized"
    assert "pull access denied" in str(caught.value) and "401 Unauthorized" in str(caught.value)


async def test_basic_auth_with_pull_secrets_tried_in_turn(puller: Puller, basic_registry: RunningRegistry) -> None:
    host = basic_registry.host
    wrong = docker_config(f"{host}/team", USER, "wrong")  # more specific key: tried first
    right = docker_config(host, USER, PASSWORD)
    elsewhere = docker_config("other.example.com", USER, PASSWORD)
    record = await puller.pull(f"{host}/team/app:1", pull_secrets=[elsewhere, right, wrong])
    assert record.tags == (f"{host}/team/app:1",)
    with pytest.raises(ImagePullError, match="401 Unauthorized"):
        await puller.pull(f"{host}/team/app:v2s2", pull_secrets=[wrong, elsewhere])


async def test_basic_auth_from_registries_yaml(tmp_path: Path, basic_registry: RunningRegistry) -> None:
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = RegistryConfig({"configs": {basic_registry.host: {"auth": {"auth": encoded}}}})
    puller = Puller(ImageStore.for_data_dir(tmp_path), config)
    try:
        record = await puller.pull(f"{basic_registry.host}/team/app:v2s2")
    finally:
        await puller.close()
    assert record.tags == (f"{basic_registry.host}/team/app:v2s2",)


# ---- bearer tokens ------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """A registry token service: ES256 JWTs with the signing certificate in `x5c`."""

    SERVICE = "kubelite-test-registry"
    ISSUER = "kubelite-test-issuer"

    def __init__(self, workdir: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelite test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = workdir / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.port = free_port()
        self.requests: list[tuple[str, str]] = []  # (user, scope)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, subject: str, access: list[dict[str, Any]]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        claims = {
            "iss": self.ISSUER,
            "sub": subject,
            "aud": self.SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    async def handle(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        user = ""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if (name, password) != (USER, PASSWORD):
                return web.Response(status=401)
            user = name
        self.requests.append((user, scope))
        access = []
        kind, _, rest = scope.partition(":")
        repository, _, actions = rest.rpartition(":")
        if user and kind == "repository":
            access.append({"type": "repository", "name": repository, "actions": [a for a in actions.split(",") if a == "pull"]})
        return web.json_response({"token": self.token(user, access), "expires_in": 300})


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> TokenIssuer:
    return TokenIssuer(tmp_path_factory.mktemp("issuer"))


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, registry: RunningRegistry, issuer: TokenIssuer
) -> Iterator[RunningRegistry]:
    auth = {
        "token": {
            "realm": issuer.realm,
            "service": TokenIssuer.SERVICE,
            "issuer": TokenIssuer.ISSUER,
            "rootcertbundle": str(issuer.bundle),
        }
    }
    running = start_registry(tmp_path_factory.mktemp("token"), storage=registry.storage, auth=auth)
    yield running
    running.stop()


@pytest.fixture
async def token_service(issuer: TokenIssuer) -> AsyncIterator[TokenIssuer]:
    app = web.Application()
    app.router.add_get("/token", issuer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", issuer.port)
    await site.start()
    issuer.requests.clear()
    yield issuer
    await runner.cleanup()


async def test_bearer_token_auth(puller: Puller, token_registry: RunningRegistry, token_service: TokenIssuer) -> None:
    host = token_registry.host
    with pytest.raises(ImagePullError) as caught:
        await puller.pull(f"{host}/team/app:1")
    assert caught.value.kind == "Unauthorized"
    assert token_service.requests == [("", "repository:team/app:pull")]  # an anonymous token first
    record = await puller.pull(f"{host}/team/app:1", pull_secrets=[docker_config(host, USER, PASSWORD)])
    assert record.tags == (f"{host}/team/app:1",)
    token_service.requests.clear()
    await puller.pull(f"{host}/team/app:v2s2", pull_secrets=[docker_config(host, USER, PASSWORD)])
    assert token_service.requests == []  # the token for repository:team/app:pull was reused
