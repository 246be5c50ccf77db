"""The ResourceQuota controller against a real in-process registry: status.hard follows spec.hard,
status.used is what the namespace holds, and it is recomputed when usage goes down (deletes,
terminal pods), when spec.hard changes, and on the periodic full resync."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.controllers.resourcequota import ResourceQuotaController
from tests.controllers.controllers_harness import ControllerCluster, eventually

Obj = dict[str, Any]


def pod(name: str, cpu: str = "", phase: str = "") -> Obj:
    container: Obj = {"name": "c", "image": "img:1"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


def quota(name: str, hard: dict[str, str], **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}


def quotas(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("", "v1", "resourcequotas")


async def status_of(cluster: ControllerCluster, name: str) -> Obj:
    return dict((await quotas(cluster).get(name)).get("status") or {})


async def used_becomes(
    cluster: ControllerCluster, name: str, expected: dict[str, str], timeout: float = 5.0
) -> None:
    async def check() -> bool:
        return (await status_of(cluster, name)).get("used") == expected

    await eventually(check, timeout=timeout, what=f"{name} used == {expected}")


async def finish(cluster: ControllerCluster, name: str, phase: str) -> None:
    current = await cluster.pods.get(name)
    current["status"] = {**current.get("status", {}), "phase": phase}
    await cluster.pods.update_status(current)


async def start(cluster: ControllerCluster, **options: Any) -> ResourceQuotaController:
    controller = ResourceQuotaController(cluster.client, **options)
    await cluster.run(controller)
    return controller


async def test_status_is_computed_from_what_the_namespace_holds(cluster: ControllerCluster) -> None:
    await cluster.pods.create(pod("a", cpu="250m"))
    await cluster.pods.create(pod("b", cpu="500m"))
    await cluster.pods.create(pod("done", cpu="1"))
    await finish(cluster, "done", "Succeeded")
    await cluster.rc("", "v1", "configmaps").create({"metadata": {"name": "cm"}})
    await start(cluster)
    hard = {"pods": "10", "count/pods": "10", "requests.cpu": "4", "configmaps": "5", "services": "3"}
    await quotas(cluster).create(quota("q", hard))
    # terminal pods still count as objects, but not as running pods or compute
    await used_becomes(
        cluster,
        "q",
        {"pods": "2", "count/pods": "3", "requests.cpu": "750m", "configmaps": "1", "services": "0"},
    )
    assert (await status_of(cluster, "q"))["hard"] == hard


async def test_admission_charges_against_the_computed_status(cluster: ControllerCluster) -> None:
    await start(cluster)
    await quotas(cluster).create(quota("q", {"pods": "1"}))
    await used_becomes(cluster, "q", {"pods": "0"})
    await cluster.pods.create(pod("first"))
    with pytest.raises(StatusError) as caught:
        await cluster.pods.create(pod("second"))
    assert caught.value.code == 403
    assert caught.value.message == (
        'pods "second" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1'
    )


async def test_deleted_and_terminal_pods_are_given_back(cluster: ControllerCluster) -> None:
    await start(cluster)
    await quotas(cluster).create(quota("q", {"pods": "2"}))
    await used_becomes(cluster, "q", {"pods": "0"})
    await cluster.pods.create(pod("a"))
    await cluster.pods.create(pod("b"))
    assert (await status_of(cluster, "q"))["used"] == {"pods": "2"}
    await cluster.pods.delete("a")
    await used_becomes(cluster, "q", {"pods": "1"})
    await finish(cluster, "b", "Failed")
    await used_becomes(cluster, "q", {"pods": "0"})
    await cluster.pods.create(pod("c"))


async def test_a_changed_spec_hard_is_recomputed(cluster: ControllerCluster) -> None:
    await start(cluster)
    await cluster.rc("", "v1", "secrets").create({"metadata": {"name": "s"}})
    await quotas(cluster).create(quota("q", {"pods": "2"}))
    await used_becomes(cluster, "q", {"pods": "0"})
    current = await quotas(cluster).get("q")
    current["spec"]["hard"] = {"pods": "3", "secrets": "4"}
    await quotas(cluster).update(current)
    await used_becomes(cluster, "q", {"pods": "0", "secrets": "1"})
    assert (await status_of(cluster, "q"))["hard"] == {"pods": "3", "secrets": "4"}


async def test_object_counts_of_other_resources_are_watched_once_counted(cluster: ControllerCluster) -> None:
    controller = await start(cluster)
    assert ("batch", "jobs") not in controller.monitors
    jobs = cluster.rc("batch", "v1", "jobs")
    job = {
        "metadata": {"name": "j1"},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}
        },
    }
    await jobs.create(job)
    await quotas(cluster).create(quota("q", {"count/jobs.batch": "5", "count/widgets.example.com": "1"}))
    # widgets are no built-in: their usage stays unknown (admission refuses them, as upstream)
    await used_becomes(cluster, "q", {"count/jobs.batch": "1"})
    assert ("batch", "jobs") in controller.monitors
    await jobs.delete("j1", propagation_policy="Background")
    await used_becomes(cluster, "q", {"count/jobs.batch": "0"})


async def test_scoped_quotas_count_matching_pods_only(cluster: ControllerCluster) -> None:
    await cluster.pods.create(pod("best-effort"))
    await cluster.pods.create(pod("burstable", cpu="100m"))
    await start(cluster)
    await quotas(cluster).create(quota("be", {"pods": "5"}, scopes=["BestEffort"]))
    await quotas(cluster).create(quota("nbe", {"pods": "5", "requests.cpu": "1"}, scopes=["NotBestEffort"]))
    await used_becomes(cluster, "be", {"pods": "1"})
    await used_becomes(cluster, "nbe", {"pods": "1", "requests.cpu": "100m"})


async def test_full_resync_corrects_drifted_usage() -> None:
    from kubelite.apiserver.inprocess import InProcessTransport
    from kubelite.client.client import Client
    from tests.registry.registry_harness import start_registry

    registry = await start_registry(namespaces=("ctl",))
    transport = InProcessTransport(registry, manager="controller-tests")
    cluster = ControllerCluster(Client(transport), "ctl")
    clock = FakeClock(wall_start=time.time())
    try:
        await start(cluster, clock=clock, resync_period=60.0)
        await quotas(cluster).create(quota("q", {"pods": "5"}))
        await used_becomes(cluster, "q", {"pods": "0"})
        drifted = await quotas(cluster).get("q")
        drifted["status"]["used"] = {"pods": "4"}  # e.g. charged for a create that then failed
        await quotas(cluster).update_status(drifted)
        await asyncio.sleep(0.2)
        assert (await status_of(cluster, "q"))["used"] == {"pods": "4"}  # status changes are not watched
        clock.advance(61.0)
        await used_becomes(cluster, "q", {"pods": "0"})
    finally:
        await cluster.stop()
        await transport.close()
        await asyncio.wait_for(registry.stop(), 5.0)


async def test_stop_is_idempotent(cluster: ControllerCluster) -> None:
    controller = await start(cluster)
    await controller.stop()
    await controller.stop()
    cluster.controllers.clear()
