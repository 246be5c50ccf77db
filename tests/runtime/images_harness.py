"""Helpers for the image tests: small images, `docker save`-format tarballs, a real Debian
`docker-registry` on a loopback port (optionally behind htpasswd or token auth), pushes with
skopeo, bcrypt password entries (from the system's libcrypt) and a tiny token server."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import io
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kubelite.runtime.images import layout, oci
from kubelite.runtime.images.reference import parse_reference
from kubelite.runtime.images.store import ImageStore

REGISTRY_BINARY = "docker-registry"
SKOPEO_BINARY = "skopeo"
INSTALL_HINT = "apt-get install -y docker-registry skopeo busybox-static (make system-packages)"


def small_image(text: str = "v1", extra: Sequence[layout.Entry] = (), *, docker_media_types: bool = False) -> layout.Artifact:
    """A two-layer image: a base layer with /etc/hello and /data, and a top layer with `text`."""
    base = layout.layer_tar([layout.file("etc/hello", "hello\n"), layout.file("data/keep", "keep\n")])
    top = layout.layer_tar([layout.file("app/version", text + "\n"), *extra])
    return layout.build_image(
        [base, top], {"Env": [layout.DEFAULT_PATH_ENV], "Cmd": ["/app/run"]}, docker_media_types=docker_media_types
    )


def add_artifact(store: ImageStore, artifact: layout.Artifact, *names: str, now: float | None = None) -> str:
    """Unpack and commit an artifact built by kubelite.runtime.images.layout."""
    manifest = artifact.blobs[artifact.descriptor["digest"]]
    document = orjson.loads(manifest)
    config = artifact.blobs[document["config"]["digest"]]
    diff_ids = orjson.loads(config)["rootfs"]["diff_ids"]
    for descriptor, diff_id in zip(document["layers"], diff_ids, strict=True):
        store.unpack_layer(io.BytesIO(artifact.blobs[descriptor["digest"]]), diff_id, digest=descriptor["digest"])
    return store.commit(manifest, config, [parse_reference(n) for n in names], now=now).id


def write_docker_archive(
    path: Path,
    images: Sequence[tuple[Sequence[str], Sequence[bytes], dict[str, Any]]],
    *,
    gzip_layers: bool = False,
    legacy_repositories: bool = False,
    gzip_archive: bool = False,
) -> None:
    """A `docker save`-format tarball: per image (RepoTags, uncompressed layer tars, config
    section). With legacy_repositories the tags are only in the old `repositories` file."""
    files: dict[str, bytes] = {}
    entries = []
    repositories: dict[str, dict[str, str]] = {}
    for tags, layers, container_config in images:
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [oci.sha256_digest(layer) for layer in layers]},
        }
        config_bytes = orjson.dumps(config)
        config_name = oci.sha256_digest(config_bytes).split(":")[1] + ".json"
        files[config_name] = config_bytes
        layer_paths = []
        for index, layer in enumerate(layers):
            layer_id = oci.sha256_digest(layer + bytes([index])).split(":")[1]
            files[f"{layer_id}/layer.tar"] = layout.gzip_bytes(layer) if gzip_layers else layer
            files[f"{layer_id}/VERSION"] = b"1.0"
            layer_paths.append(f"{layer_id}/layer.tar")
        entries.append({"Config": config_name, "RepoTags": [] if legacy_repositories else list(tags), "Layers": layer_paths})
        for tag in tags:
            repo, _, tag_name = tag.rpartition(":")
            repositories.setdefault(repo, {})[tag_name] = layer_paths[-1].split("/")[0]
    files["manifest.json"] = orjson.dumps(entries)
    files["repositories"] = orjson.dumps(repositories)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            archive.addfile(info, io.BytesIO(files[name]))
    data = buffer.getvalue()
    Path(path).write_bytes(layout.gzip_bytes(data) if gzip_archive else data)


# ---- a real registry ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binaries(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.fail(f"image tests need {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)


@dataclass
class RunningRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_registry(workdir: Path, *, storage: Path | None = None, auth: dict[str, Any] | None = None) -> RunningRegistry:
    """Start `docker-registry serve` on a free loopback port with a config of our own."""
    require_binaries(REGISTRY_BINARY)
    workdir.mkdir(parents=True, exist_ok=True)
    storage = storage or workdir / "storage"
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "kubelite-test"},
    }
    if auth:
        config["auth"] = auth
    config_path = workdir / f"registry-{port}.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = workdir / f"registry-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
    running = RunningRegistry(f"127.0.0.1:{port}", storage, process, log_path)
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return running
        except urllib.error.HTTPError:
            return running  # 401: up, with auth
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                running.stop()
                raise AssertionError(f"docker-registry did not start:\n{log_path.read_text()}") from None
            time.sleep(0.05)


def push(archive: Path, destination: str, *, v2s2: bool = False, all_platforms: bool = False) -> None:
    """skopeo copy oci-archive:ARCHIVE docker://DESTINATION (plain http on loopback)."""
    require_binaries(SKOPEO_BINARY)
    command = [SKOPEO_BINARY, "--insecure-policy", "copy", "--dest-tls-verify=false", "-q"]
    if v2s2:
        command += ["--format", "v2s2"]
    if all_platforms:
        command += ["--all"]
    command += [f"oci-archive:{archive}", f"docker://{destination}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"skopeo failed: {result.stderr}"


# ---- credentials ----------------------------------------------------------------------------


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for an htpasswd file, from libcrypt (libxcrypt) through ctypes: neither the
    `bcrypt` module nor apache2-utils' htpasswd is needed."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    library = ctypes.CDLL(name)
    library.crypt_gensalt.restype = ctypes.c_char_p
    library.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = library.crypt_gensalt(b"$2b$", 5, None, 0)
    hashed = library.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2b$"):
        pytest.fail("libcrypt cannot make bcrypt hashes on this machine", pytrace=False)
    return hashed.decode()


def docker_config(host: str, username: str, password: str) -> dict[str, Any]:
    """What a kubernetes.io/dockerconfigjson Secret's `.dockerconfigjson` decodes to."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"auths": {host: {"username": username, "password": password, "auth": auth}}}
