"""Fixtures for the registry tests: a started Registry over a fresh MemoryBackend with the
`default` namespace, stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from registry_harness import start_registry

from kubelite.registry.registry import Registry


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = await start_registry()
    try:
        yield reg
    finally:
        await reg.stop()
