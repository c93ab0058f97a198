"""Fixtures of the search tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder


@pytest.fixture
async def mem() -> AsyncIterator[AsyncMemory]:
    """An empty in-memory store with a 64-dimension hashing embedder and no graph."""
    m = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    yield m
    await m.close()
