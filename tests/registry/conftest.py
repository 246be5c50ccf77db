"""Fixtures for the registry tests: a started Registry over a fresh MemoryBackend with the
`default` namespace, stopped after the test (a stop that hangs fails the test instead of the run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from registry_harness import start_registry

from kubelite.registry.registry import Registry

STOP_TIMEOUT = 5.0


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = await start_registry()
    try:
        yield reg
    finally:
        try:
            await asyncio.wait_for(reg.stop(), STOP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"Registry.stop() did not finish within {STOP_TIMEOUT}s", pytrace=False)
