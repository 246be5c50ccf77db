"""Which field selectors each resource supports, and the field values an object offers to them.

Must not parse selector text (kubelite.api.fields does) or touch storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


def _get(obj: Obj, *path: str) -> str:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _getter(path: str) -> Callable[[Obj], str]:
    parts = tuple(path.split("."))
    return lambda obj: _get(obj, *parts)


def _fields(*paths: str) -> dict[str, Callable[[Obj], str]]:
    return {p: _getter(p) for p in paths}


_COMMON = _fields("metadata.name", "metadata.namespace")

_PER_RESOURCE: dict[tuple[str, str], dict[str, Callable[[Obj], str]]] = {
    ("", "pods"): _fields(
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "events"): _fields(
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("events.k8s.io", "events"): _fields(
        "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "reportingController", "type"
    ),
    ("", "secrets"): _fields("type"),
    ("", "nodes"): _fields("spec.unschedulable"),
    ("", "namespaces"): _fields("status.phase"),
    ("", "replicationcontrollers"): _fields("status.replicas"),
    ("apps", "replicasets"): _fields("status.replicas"),
    ("batch", "jobs"): _fields("status.successful"),
    ("", "persistentvolumes"): _fields("name"),
    ("certificates.k8s.io", "certificatesigningrequests"): _fields("spec.signerName"),
}

# The core Event's `source` field selector reads source.component.
_PER_RESOURCE[("", "events")]["source"] = lambda o: _get(o, "source", "component")
_PER_RESOURCE[("", "persistentvolumes")]["name"] = lambda o: _get(o, "metadata", "name")


def field_getters(group: str, resource: str) -> dict[str, Callable[[Obj], str]]:
    """Field name -> getter for every field selector the resource supports."""
    extra = _PER_RESOURCE.get((group, resource))
    return {**_COMMON, **extra} if extra else _COMMON
