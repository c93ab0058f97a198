"""One engine per store and process: a second Memory() on the same path shares it (a re-run notebook cell, a
CLI command inside a running app), and the last close closes it."""

from __future__ import annotations

import pytest

from memlayer import AsyncMemory, Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import ConfigError


def test_a_second_memory_on_the_same_path_shares_the_engine(tmp_path):
    first = Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=True)  # the on-disk graph admits one opener
    second = Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=True)
    assert first.async_memory.engine is second.async_memory.engine
    first.add("I live in Rome", user_id="u")
    first.close()
    assert second.search("where do I live", user_id="u")["results"][0]["memory"] == "User lives in Rome"
    second.close()
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=True) as third:  # a fresh engine after the last close
        assert third.get_all(user_id="u")["results"]


async def test_async_and_sync_faces_share_one_engine(tmp_path):
    sync = Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False)
    amem = AsyncMemory(str(tmp_path), embedder=HashingEmbedder(64), graph=False)
    try:
        assert amem.engine is sync.async_memory.engine
        await amem.add("tea", user_id="u", infer=False)
        assert sync.get_all(user_id="u")["results"][0]["memory"] == "tea"
    finally:
        await amem.close()
        sync.close()


def test_different_settings_on_an_open_store_are_refused_by_name(tmp_path):
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False), \
            pytest.raises(ConfigError, match=r"already open in this process with other settings \(embedder, graph\)"):
        Memory(str(tmp_path), embedder=HashingEmbedder(32), graph=True)


def test_an_embedder_configured_otherwise_or_another_clock_object_is_refused(tmp_path):
    from memlayer.clock import ManualClock, SystemClock

    clock = ManualClock("2025-01-01T00:00:00Z")
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, clock=clock) as first:
        with pytest.raises(ConfigError, match=r"other settings \(embedder\)"):
            Memory(str(tmp_path), embedder=HashingEmbedder(64, seed=7), graph=False, clock=clock)
        with pytest.raises(ConfigError, match=r"other settings \(clock\)"):  # its time would be ignored
            Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, clock=ManualClock("2030-01-01T00:00:00Z"))
        with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, clock=clock) as second:
            assert second.async_memory.engine is first.async_memory.engine
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False) as first, \
            Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, clock=SystemClock()) as second:
        assert second.async_memory.engine is first.async_memory.engine  # the system clock, named or not


def test_in_memory_stores_are_never_shared(tmp_path):
    with Memory(":memory:", embedder=HashingEmbedder(64), graph=False) as a, \
            Memory(":memory:", embedder=HashingEmbedder(64), graph=False) as b:
        a.add("only in a", user_id="u", infer=False)
        assert b.get_all(user_id="u")["results"] == []
