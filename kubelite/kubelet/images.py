"""What the kubelet can tell about a container's image before the runtime starts it — whether
the start will pull (imagePullPolicy, defaulted as the API does, and presence in the runtime's
image store, as upstream's image manager decides) and, after a pull, the image's size — so it can
record Pulling / Pulled / "already present" as upstream's image manager does.

Runtimes with an image store expose it as `images` (the OCI and process runtimes); a runtime
without one (the hollow runtime) has every image present.

Also the credentials a pull may use: the pod's imagePullSecrets read through the kubelet's
client and decoded (`kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` Secrets), as
upstream's kubelet hands them to the runtime.

Must not pull, back off or record anything: pods.py does, the runtime pulls.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from kubelite.runtime.images.ensure import PULL_IF_NOT_PRESENT, PULL_NEVER, default_pull_policy

Obj = dict[str, Any]
PullPlan = Literal["present", "pull", "missing"]
log = logging.getLogger(__name__)

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
_PULL_SECRET_KEYS = {DOCKER_CONFIG_JSON: DOCKER_CONFIG_JSON_KEY, DOCKERCFG: DOCKERCFG_KEY}


class SizedImage(Protocol):
    @property
    def size(self) -> int: ...


@runtime_checkable
class ImageIndex(Protocol):
    def get(self, ref: str) -> SizedImage | None: ...


def image_index(runtime: object) -> ImageIndex | None:
    """The runtime's image store, when it has one."""
    images = getattr(runtime, "images", None)
    return images if isinstance(images, ImageIndex) else None


def _lookup(index: ImageIndex, image: str) -> SizedImage | None:
    try:
        return index.get(image)
    except Exception:  # an unparsable reference: the runtime reports InvalidImageName
        return None


def pull_plan(index: ImageIndex | None, container: Obj) -> PullPlan:
    """"present": the image is used as it is; "pull": starting the container pulls it;
    "missing": policy Never and the image is not there."""
    if index is None:
        return "present"
    image = str(container.get("image") or "")
    policy = str(container.get("imagePullPolicy") or "") or default_pull_policy(image)
    present = _lookup(index, image) is not None
    if present and policy in (PULL_NEVER, PULL_IF_NOT_PRESENT):
        return "present"
    return "missing" if policy == PULL_NEVER else "pull"


def image_size(index: ImageIndex | None, image: str) -> int:
    found = _lookup(index, image) if index is not None else None
    return int(found.size) if found is not None else 0


class SecretReader(Protocol):
    async def secret(self, namespace: str, name: str) -> Obj | None: ...


def _docker_config(secret: Obj) -> Obj | None:
    """A pull secret's `.dockerconfigjson` (or older `.dockercfg`) document, else None."""
    key = _PULL_SECRET_KEYS.get(str(secret.get("type") or ""))
    encoded = (secret.get("data") or {}).get(key) if key else None
    if not isinstance(encoded, str):
        return None
    try:
        document = orjson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


async def pod_pull_secrets(secrets: SecretReader, pod: Obj) -> list[Obj]:
    """The docker config documents of the pod's imagePullSecrets, in order. Secrets that are
    missing, of another type or unreadable are left out (a warning names the missing ones: the
    pull is still tried, as upstream's kubelet does); API errors other than 404 propagate."""
    refs = (pod.get("spec") or {}).get("imagePullSecrets") or []
    if not refs:
        return []
    namespace = str(pod["metadata"].get("namespace") or "")
    found: list[Obj] = []
    missing: list[str] = []
    for ref in refs:
        name = str(ref.get("name") or "") if isinstance(ref, dict) else ""
        secret = await secrets.secret(namespace, name) if name else None
        if secret is None:
            missing.append(name)
            continue
        document = _docker_config(secret)
        if document is not None:
            found.append(document)
    if missing:
        log.warning(
            "pod %s/%s: Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.",
            namespace, pod["metadata"].get("name"), ", ".join(missing),
        )  # fmt: skip
    return found
