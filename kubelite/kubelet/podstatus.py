"""The pod status a kubelet reports, computed from the pod, what the runtime says, and the
restart decisions of the pod worker: phase, the kubelet's conditions (PodReadyToStartContainers,
Initialized, Ready, ContainersReady, PodScheduled; others kept), container statuses, IPs and
startTime. Transition times and startTime are kept while nothing changed, so a pod in a steady
state produces the very status it already has (and no write).

Must not do I/O or read the clock: `now` is given. Probe results come in through `probe_state`
(without it a running container counts as started and ready).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubelite.runtime.base import ContainerStatus, PodStatus

Obj = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def should_restart(restart_policy: str, exit_code: int | None, init: bool = False) -> bool:
    """Whether a terminated container runs again under the pod's restartPolicy (init containers
    treat Always as OnFailure)."""
    if restart_policy == "Always" and not init:
        return True
    if restart_policy in ("Always", "OnFailure"):
        return exit_code != 0
    return False


def _state(status: ContainerStatus, now: str, rfc: Callable[[float | None], str]) -> Obj:
    if status.state == "running":
        return {"running": {"startedAt": rfc(status.started_at)}}
    if status.state == "terminated":
        terminated: Obj = {
            "exitCode": status.exit_code if status.exit_code is not None else 0,
            "reason": status.reason or ("Completed" if not status.exit_code else "Error"),
            "startedAt": rfc(status.started_at) if status.started_at is not None else None,
            "finishedAt": rfc(status.finished_at) if status.finished_at is not None else now,
            "containerID": status.container_id,
        }
        if status.message:
            terminated["message"] = status.message
        return {"terminated": terminated}
    return {"waiting": {"reason": status.reason or "ContainerCreating"}}


ProbeState = Callable[[Obj, ContainerStatus], tuple[bool, bool]]  # (container spec, status) -> (ready, started)


def container_status(
    spec: Obj,
    status: ContainerStatus | None,
    old: Obj | None,
    waiting: tuple[str, str] | None,
    default_wait: str,
    now: str,
    rfc: Callable[[float | None], str],
    probe_state: ProbeState | None = None,
    previous: ContainerStatus | None = None,
) -> Obj:
    """One entry of containerStatuses / initContainerStatuses. `previous`: the attempt before
    the current one, when known (its end is the lastState)."""
    name = spec["name"]
    if status is None or (waiting is not None and status.state == "waiting"):
        state_waiting: Obj = {"reason": waiting[0] if waiting else default_wait}
        if waiting and waiting[1]:
            state_waiting["message"] = waiting[1]
        if status is not None:
            return {
                "name": name,
                "state": {"waiting": state_waiting},
                "lastState": (old or {}).get("lastState") or {},
                "ready": False,
                "restartCount": status.restart_count,
                "image": status.image or spec.get("image", ""),
                "imageID": status.image_id,
                "started": False,
            }
        return {
            "name": name,
            "state": {"waiting": state_waiting},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": spec.get("image", ""),
            "imageID": "",
            "started": False,
        }
    old = old or {}
    last_state = old.get("lastState") or {}
    if status.restart_count > int(old.get("restartCount") or 0) and "terminated" in (old.get("state") or {}):
        last_state = old["state"]
    elif previous is not None and previous.state == "terminated" and previous.container_id != status.container_id:
        last_state = _state(previous, now, rfc)
    if waiting is not None and status.state == "terminated":  # held back before a restart
        state: Obj = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        last_state = _state(status, now, rfc)
    else:
        state = _state(status, now, rfc)
    running = status.state == "running"
    ready = started = running
    if running and probe_state is not None:
        ready, started = probe_state(spec, status)
    return {
        "name": name,
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "restartCount": status.restart_count,
        "image": status.image or spec.get("image", ""),
        "imageID": status.image_id,
        "containerID": status.container_id,
        "started": started,
    }


def _condition(kind: str, value: bool, old: dict[str, Obj], now: str, reason: str = "", message: str = "") -> Obj:
    status = "True" if value else "False"
    previous = old.get(kind) or {}
    since = previous.get("lastTransitionTime") if previous.get("status") == status else None
    condition: Obj = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since or now}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def compute_phase(pod: Obj, runtime: PodStatus | None, init_done: bool, init_failed: bool) -> str:
    old_phase = (pod.get("status") or {}).get("phase") or "Pending"
    if old_phase in TERMINAL_PHASES:
        return str(old_phase)
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    if init_failed:
        return "Failed"
    if runtime is None or not init_done:
        return "Pending"
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    running = waiting = succeeded = failed = restarting = 0
    for container in spec.get("containers") or []:
        status = runtime.container(container["name"])
        if status is None:
            waiting += 1
        elif status.state == "running":
            running += 1
        elif status.state == "terminated":
            if not deleting and should_restart(policy, status.exit_code):
                restarting += 1
            elif status.exit_code == 0:
                succeeded += 1
            else:
                failed += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running or restarting:
        return "Running"
    return "Failed" if failed else "Succeeded"


def build_pod_status(
    pod: Obj,
    runtime: PodStatus | None,
    *,
    host_ip: str,
    now: str,
    rfc: Callable[[float | None], str],
    waiting: dict[str, tuple[str, str]] | None = None,
    probe_state: ProbeState | None = None,
    previous: dict[str, ContainerStatus] | None = None,
) -> Obj:
    """The status to write for `pod` (a new dict; the pod is not touched). `waiting` names the
    containers held back before a restart: (reason, message), e.g. CrashLoopBackOff."""
    waiting = waiting or {}
    prior = previous or {}
    spec = pod.get("spec") or {}
    old_status = pod.get("status") or {}
    status = copy.deepcopy(old_status)
    old_conditions = {c.get("type"): c for c in old_status.get("conditions") or []}

    init_specs = spec.get("initContainers") or []
    old_init = {c.get("name"): c for c in old_status.get("initContainerStatuses") or []}
    init_statuses = []
    init_pending: list[str] = []
    init_failed = False
    policy = spec.get("restartPolicy") or "Always"
    for init in init_specs:
        current = runtime.container(init["name"]) if runtime else None
        entry = container_status(
            init, current, old_init.get(init["name"]), waiting.get(init["name"]), "PodInitializing", now, rfc, probe_state, prior.get(init["name"])
        )
        init_statuses.append(entry)
        sidecar = init.get("restartPolicy") == "Always"
        done = current is not None and (
            (sidecar and current.state == "running") or (current.state == "terminated" and current.exit_code == 0)
        )
        if not done:
            init_pending.append(init["name"])
            if current is not None and current.state == "terminated" and not should_restart(policy, current.exit_code, init=True):
                init_failed = True
    init_done = not init_pending

    old_main = {c.get("name"): c for c in old_status.get("containerStatuses") or []}
    default_wait = "ContainerCreating" if init_done else "PodInitializing"
    statuses = [
        container_status(
            c, runtime.container(c["name"]) if runtime else None, old_main.get(c["name"]), waiting.get(c["name"]), default_wait, now, rfc, probe_state, prior.get(c["name"])
        )
        for c in spec.get("containers") or []
    ]
    phase = compute_phase(pod, runtime, init_done, init_failed)

    unready = [entry["name"] for entry in statuses if not entry["ready"]]
    terminal = phase in TERMINAL_PHASES
    conditions = [_condition("PodReadyToStartContainers", runtime is not None and not terminal, old_conditions, now)]
    if terminal:
        conditions.append(_condition("Initialized", True, old_conditions, now, "PodCompleted"))
        conditions.append(_condition("Ready", False, old_conditions, now, "PodCompleted"))
        conditions.append(_condition("ContainersReady", False, old_conditions, now, "PodCompleted"))
    else:
        if init_done:
            conditions.append(_condition("Initialized", True, old_conditions, now))
        else:
            message = f"containers with incomplete status: [{' '.join(init_pending)}]"
            conditions.append(_condition("Initialized", False, old_conditions, now, "ContainersNotInitialized", message))
        if unready:
            message = f"containers with unready status: [{' '.join(unready)}]"
            ready = _condition("Ready", False, old_conditions, now, "ContainersNotReady", message)
            containers_ready = _condition("ContainersReady", False, old_conditions, now, "ContainersNotReady", message)
        else:
            ready = _gated_ready(spec, old_conditions, now)
            containers_ready = _condition("ContainersReady", True, old_conditions, now)
        conditions.extend([ready, containers_ready])
    conditions.append(old_conditions.get("PodScheduled") or _condition("PodScheduled", True, {}, now))
    conditions.extend(c for kind, c in old_conditions.items() if kind not in KUBELET_CONDITIONS)

    status["phase"] = phase
    status["conditions"] = conditions
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    pod_ip = (runtime.sandbox.ip or host_ip) if runtime is not None else ""
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status.setdefault("startTime", now)
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    return status


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def same_status(computed: Obj, stored: Obj | None) -> bool:
    """Whether a computed status is what the API already holds: the server drops null fields
    (e.g. a condition's `lastProbeTime: null`), so they do not count as a difference."""
    if computed == stored:
        return True
    return stored is not None and _without_nulls(computed) == _without_nulls(stored)


def _gated_ready(spec: Obj, old_conditions: dict[str, Obj], now: str) -> Obj:
    missing = []
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType", "")
        condition = old_conditions.get(kind)
        if condition is None:
            missing.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif condition.get("status") != "True":
            missing.append(f'the status of pod readiness gate "{kind}" is not "True", but {condition.get("status")}')
    if missing:
        return _condition("Ready", False, old_conditions, now, "ReadinessGatesNotReady", ", ".join(missing))
    return _condition("Ready", True, old_conditions, now)
