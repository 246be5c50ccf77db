"""The exceptions the OCI runtime raises to the kubelet.

Must not carry anything but a reason and a message: mapping them to container states, events and
back-off is the kubelet's job.
"""

from __future__ import annotations


class RuntimeUnavailable(Exception):
    """This machine cannot run OCI containers; the message says why (the kubelet falls back to
    another runtime and shows it)."""


class ContainerStartError(Exception):
    """A container could not be created for a reason the kubelet reports as the container's
    waiting state: `reason` is one of ErrImagePull, ErrImageNeverPull, InvalidImageName,
    CreateContainerConfigError or CreateContainerError, `message` the text users see."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class OciCommandError(Exception):
    """runc/crun, conmon, ip or a CNI plugin failed; the message is the tool's own."""
