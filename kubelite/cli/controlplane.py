"""The components that run inside `kubelite server` next to the API: the controller manager and
the scheduler (each behind leader election on a Lease in kube-system, so several servers on one
etcd run one of each) and hollow nodes. They reach the API through the in-process transport.

Must hold no component logic: it only builds, starts and stops components.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.leaderelection import LeaderElector
from kubelite.client.sharedinformers import SharedInformers
from kubelite.controllers.certificates import certificate_controllers
from kubelite.controllers.clusterroleaggregation import ClusterRoleAggregationController
from kubelite.controllers.cronjob import CronJobController
from kubelite.controllers.daemonset import DaemonSetController
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.disruption import DisruptionController
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.endpointslice import EndpointSliceController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.job import JobController
from kubelite.controllers.namespace import NamespaceController
from kubelite.controllers.nodeipam import NodeIPAMController
from kubelite.controllers.nodelifecycle import NodeLifecycleController
from kubelite.controllers.podautoscaler import HorizontalPodAutoscalerController
from kubelite.controllers.podgc import PodGarbageCollector
from kubelite.controllers.replicaset import ReplicaSetController, replication_controller_manager
from kubelite.controllers.resourcequota import ResourceQuotaController
from kubelite.controllers.serviceaccount import RootCACertPublisher, ServiceAccountsController
from kubelite.controllers.statefulset import StatefulSetController
from kubelite.controllers.tainteviction import TaintEvictionController
from kubelite.controllers.ttlafterfinished import TTLAfterFinishedController
from kubelite.controllers.volumeprotection import storage_controllers
from kubelite.kubelet.pool import HollowNodePool
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from kubelite.scheduler.scheduler import SchedulerComponent

log = logging.getLogger(__name__)


class Component(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ComponentFactory = Callable[[Client], list[Component]]


@dataclass
class ControlPlaneOptions:
    hollow_nodes: int = 0
    controllers: bool = True
    scheduler: bool = True
    ca_pem: str = ""
    ca_key_pem: str = ""  # with ca_pem: the CSR approver and signer run
    cluster_cidr: str = "10.42.0.0/16"  # node IPAM hands out /node_cidr_mask subnets of it as podCIDRs
    node_cidr_mask: int = 24


def _client(registry: Registry, user: str, groups: tuple[str, ...], manager: str) -> Client:
    identity = UserInfo(user, groups + ("system:authenticated",))
    return Client(InProcessTransport(registry, identity, manager, without_managed_fields=True))


class ControlPlane:
    def __init__(self, registry: Registry, options: ControlPlaneOptions):
        self.registry = registry
        self.options = options
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        self._tasks: list[asyncio.Task[Any]] = []
        self._pool: HollowNodePool | None = None

    @property
    def hollow_pool(self) -> HollowNodePool | None:
        """The hollow nodes (their in-process runtimes), when this control plane runs any."""
        return self._pool

    async def start(self) -> None:
        if self.options.controllers:
            controllers = controller_factory(self.options)
            if controllers is not None:
                self.registry.namespace_lifecycle_inside = False
                self.registry.garbage_collector_running = True
                self.registry.volume_protection_running = True
                manager_client = _client(self.registry, "system:kube-controller-manager", (), "kube-controller-manager")
                # one watch and one cache per resource for all controllers
                manager_client.informers = SharedInformers(manager_client)
                self._lead(manager_client, "kube-controller-manager", lambda: controllers(manager_client))
        if self.options.scheduler:
            scheduler = scheduler_factory()
            if scheduler is not None:
                scheduler_client = _client(self.registry, "system:kube-scheduler", (), "default-scheduler")
                self._lead(scheduler_client, "kube-scheduler", lambda: scheduler(scheduler_client))
        if self.options.hollow_nodes:
            client = _client(self.registry, "system:node:hollow", ("system:nodes",), "kubelet")
            self._pool = HollowNodePool(client, self.options.hollow_nodes)
            await self._pool.start()

    def _lead(self, client: Client, name: str, build: Callable[[], list[Component]]) -> None:
        async def run_components() -> None:
            components = build()
            started: list[Component] = []
            try:
                for component in components:
                    await component.start()
                    started.append(component)
                await asyncio.Event().wait()  # until leadership ends (this task is cancelled)
            finally:
                for component in reversed(started):
                    with contextlib.suppress(Exception):
                        await component.stop()

        async def elect_forever() -> None:
            while True:
                elector = LeaderElector(
                    client, "kube-system", name, self.identity, on_started_leading=run_components
                )
                try:
                    await elector.run()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s: leader election failed; retrying", name)
                await asyncio.sleep(1)

        self._tasks.append(asyncio.create_task(elect_forever(), name=f"leader-{name}"))

    async def stop(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def controller_factory(options: ControlPlaneOptions) -> Callable[[Client], list[Component]] | None:
    """The controller manager's controllers (each with its own informers and work queue)."""

    def build(client: Client) -> list[Component]:
        components: list[Component] = [
            ServiceAccountsController(client),
            ClusterRoleAggregationController(client),
            NamespaceController(client),
            GarbageCollector(client),
            ReplicaSetController(client),
            replication_controller_manager(client),
            DeploymentController(client),
            DaemonSetController(client),
            StatefulSetController(client),
            EndpointsController(client),
            EndpointSliceController(client),
            NodeLifecycleController(client),
            TaintEvictionController(client),
            PodGarbageCollector(client),
            DisruptionController(client),
            JobController(client),
            CronJobController(client),
            TTLAfterFinishedController(client),
            ResourceQuotaController(client),
            HorizontalPodAutoscalerController(client),
            NodeIPAMController(client, cluster_cidr=options.cluster_cidr, node_mask=options.node_cidr_mask, service_cidr="10.43.0.0/16"),
            *storage_controllers(client),
        ]
        if options.ca_pem:
            components.append(RootCACertPublisher(client, options.ca_pem))
        if options.ca_pem and options.ca_key_pem:
            components.extend(certificate_controllers(client, options.ca_pem, options.ca_key_pem))
        return components

    return build


def scheduler_factory() -> Callable[[Client], list[Component]] | None:
    """The default scheduler."""
    return lambda client: [SchedulerComponent(client)]
