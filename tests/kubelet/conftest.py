"""Fixtures for the kubelet tests: a client of a fresh in-process cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kubelite.client.client import Client
from tests.kubelet.kubelet_harness import cluster_client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with cluster_client() as made:
        yield made
