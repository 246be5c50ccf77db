"""What the kubelet can tell about a container's image before the runtime starts it — whether
the start will pull (imagePullPolicy, defaulted as the API does, and presence in the runtime's
image store, as upstream's image manager decides) and, after a pull, the image's size — so it can
record Pulling / Pulled / "already present" as upstream's image manager does.

Runtimes with an image store expose it as `images` (the OCI and process runtimes); a runtime
without one (the hollow runtime) has every image present.

Must not pull, back off or record anything: pods.py does, the runtime pulls.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from kubelite.runtime.images.ensure import PULL_IF_NOT_PRESENT, PULL_NEVER, default_pull_policy

Obj = dict[str, Any]
PullPlan = Literal["present", "pull", "missing"]


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
