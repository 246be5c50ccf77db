"""PodControl against a real in-process registry: a create or delete records upstream's
Successful*/Failed* event on the owner; a refused create raises after FailedCreate; deleting a
missing pod raises its 404 without an event; NamespaceTerminating is recognised."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.controllers.podcontrol import PodControl, namespace_terminating
from tests.controllers.controllers_harness import ControllerCluster

Obj = dict[str, Any]
OWNER: Obj = {"metadata": {"name": "web", "namespace": "ctl", "uid": "u1"}}


def pod(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


async def test_events_for_creates_and_deletes(cluster: ControllerCluster) -> None:
    events: list[tuple[str, str, str]] = []
    control = PodControl(cluster.client.resource("", "v1", "pods"), lambda _owner, kind, reason, message: events.append((kind, reason, message)))
    created = await control.create(OWNER, pod("a"))
    assert created is not None and created["metadata"]["namespace"] == "ctl"
    with pytest.raises(StatusError) as refused:
        await control.create(OWNER, pod("a"))
    assert refused.value.code == 409
    await control.delete(OWNER, created)
    with pytest.raises(StatusError) as missing:
        await control.delete(OWNER, created)
    assert missing.value.code == 404
    assert events == [
        ("Normal", "SuccessfulCreate", "Created pod: a"),
        ("Warning", "FailedCreate", 'Error creating: pods "a" already exists'),
        ("Normal", "SuccessfulDelete", "Deleted pod: a"),
    ]


def test_namespace_terminating_is_recognised_by_its_cause() -> None:
    terminating = StatusError(403, "Forbidden", "x", {"causes": [{"reason": "NamespaceTerminating"}]})
    assert namespace_terminating(terminating)
    assert not namespace_terminating(StatusError(403, "Forbidden", "x", {}))
    assert not namespace_terminating(ValueError("x"))
