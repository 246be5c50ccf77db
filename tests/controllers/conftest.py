"""Fixtures for the controller tests: a real in-process Registry reached through the in-process
transport, one namespace per test, and helpers standing in for the kubelet (pods made Ready)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from tests.controllers.controllers_harness import ControllerCluster
from tests.registry.registry_harness import start_registry


@pytest.fixture
async def cluster() -> AsyncIterator[ControllerCluster]:
    registry = await start_registry(namespaces=("default", "ctl"))
    transport = InProcessTransport(registry, manager="controller-tests")
    made = ControllerCluster(Client(transport), "ctl")
    try:
        yield made
    finally:
        await made.stop()
        await transport.close()
        await asyncio.wait_for(registry.stop(), 5.0)
