"""Images end to end through a real node (runc, CNI; root) with the real kubectl 1.33 and 1.27:

- a `docker save`-format tarball (manifest.json + repositories) of an image the node has never
  seen, loaded with `kubelite image import --data-dir DIR FILE` while the server runs, runs in a
  pod with imagePullPolicy Never (its log, "already present on machine");
- a real Debian `docker-registry` on a loopback port behind htpasswd basic auth: a pod without
  credentials goes ErrImagePull then ImagePullBackOff saying the pull was unauthorized; with a
  `kubectl create secret docker-registry` secret in imagePullSecrets, or through its
  ServiceAccount's imagePullSecrets (copied into the pod by ServiceAccount admission), the image
  is pulled (Pulling, "Successfully pulled image") and the pod serves HTTP on its IP;
- a pulled image's containerStatuses[].imageID is `registry/repo@sha256:<manifest digest>`.

One agent-running server for the module (its own bridge, CIDR, netns prefix, cgroup parent, nft
table and ports), reset at the end and checked to have left nothing; the registry is stopped by
its PID.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubelite.runtime.images import layout
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import Background
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.images_harness import (
    RunningRegistry,
    bcrypt_hash,
    push,
    start_registry,
    write_docker_archive,
)
from tests.runtime.oci_harness import NETNS_DIR, http_get, image_archives, unique_net

Obj = dict[str, Any]
NAMESPACE = "images"
SAVED = "kubelite.test/saved:1"
SAVED_TEXT = "from a docker save archive"
USER, PASSWORD = "puller", "pull-s3cret"
MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def _kubelite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubelite.cli.main", *args], capture_output=True, text=True)


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Node:
    data_dir: Path
    work: Path
    registry: RunningRegistry
    kubectl: dict[str, Kubectl]  # by version: "1.33", "1.27"

    @property
    def web(self) -> str:
        return f"{self.registry.host}/web:1"


def _serve_pushed_image(work: Path) -> RunningRegistry:
    """web:1 pushed to a plain registry, then that storage served behind htpasswd."""
    plain = start_registry(work / "plain")
    try:
        push(image_archives() / "web-1.tar", f"{plain.host}/web:1")
    finally:
        plain.stop()
    htpasswd = work / "htpasswd"
    htpasswd.write_text(f"{USER}:{bcrypt_hash(PASSWORD)}\n")
    return start_registry(work / "auth", storage=plain.storage, auth={"htpasswd": {"realm": "kubelite-test", "path": str(htpasswd)}})


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, cgroups)", pytrace=False)
    work = tmp_path_factory.mktemp("images")
    data_dir = work / "data"
    registry = _serve_pushed_image(work)
    net = unique_net()
    table = f"kubelite_im{net.number}"
    flags = [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table, "--ingress-http-port", "0",
    ]  # fmt: skip
    running: RunningServer | None = None
    try:
        running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True)
        clients = {
            version: Kubectl(KUBECTL_VERSIONS[version], running.kubeconfig, tmp_path_factory.mktemp(f"home-{version}"))
            for version in ("1.33", "1.27")
        }
        clients["1.33"]("create", "namespace", NAMESPACE)
        yield Node(data_dir, work, registry, clients)
        clients["1.33"]("delete", "namespace", NAMESPACE, "--timeout=60s")
    finally:
        if running is not None:
            running.stop()
        registry.stop()
        reset = _kubelite("server", "--data-dir", str(data_dir), "--reset", *flags)
        assert reset.returncode == 0, reset.stderr
        left = [f"registry pid {registry.process.pid}"] if _alive(registry.process.pid) else []
        left += [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        left += [f"nft table {table}"] if _table_exists(table) else []
        nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
        left += [f"nat rule {line}" for line in nat.splitlines() if f'name: \\"{net.bridge}\\"' in line]
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        assert not left, f"left behind: {left}"


# ---- helpers ----------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def pod_json(kubectl: Kubectl, name: str) -> Obj:
    return dict(json.loads(kubectl("get", "pod", name, "-n", NAMESPACE, "-o", "json")))


def container_status(kubectl: Kubectl, name: str) -> Obj:
    statuses = pod_json(kubectl, name).get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def events_of(kubectl: Kubectl, pod: str) -> list[Obj]:
    listed = json.loads(kubectl("get", "events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={pod}", "-o", "json"))
    return list(listed["items"])


def wait_for_event(kubectl: Kubectl, pod: str, reason: str, message: str, timeout: float = 30.0) -> Obj:
    def found() -> Obj | None:
        return next((e for e in events_of(kubectl, pod) if e["reason"] == reason and e["message"].startswith(message)), None)

    return dict(wait_for(found, timeout, f"{reason} {message!r} on {pod}"))


def apply(kubectl: Kubectl, manifest: Obj) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(manifest))


def a_pod(name: str, image: str, policy: str, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    container = {"name": "app", "image": image, "imagePullPolicy": policy}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels or {}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec},
    }


def busybox_layer() -> bytes:
    """The uncompressed busybox layer of build/test-images/busybox-1.tar (an OCI layout)."""
    with tarfile.open(image_archives() / "busybox-1.tar") as archive:

        def blob(digest: str) -> bytes:
            member = archive.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))
            assert member is not None
            return member.read()

        index = json.loads(blob_of_index(archive))
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        (layer,) = manifest["layers"]
        data = blob(layer["digest"])
    return gzip.decompress(data) if layer["mediaType"].endswith("+gzip") else data


def blob_of_index(archive: tarfile.TarFile) -> bytes:
    member = archive.extractfile("index.json")
    assert member is not None
    return member.read()


def registry_digest(registry: RunningRegistry, repository: str, tag: str) -> str:
    """What the registry says `repository:tag` resolves to (Docker-Content-Digest)."""
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{tag}", method="HEAD")
    request.add_header("Accept", MANIFEST_ACCEPT)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.headers["Docker-Content-Digest"])


# ---- 1. `docker save` archive, imported while the server runs ---------------------------------


def test_a_docker_save_archive_imported_while_running_runs_with_pull_policy_never(node: Node) -> None:
    kubectl = node.kubectl["1.27"]
    archive = node.work / "saved.tar"
    extra = layout.layer_tar([layout.file("saved.txt", SAVED_TEXT + "\n")])
    config = {"Env": [layout.DEFAULT_PATH_ENV], "Cmd": ["sh", "-c", "cat /saved.txt; exec sleep 3600"]}
    write_docker_archive(archive, [([SAVED], [busybox_layer(), extra], config)])
    with tarfile.open(archive) as opened:
        names = opened.getnames()
    assert {"manifest.json", "repositories"} <= set(names) and any(n.endswith("/layer.tar") for n in names)

    # Before the import: Never means never (the kubelet's ErrImageNeverPull).
    apply(kubectl, a_pod("early", SAVED, "Never"))
    never = wait_for(lambda: container_status(kubectl, "early").get("state", {}).get("waiting", {}).get("reason") == "ErrImageNeverPull"
                     and container_status(kubectl, "early"), what="ErrImageNeverPull")  # fmt: skip
    assert never["state"]["waiting"]["message"] == f'Container image "{SAVED}" is not present with pull policy of Never'
    kubectl("delete", "pod", "early", "-n", NAMESPACE, "--wait=false")

    imported = _kubelite("image", "import", "--data-dir", str(node.data_dir), str(archive))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == f"Loaded image: {SAVED}\n"
    listed = _kubelite("image", "ls", "--data-dir", str(node.data_dir))
    assert "kubelite.test/saved" in listed.stdout, listed.stdout

    apply(kubectl, a_pod("saved", SAVED, "Never"))
    kubectl("wait", "--for=condition=Ready", "pod/saved", "-n", NAMESPACE, "--timeout=30s")
    assert pod_json(kubectl, "saved")["status"]["phase"] == "Running"
    wait_for(lambda: SAVED_TEXT in kubectl("logs", "saved", "-n", NAMESPACE), 10, "the image's own command's output")
    pulled = wait_for_event(kubectl, "saved", "Pulled", f'Container image "{SAVED}" already present on machine')
    assert pulled["type"] == "Normal" and pulled["involvedObject"]["fieldPath"] == "spec.containers{app}"
    assert not [e for e in events_of(kubectl, "saved") if e["reason"] == "Pulling"]
    status = container_status(kubectl, "saved")
    assert status["image"] == SAVED
    assert re.fullmatch(r"kubelite\.test/saved@sha256:[0-9a-f]{64}", status["imageID"]), status["imageID"]
    kubectl("delete", "pod", "saved", "-n", NAMESPACE, "--wait=false")


# ---- 2. a registry with basic auth --------------------------------------------------------------


def test_a_pull_without_credentials_is_unauthorized_then_backs_off(node: Node) -> None:
    kubectl = node.kubectl["1.33"]
    # What `kubectl get pods -w` shows: ErrImagePull, then ImagePullBackOff.
    watch = Background(kubectl, "get", "pods", "-n", NAMESPACE, "-l", "case=noauth", "-w", "--no-headers")
    try:
        # Always: the pull goes to the registry even once another pod has the image on the node.
        apply(kubectl, a_pod("noauth", node.web, "Always", labels={"case": "noauth"}))
        first = watch.wait_for_line(lambda line: line.split()[2:3] == ["ErrImagePull"], 30)
        watch.wait_for_line(lambda line: line.split()[2:3] == ["ImagePullBackOff"], 30, after=first + 1)
    finally:
        watch.kill()
    waiting = container_status(kubectl, "noauth")["state"]["waiting"]
    assert waiting["reason"] in ("ImagePullBackOff", "ErrImagePull"), waiting
    unauthorized = (
        f'failed to pull and unpack image "{node.web}": failed to resolve reference "{node.web}": pull access denied, '
        f"repository does not exist or may require authorization: unexpected status from GET request to "
        f"http://{node.registry.host}/v2/web/manifests/1: 401 Unauthorized"
    )
    if waiting["reason"] == "ImagePullBackOff":
        assert waiting["message"] == f'Back-off pulling image "{node.web}": ErrImagePull: {unauthorized}'
    else:
        assert waiting["message"] == unauthorized
    failed = wait_for_event(kubectl, "noauth", "Failed", f'Failed to pull image "{node.web}": ')
    assert failed["type"] == "Warning" and failed["message"].endswith(unauthorized), failed
    wait_for_event(kubectl, "noauth", "Failed", "Error: ErrImagePull")
    wait_for_event(kubectl, "noauth", "BackOff", f'Back-off pulling image "{node.web}"')
    wait_for_event(kubectl, "noauth", "Failed", "Error: ImagePullBackOff")
    described = kubectl("describe", "pod", "noauth", "-n", NAMESPACE)
    assert "may require authorization" in described and "401 Unauthorized" in described, described
    kubectl("delete", "pod", "noauth", "-n", NAMESPACE, "--wait=false")


def test_image_pull_secrets_from_the_pod_and_from_its_service_account(node: Node) -> None:
    kubectl = node.kubectl["1.33"]
    created = kubectl(
        "create", "secret", "docker-registry", "regcred", "-n", NAMESPACE, f"--docker-server={node.registry.host}",
        f"--docker-username={USER}", f"--docker-password={PASSWORD}",
    )  # fmt: skip
    assert created == "secret/regcred created\n"
    apply(kubectl, a_pod("withsecret", node.web, "IfNotPresent", imagePullSecrets=[{"name": "regcred"}]))
    kubectl("wait", "--for=condition=Ready", "pod/withsecret", "-n", NAMESPACE, "--timeout=40s")
    ip = pod_json(kubectl, "withsecret")["status"]["podIP"]
    assert "web 1 withsecret" in http_get(ip, 80, "/")
    wait_for_event(kubectl, "withsecret", "Pulling", f'Pulling image "{node.web}"')
    pulled = wait_for_event(kubectl, "withsecret", "Pulled", f'Successfully pulled image "{node.web}" in ')
    assert re.search(r" in [0-9.]+m?s \([0-9.]+m?s including waiting\)\. Image size: [1-9][0-9]* bytes\.$", pulled["message"]), pulled

    # 3. The imageID of a pulled image is the registry's digest reference, as containerd reports it.
    digest = registry_digest(node.registry, "web", "1")
    for version in ("1.33", "1.27"):
        image_id = node.kubectl[version]("get", "pod", "withsecret", "-n", NAMESPACE, "-o", "jsonpath={.status.containerStatuses[0].imageID}")
        assert image_id == f"{node.registry.host}/web@{digest}", (version, image_id)

    # The ServiceAccount's imagePullSecrets: copied into the pod at admission, used for the pull
    # (Always: the image is on the node now, so only a pull proves the credentials were used).
    apply(kubectl, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller", "namespace": NAMESPACE},
                    "imagePullSecrets": [{"name": "regcred"}]})  # fmt: skip
    apply(kubectl, a_pod("viasa", node.web, "Always", serviceAccountName="puller"))
    assert pod_json(kubectl, "viasa")["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    kubectl("wait", "--for=condition=Ready", "pod/viasa", "-n", NAMESPACE, "--timeout=40s")
    wait_for_event(kubectl, "viasa", "Pulled", f'Successfully pulled image "{node.web}" in ')
    assert "web 1 viasa" in http_get(pod_json(kubectl, "viasa")["status"]["podIP"], 80, "/")
    # A pod that names its own pull secrets keeps them (the account's are not added).
    apply(kubectl, a_pod("own", node.web, "IfNotPresent", serviceAccountName="puller", imagePullSecrets=[{"name": "other"}]))
    assert pod_json(kubectl, "own")["spec"]["imagePullSecrets"] == [{"name": "other"}]
    kubectl("delete", "pod", "withsecret", "viasa", "own", "-n", NAMESPACE, "--wait=false")
