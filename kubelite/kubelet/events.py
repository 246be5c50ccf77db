"""The kubelet's events, with upstream's reasons, types and wording (pkg/kubelet/events, the image
manager, kuberuntime's container start/kill, the prober, the node status setters): about a pod's
containers (involvedObject the pod with fieldPath `spec.containers{name}`), about a pod, and about
the node (involvedObject kind Node whose uid is the node's name, as upstream's kubelet writes).

`KubeletEvents` only formats and hands events to the shared EventRecorder (kubelite.client.events:
asynchronous, aggregated, spam-filtered); without a recorder it records nothing.

Must not decide when something happened: pods.py, probes.py and agent.py call it when it does.
"""

from __future__ import annotations

from typing import Any

from kubelite.client.events import NORMAL, WARNING, EventRecorder

Obj = dict[str, Any]

COMPONENT = "kubelet"

# container and image reasons
PULLING = "Pulling"
PULLED = "Pulled"
FAILED = "Failed"
INSPECT_FAILED = "InspectFailed"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
BACK_OFF = "BackOff"
CREATED = "Created"
STARTED = "Started"
KILLING = "Killing"
UNHEALTHY = "Unhealthy"
FAILED_POST_START_HOOK = "FailedPostStartHook"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
# pod and node reasons
FAILED_MOUNT = "FailedMount"
STARTING = "Starting"
NODE_READY = "NodeReady"
NODE_NOT_READY = "NodeNotReady"

# node condition type -> (status, reason) worth an event when the condition turns to it
NODE_CONDITION_EVENTS: dict[str, dict[str, str]] = {
    "MemoryPressure": {"False": "NodeHasSufficientMemory", "True": "NodeHasInsufficientMemory"},
    "DiskPressure": {"False": "NodeHasNoDiskPressure", "True": "NodeHasDiskPressure"},
    "PIDPressure": {"False": "NodeHasSufficientPID", "True": "NodeHasInsufficientPID"},
}


def go_duration(seconds: float) -> str:
    """A duration as Go prints a time.Duration truncated to milliseconds: `0s`, `523ms`, `1.2s`,
    `1m20s`, `5m0s`, `1h0m0s`."""
    millis = int(max(seconds, 0.0) * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    text = f"{whole}.{fraction:03d}".rstrip("0") if fraction else str(whole)
    if hours:
        return f"{hours}h{minutes}m{text}s"
    if minutes:
        return f"{minutes}m{text}s"
    return f"{text}s"


def format_pod(pod: Obj) -> str:
    """`name_namespace(uid)`, as upstream's format.Pod."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def container_field_path(pod: Obj, name: str) -> str:
    """The fieldPath of a container's events: spec.containers{c}, spec.initContainers{c} or
    spec.ephemeralContainers{c}."""
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        if any(c.get("name") == name for c in spec.get(field) or []):
            return f"spec.{field}{{{name}}}"
    return f"spec.containers{{{name}}}"


class KubeletEvents:
    def __init__(self, recorder: EventRecorder | None, node_name: str):
        self.recorder = recorder
        self.node_name = node_name

    # ------------------------------------------------------------------ generic
    def container(self, pod: Obj, name: str, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(pod, event_type, reason, message, kind="Pod", api_version="v1", field_path=container_field_path(pod, name))

    def pod(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(pod, event_type, reason, message, kind="Pod", api_version="v1")

    def node(self, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event({"metadata": {"name": self.node_name, "uid": self.node_name}}, event_type, reason, message, kind="Node")

    # ------------------------------------------------------------------ images
    def pulling(self, pod: Obj, name: str, image: str) -> None:
        self.container(pod, name, NORMAL, PULLING, f'Pulling image "{image}"')

    def pulled(self, pod: Obj, name: str, image: str, seconds: float, size: int, total: float | None = None) -> None:
        """`seconds` the pull took, `total` with the wait before it (the same when not given)."""
        took = go_duration(seconds)
        waited = took if total is None else go_duration(max(total, seconds))
        message = f'Successfully pulled image "{image}" in {took} ({waited} including waiting). Image size: {size} bytes.'
        self.container(pod, name, NORMAL, PULLED, message)

    def already_present(self, pod: Obj, name: str, image: str) -> None:
        self.container(pod, name, NORMAL, PULLED, f'Container image "{image}" already present on machine')

    def image_failed(self, pod: Obj, name: str, image: str, reason: str, message: str) -> None:
        """A container's image could not be had (`reason` its waiting reason): the image
        manager's event, then the container start's `Error: <reason>`."""
        if reason == "ErrImagePull":
            self.container(pod, name, WARNING, FAILED, f'Failed to pull image "{image}": {message}')
        elif reason == "ErrImageNeverPull":
            self.container(pod, name, WARNING, ERR_IMAGE_NEVER_PULL, message)
        elif reason == "InvalidImageName":
            self.container(pod, name, WARNING, INSPECT_FAILED, message)
        self.failed(pod, name, reason)

    def pull_back_off(self, pod: Obj, name: str, image: str) -> None:
        self.container(pod, name, NORMAL, BACK_OFF, f'Back-off pulling image "{image}"')
        self.failed(pod, name, "ImagePullBackOff")

    # ------------------------------------------------------------------ containers
    def failed(self, pod: Obj, name: str, error: str) -> None:
        self.container(pod, name, WARNING, FAILED, f"Error: {error}")

    def created(self, pod: Obj, name: str) -> None:
        self.container(pod, name, NORMAL, CREATED, f"Created container: {name}")

    def started(self, pod: Obj, name: str) -> None:
        self.container(pod, name, NORMAL, STARTED, f"Started container {name}")

    def killing(self, pod: Obj, name: str, message: str = "") -> None:
        self.container(pod, name, NORMAL, KILLING, message or f"Stopping container {name}")

    def crash_back_off(self, pod: Obj, name: str) -> None:
        self.container(pod, name, WARNING, BACK_OFF, f"Back-off restarting failed container {name} in pod {format_pod(pod)}")

    def unhealthy(self, pod: Obj, name: str, probe: str, output: str) -> None:
        """`probe`: Liveness, Readiness or Startup."""
        self.container(pod, name, WARNING, UNHEALTHY, f"{probe} probe failed: {output}")

    def post_start_failed(self, pod: Obj, name: str) -> None:
        # upstream leaves the hook's output out of the event, so that secrets do not leak
        self.container(pod, name, WARNING, FAILED_POST_START_HOOK, "PostStartHook failed")

    def pre_stop_failed(self, pod: Obj, name: str) -> None:
        self.container(pod, name, WARNING, FAILED_PRE_STOP_HOOK, "PreStopHook failed")

    # ------------------------------------------------------------------ pods and the node
    def mount_failed(self, pod: Obj, message: str) -> None:
        self.pod(pod, WARNING, FAILED_MOUNT, message)

    def kubelet_starting(self) -> None:
        self.node(NORMAL, STARTING, "Starting kubelet.")

    def node_conditions_changed(self, before: list[Obj], after: list[Obj]) -> None:
        """An event per condition that turned to a new status, as the node status setters do
        (`Node <name> status is now: <reason>`)."""
        old = {c.get("type"): c.get("status") for c in before}
        for condition in after:
            kind, status = condition.get("type"), condition.get("status")
            if old.get(kind) == status:
                continue
            if kind == "Ready":
                reason = NODE_READY if status == "True" else NODE_NOT_READY
            else:
                reason = NODE_CONDITION_EVENTS.get(str(kind), {}).get(str(status), "")
            if reason:
                self.node(NORMAL, reason, f"Node {self.node_name} status is now: {reason}")
