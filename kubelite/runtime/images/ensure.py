"""imagePullPolicy: make sure a container's image is in the store before it starts, the way the
kubelet's image manager does (Never: only what is there; IfNotPresent: pull when missing;
Always: resolve again with the registry), with the kubelet's reasons and messages
(InvalidImageName, ErrImageNeverPull, ErrImagePull).

Must not back off or record events: the kubelet turns the error into ImagePullBackOff and
events; this only answers "ready" or why not.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubelite.runtime.images.progress import ProgressCallback
from kubelite.runtime.images.puller import ImagePullError, Puller
from kubelite.runtime.images.reference import DEFAULT_TAG, InvalidReference, parse_reference
from kubelite.runtime.images.store import ImageRecord, ImageStore

PULL_ALWAYS = "Always"
PULL_IF_NOT_PRESENT = "IfNotPresent"
PULL_NEVER = "Never"


class ImageUnavailable(Exception):
    """Why a container cannot have its image: `reason` is the container's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class EnsuredImage:
    record: ImageRecord
    pulled: bool  # False when the store already had it and the policy allowed using it
    seconds: float  # time spent pulling


def default_pull_policy(image: str) -> str:
    """The API's default: Always for `:latest` or untagged images, else IfNotPresent."""
    try:
        ref = parse_reference(image)
    except InvalidReference:
        return PULL_IF_NOT_PRESENT
    return PULL_ALWAYS if ref.digest is None and ref.tag == DEFAULT_TAG else PULL_IF_NOT_PRESENT


async def ensure_image(
    store: ImageStore,
    puller: Puller,
    image: str,
    policy: str = "",
    *,
    pull_secrets: Sequence[dict[str, Any]] = (),
    progress: ProgressCallback | None = None,
) -> EnsuredImage:
    """The store's record of `image` after applying `policy` (empty: the API default).
    Raises ImageUnavailable."""
    try:
        parse_reference(image)
    except InvalidReference as exc:
        raise ImageUnavailable(
            "InvalidImageName",
            f'Failed to apply default image tag "{image}": couldn\'t parse image reference "{image}": {exc}',
        ) from None
    policy = policy or default_pull_policy(image)
    present = store.get(image)
    if present is not None and policy in (PULL_NEVER, PULL_IF_NOT_PRESENT):
        return EnsuredImage(present, pulled=False, seconds=0.0)
    if policy == PULL_NEVER:
        raise ImageUnavailable(
            "ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never'
        )
    started = time.monotonic()
    try:
        record = await puller.pull(image, pull_secrets=pull_secrets, progress=progress)
    except ImagePullError as exc:
        raise ImageUnavailable("ErrImagePull", exc.message) from None
    return EnsuredImage(record, pulled=True, seconds=time.monotonic() - started)
