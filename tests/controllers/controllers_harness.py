"""Helpers for the controller tests: running controllers against a cluster, listing pods and
ReplicaSets, making pods Ready as a kubelet would, and polling.

Must not reach into controller internals beyond their public attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import Client, ResourceClient
from kubelite.controllers.base import Controller

Obj = dict[str, Any]


def stamp(seconds: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if seconds is None else seconds))


@dataclass
class ControllerCluster:
    client: Client
    namespace: str
    controllers: list[Controller] = field(default_factory=list)

    def rc(self, group: str, version: str, resource: str) -> ResourceClient:
        return self.client.resource(group, version, resource).namespace(self.namespace)

    @property
    def pods(self) -> ResourceClient:
        return self.rc("", "v1", "pods")

    @property
    def replica_sets(self) -> ResourceClient:
        return self.rc("apps", "v1", "replicasets")

    @property
    def deployments(self) -> ResourceClient:
        return self.rc("apps", "v1", "deployments")

    @property
    def events(self) -> ResourceClient:
        return self.rc("", "v1", "events")

    async def run(self, controller: Controller) -> Controller:
        await controller.start()
        self.controllers.append(controller)
        return controller

    async def stop(self) -> None:
        for controller in reversed(self.controllers):
            await controller.stop()
        self.controllers.clear()

    async def live_pods(self, selector: str = "") -> list[Obj]:
        items = (await self.pods.list(label_selector=selector))["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    async def make_ready(self, pod: Obj, since: float | None = None) -> Obj:
        """What a kubelet reports once the pod's containers run and pass readiness."""
        fresh = await self.pods.get(pod["metadata"]["name"])
        fresh["status"] = {
            **(fresh.get("status") or {}),
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp(since)}],
        }
        return await self.pods.update_status(fresh)

    async def make_all_ready(self, selector: str = "") -> int:
        count = 0
        for pod in await self.live_pods(selector):
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or ()
            )
            if not ready:
                with contextlib.suppress(StatusError):
                    await self.make_ready(pod)
                    count += 1
        return count


def labels_selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await condition():
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def replica_set(name: str, replicas: int, labels: dict[str, str], **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "img:1"}]},
            },
            **spec,
        },
    }


def deployment(name: str, replicas: int, image: str = "img:1", **spec: Any) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }
