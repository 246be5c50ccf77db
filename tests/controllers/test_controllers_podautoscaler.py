"""The HorizontalPodAutoscaler controller in fake time against a real in-process registry, with a
Deployment scaled by the Deployment and ReplicaSet controllers, pods made Running+Ready by the test
and a test metrics provider: scale up on high CPU (within the rate and maxReplicas limits), scale
down only after the stabilization window (and not below minReplicas), behaviors, conditions,
events, and what happens without metrics, without a target, or with a target at zero replicas.
Also the default metrics source, which reports the unserved metrics.k8s.io API as upstream does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector, parse_label_selector_requirements
from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.events import EventRecorder
from kubelite.controllers.metricsclient import (
    MetricsUnavailable,
    PodMetric,
    PodMetricsInfo,
    ResourceMetricsClient,
    container_metrics,
    parse_duration,
    pod_metrics,
)
from kubelite.controllers.podautoscaler import HorizontalPodAutoscalerController, milli_quantity, target_group
from kubelite.controllers.replicaset import ReplicaSetController
from tests.controllers.controllers_harness import ControllerCluster, eventually, stamp

Obj = dict[str, Any]

NO_METRICS_API = (
    "unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: "
    "the server could not find the requested resource (get pods.metrics.k8s.io)"
)


class FakeMetrics:
    """A MetricsSource whose cpu usage per pod the test sets (milli-cores), or that fails."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.usage: dict[str, int] = {}
        self.failure = ""
        self.calls = 0

    async def resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str = ""
    ) -> tuple[PodMetricsInfo, float]:
        self.calls += 1
        if self.failure:
            raise MetricsUnavailable(self.failure)
        now = self.clock.time()
        return {name: PodMetric(value, now, 30.0) for name, value in self.usage.items()}, now


@dataclass
class World:
    cluster: ControllerCluster
    clock: FakeClock
    metrics: FakeMetrics
    hpa: HorizontalPodAutoscalerController
    recorder: EventRecorder

    @property
    def hpas(self) -> ResourceClient:
        return self.cluster.rc("autoscaling", "v2", "horizontalpodautoscalers")

    async def resync(self, times: int = 1) -> None:
        """Let the resync period pass, as often as asked, waiting each time for the sync to finish."""
        for _ in range(times):
            await self._one_resync()

    async def _one_resync(self) -> None:
        before = self.hpa.reconciliations
        self.clock.advance(15.0)

        async def synced() -> bool:
            return self.hpa.reconciliations > before

        await eventually(synced, what="an HPA sync")

    async def set_usage(self, milli_cores: int, app: str = "web") -> None:
        """Every live pod of the app uses this much cpu."""
        self.metrics.usage = {
            p["metadata"]["name"]: milli_cores for p in await self.cluster.live_pods(f"app={app}")
        }

    async def wait_pods(self, count: int, app: str = "web") -> None:
        async def ready() -> bool:
            pods = await self.cluster.live_pods(f"app={app}")
            return len(pods) == count and all(is_ready(p) for p in pods)

        await eventually(ready, what=f"{count} ready pods")

    async def status(self, name: str = "web") -> Obj:
        return (await self.hpas.get(name)).get("status") or {}

    async def events(self, reason: str) -> list[str]:
        await self.recorder.flush()
        items = (await self.cluster.events.list())["items"]
        return [
            e["message"]
            for e in items
            if e["reason"] == reason and e["involvedObject"].get("kind") == "HorizontalPodAutoscaler"
        ]

    async def replicas(self, name: str = "web") -> int:
        return int((await self.cluster.deployments.get(name))["spec"]["replicas"])


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def condition(status: Obj, kind: str) -> tuple[str, str, str]:
    found = next(c for c in status.get("conditions") or () if c["type"] == kind)
    return found["status"], found["reason"], found["message"]


def web_deployment(name: str = "web", replicas: int = 1, cpu: str = "500m") -> Obj:
    labels = {"app": name}
    container = {"name": "c", "image": "img:1", "resources": {"requests": {"cpu": cpu}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def autoscaler(
    name: str = "web", target: str = "web", minimum: int = 1, maximum: int = 5, cpu: int = 50, **spec: Any
) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": minimum,
            "maxReplicas": maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
                }
            ],
            **spec,
        },
    }


@contextlib.asynccontextmanager
async def kubelet(cluster: ControllerCluster, clock: FakeClock) -> AsyncIterator[None]:
    """Pods run and become ready; they started long enough ago for their cpu samples to count."""

    async def mark() -> None:
        for pod in await cluster.live_pods():
            if is_ready(pod):
                continue
            long_ago = stamp(clock.time() - 600)
            pod["status"] = {
                **(pod.get("status") or {}),
                "phase": "Running",
                "startTime": long_ago,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": long_ago}],
            }
            with contextlib.suppress(StatusError):
                await cluster.pods.update_status(pod)

    async def loop() -> None:
        while True:
            await mark()
            await asyncio.sleep(0.02)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def world(cluster: ControllerCluster) -> AsyncIterator[World]:
    clock = FakeClock(wall_start=time.time())
    metrics = FakeMetrics(clock)
    recorder = EventRecorder(cluster.client, "horizontal-pod-autoscaler", clock=clock)
    await recorder.start()
    await cluster.run(ReplicaSetController(cluster.client))
    await cluster.run(DeploymentController(cluster.client))
    hpa = HorizontalPodAutoscalerController(cluster.client, metrics=metrics, clock=clock, recorder=recorder)
    await cluster.run(hpa)
    async with kubelet(cluster, clock):
        yield World(cluster, clock, metrics, hpa, recorder)
    await recorder.stop()


async def start(world: World, replicas: int, usage: int, hpa: Obj | None = None) -> None:
    await world.cluster.deployments.create(web_deployment(replicas=replicas))
    await world.wait_pods(replicas)
    await world.set_usage(usage)
    await world.hpas.create(hpa or autoscaler())


# --------------------------------------------------------------------------- scaling
async def test_scales_up_on_high_cpu_within_rate_and_max(world: World) -> None:
    await start(world, 1, 500)  # 100% of the 500m request against a 50% target
    await world.resync()
    assert await world.replicas() == 2
    status = await world.status()
    assert status["currentReplicas"] == 1 and status["desiredReplicas"] == 2
    assert status["lastScaleTime"]
    assert status["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageValue": "500m", "averageUtilization": 100}},
        }
    ]
    assert condition(status, "AbleToScale") == (
        "True",
        "SucceededRescale",
        "the HPA controller was able to update the target scale to 2",
    )
    assert condition(status, "ScalingActive") == (
        "True",
        "ValidMetricFound",
        "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
    )
    assert condition(status, "ScalingLimited") == (
        "False",
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
    assert await world.events("SuccessfulRescale") == [
        "New size: 2; reason: cpu resource utilization (percentage of request) above target"
    ]

    # 3 pods at 100% want 6; without a behavior one step may at most double (or reach 4)
    await world.cluster.deployments.patch("web", {"spec": {"replicas": 3}})
    await world.wait_pods(3)
    await world.set_usage(1000)  # 200%: 12 wanted
    await world.resync()
    assert await world.replicas() == 5
    status = await world.status()
    assert condition(status, "ScalingLimited") == (
        "True",
        "TooManyReplicas",
        "the desired replica count is more than the maximum replica count",
    )
    assert status["desiredReplicas"] == 5


async def test_scale_up_rate_is_limited_without_behavior(world: World) -> None:
    await start(world, 1, 2500, autoscaler(maximum=10))  # 500%: 10 wanted, at most 4 allowed from 1
    await world.resync()
    assert await world.replicas() == 4
    assert condition(await world.status(), "ScalingLimited") == (
        "True",
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )


async def test_scales_down_only_after_the_stabilization_window_and_not_below_min(world: World) -> None:
    await start(world, 4, 50, autoscaler(minimum=2))  # 10% against 50%: 1 wanted
    await world.resync()  # t = 15: the initial recommendation (4) holds for 300 s
    assert await world.replicas() == 4
    status = await world.status()
    assert condition(status, "AbleToScale") == (
        "True",
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation",
    )
    assert status["desiredReplicas"] == 4
    await world.resync(20)  # t = 315: the first sync's recommendation is exactly 300 s old
    assert await world.replicas() == 4
    await world.resync()  # t = 330
    assert await world.replicas() == 2
    status = await world.status()
    assert condition(status, "ScalingLimited") == (
        "True",
        "TooFewReplicas",
        "the desired replica count is less than the minimum replica count",
    )
    assert await world.events("SuccessfulRescale") == ["New size: 2; reason: All metrics below target"]


async def test_within_tolerance_nothing_changes(world: World) -> None:
    await start(world, 2, 270)  # 54% against 50%
    await world.resync()
    status = await world.status()
    assert await world.replicas() == 2
    assert condition(status, "AbleToScale")[1] == "ReadyForNewScale"
    assert status["desiredReplicas"] == 2 and "lastScaleTime" not in status


async def test_behavior_policies_and_disabled_scale_down(world: World) -> None:
    behavior = {
        "scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0},
    }
    await start(world, 1, 2000, autoscaler(maximum=10, behavior=behavior))  # 400%: 4 wanted
    await world.resync()
    assert await world.replicas() == 2
    assert condition(await world.status(), "ScalingLimited")[1] == "ScaleUpLimit"
    await world.wait_pods(2)
    await world.set_usage(2000)
    await world.resync(3)  # t = 60: the first step is still inside its 60 s period
    assert await world.replicas() == 2
    await world.resync()  # t = 75
    assert await world.replicas() == 3

    await world.wait_pods(3)
    await world.set_usage(10)
    await world.resync(2)
    assert await world.replicas() == 3  # scale down is disabled
    assert condition(await world.status(), "ScalingLimited") == (
        "True",
        "ScaleDownLimit",
        "the desired replica count is decreasing faster than the maximum scale rate",
    )


async def test_behavior_scale_down_window_and_percent_policy(world: World) -> None:
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 30,
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        }
    }
    await start(world, 4, 25, autoscaler(behavior=behavior))  # 5%: 1 wanted
    await world.resync()  # t = 15: the initial 4 is within 30 s
    assert await world.replicas() == 4
    await world.resync()  # t = 30: still exactly 30 s old (not older)
    assert await world.replicas() == 4
    await world.resync()  # t = 45: down, but by at most 50% per minute
    assert await world.replicas() == 2
    assert condition(await world.status(), "ScalingLimited")[1] == "ScaleDownLimit"


async def test_replicas_outside_the_bounds_are_brought_back(world: World) -> None:
    await start(world, 4, 0, autoscaler(minimum=1, maximum=3))
    world.metrics.failure = "no metrics at all"  # bounds apply before metrics are even read
    await world.resync()
    assert await world.replicas() == 3
    assert await world.events("SuccessfulRescale") == [
        "New size: 3; reason: Current number of replicas above Spec.MaxReplicas"
    ]
    assert world.metrics.calls == 0


async def test_zero_replicas_disables_scaling(world: World) -> None:
    await start(world, 0, 0)
    await world.resync()
    status = await world.status()
    assert condition(status, "ScalingActive") == (
        "False",
        "ScalingDisabled",
        "scaling is disabled since the replica count of the target is zero",
    )
    assert status["desiredReplicas"] == 0 and "currentReplicas" not in status
    assert await world.replicas() == 0


async def test_scales_a_custom_resource_through_its_scale_subresource(world: World) -> None:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                }
            ],
        },
    }
    await world.cluster.client.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions").create(crd)
    widgets = world.cluster.client.resource("example.com", "v1", "widgets", namespaced=True).namespace("ctl")
    created = await widgets.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"replicas": 1}}
    )
    created["status"] = {"replicas": 1, "selector": "app=widget"}
    await widgets.update_status(created)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "w-1", "labels": {"app": "widget"}},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "100m"}}}]},
    }
    await world.cluster.pods.create(pod)
    await world.wait_pods(1, "widget")
    world.metrics.usage = {"w-1": 150}  # 150% against 50%
    hpa = autoscaler("widget")
    hpa["spec"]["scaleTargetRef"] = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"}
    await world.hpas.create(hpa)
    await world.resync()
    assert (await widgets.get("w"))["spec"]["replicas"] == 3
    assert condition(await world.status("widget"), "AbleToScale")[1] == "SucceededRescale"


# --------------------------------------------------------------------------- failures
async def test_no_metrics_makes_scaling_inactive(world: World) -> None:
    world.metrics.failure = (
        "unable to fetch metrics from resource metrics API: "
        "the server could not find the requested resource (get pods.metrics.k8s.io)"
    )
    await start(world, 2, 0)
    await world.resync()
    status = await world.status()
    assert condition(status, "AbleToScale")[:2] == ("True", "SucceededGetScale")
    assert condition(status, "ScalingActive") == (
        "False",
        "FailedGetResourceMetric",
        f"the HPA was unable to compute the replica count: failed to get cpu utilization: {NO_METRICS_API}",
    )
    assert status["currentReplicas"] == 2 and status["desiredReplicas"] == 0
    assert status["currentMetrics"] == [{"type": ""}]
    assert await world.events("FailedGetResourceMetric") == [
        f"failed to get cpu utilization: {NO_METRICS_API}"
    ]
    assert await world.events("FailedComputeMetricsReplicas") == [
        "invalid metrics (1 invalid out of 1), first error is: "
        f"failed to get cpu resource metric value: failed to get cpu utilization: {NO_METRICS_API}"
    ]
    assert await world.replicas() == 2

    # metrics arrive: scaling becomes active again
    world.metrics.failure = ""
    await world.set_usage(250)
    await world.resync()
    status = await world.status()
    assert condition(status, "ScalingActive")[:2] == ("True", "ValidMetricFound")
    assert status["desiredReplicas"] == 2


async def test_pods_without_requests_fail_the_utilization_metric(world: World) -> None:
    bare = web_deployment("bare", 1)
    bare["spec"]["template"]["spec"]["containers"][0].pop("resources")
    await world.cluster.deployments.create(bare)
    await world.wait_pods(1, "bare")
    await world.set_usage(100, "bare")
    await world.hpas.create(autoscaler("bare", "bare"))
    await world.resync()
    status = await world.status("bare")
    (pod,) = await world.cluster.live_pods("app=bare")
    assert condition(status, "ScalingActive") == (
        "False",
        "FailedGetResourceMetric",
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        f"missing request for cpu in container c of Pod {pod['metadata']['name']}",
    )


async def test_missing_target_fails_to_get_scale(world: World) -> None:
    await world.hpas.create(autoscaler(target="nope"))
    await world.resync()
    status = await world.status()
    assert condition(status, "AbleToScale") == (
        "False",
        "FailedGetScale",
        'the HPA controller was unable to get the target\'s current scale: deployments.apps "nope" not found',
    )
    assert await world.events("FailedGetScale") == ['deployments.apps "nope" not found']

    unknown = autoscaler("odd")
    unknown["spec"]["scaleTargetRef"] = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"}
    await world.hpas.create(unknown)
    await world.resync()
    assert condition(await world.status("odd"), "AbleToScale")[2] == (
        "the HPA controller was unable to get the target's current scale: "
        'no matches for kind "Widget" in group "example.com"'
    )


async def test_two_autoscalers_on_the_same_pods_are_ambiguous(world: World) -> None:
    await start(world, 1, 250)
    await world.hpas.create(autoscaler("second"))
    await world.resync(2)
    for name in ("web", "second"):
        reason, message = condition(await world.status(name), "ScalingActive")[1:]
        assert reason == "AmbiguousSelector"
        assert message == "pods by selector app=web are controlled by multiple HPAs: [ctl/second ctl/web]"


async def test_custom_metrics_report_the_missing_api(world: World) -> None:
    pods_metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
    }
    await start(world, 1, 250, autoscaler(metrics=[pods_metric]))
    await world.resync()
    assert condition(await world.status(), "ScalingActive") == (
        "False",
        "FailedGetPodsMetric",
        "the HPA was unable to compute the replica count: unable to get metric qps: unable to fetch metrics "
        "from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered",
    )


async def test_one_failing_metric_does_not_stop_a_scale_up(world: World) -> None:
    pods_metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
    }
    cpu = autoscaler()["spec"]["metrics"][0]
    await start(world, 1, 500, autoscaler(metrics=[pods_metric, cpu]))
    await world.resync()
    assert await world.replicas() == 2
    status = await world.status()
    assert condition(status, "ScalingActive")[1] == "ValidMetricFound"
    assert [m["type"] for m in status["currentMetrics"]] == ["", "Resource"]


async def test_deleted_autoscaler_forgets_its_history(world: World) -> None:
    await start(world, 2, 250)
    await world.resync()
    assert "ctl/web" in world.hpa.histories
    await world.hpas.delete("web")

    async def forgotten() -> bool:
        world.clock.advance(15.0)
        return "ctl/web" not in world.hpa.histories

    await eventually(forgotten, what="the history to be dropped")


# --------------------------------------------------------------------------- the default metrics source
async def test_default_source_reports_the_unserved_metrics_api(cluster: ControllerCluster) -> None:
    source = ResourceMetricsClient(cluster.client)
    with pytest.raises(MetricsUnavailable) as caught:
        await source.resource_metric("cpu", "ctl", parse_label_selector_requirements("app=web"))
    assert str(caught.value) == (
        "unable to fetch metrics from resource metrics API: "
        "the server could not find the requested resource (get pods.metrics.k8s.io)"
    )


def pod_metrics_item(name: str, containers: dict[str, dict[str, str]], window: str = "30s") -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "timestamp": "2025-06-15T12:00:00Z",
        "window": window,
        "containers": [{"name": c, "usage": usage} for c, usage in containers.items()],
    }


def test_pod_metrics_sum_containers_and_skip_incomplete_pods() -> None:
    items = [
        pod_metrics_item("a", {"app": {"cpu": "250m", "memory": "10Mi"}, "log": {"cpu": "0.1"}}, "1m0s"),
        pod_metrics_item("b", {"app": {"memory": "1Gi"}}),
        pod_metrics_item("c", {}),
    ]
    found = pod_metrics(items, "cpu")
    assert list(found) == ["a"]
    assert found["a"].value == 350 and found["a"].window == 60.0
    assert pod_metrics(items, "memory")["b"].value == 1024**3 * 1000
    assert container_metrics(items[:2], "memory", "app")["a"].value == 10 * 1024**2 * 1000
    with pytest.raises(MetricsUnavailable, match="^container log not present in metrics for pod ns/b$"):
        container_metrics(items[:2], "cpu", "log")


def test_small_helpers() -> None:
    assert parse_duration("30s") == 30.0
    assert parse_duration("1m30.5s") == 90.5
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration("30 s")
    assert [milli_quantity(v) for v in (0, 250, 1000, 1500, 104857600000)] == [
        "0",
        "250m",
        "1",
        "1500m",
        "104857600",
    ]
    assert target_group("apps/v1") == "apps" and target_group("v1") == "" and target_group("") == ""
    with pytest.raises(ValueError, match="^unexpected GroupVersion string: a/b/c$"):
        target_group("a/b/c")
