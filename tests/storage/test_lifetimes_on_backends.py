"""Memory lifetimes through the public API on every backend (see conftest.BACKENDS): expiry, refresh,
re-statement, a sweep with its history, budgets and the lifetime filters behave the same on each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from memlayer import Memory
from memlayer.clock import ManualClock
from memlayer.errors import NotCurrentError

from .conftest import Opener


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock("2025-06-02T09:00:00+00:00")


@pytest.fixture
def memory(backend: Opener, hash_embedder: Any, clock: ManualClock) -> Iterator[Memory]:
    m = Memory(backend.directory, store=backend.url, embedder=hash_embedder, graph=False, clock=clock,
               retention={"sweep_interval": None, "grace_period": "1d", "max_memories": 3})
    yield m
    m.close()


def one(m: Memory, text: str, **kw: Any) -> str:
    return str(m.add(text, user_id="u", infer=False, **kw)["results"][0]["id"])


def current(m: Memory) -> list[str]:
    return sorted(r["memory"] for r in m.get_all(user_id="u")["results"])


def test_lifetimes_behave_alike_on_every_backend(memory: Memory, clock: ManualClock) -> None:
    trip = one(memory, "in Lisbon this week", ttl="2d")
    call = one(memory, "call the plumber", ttl="1h")
    one(memory, "likes tea")
    assert memory.add("call the plumber", user_id="u", infer=False)["results"][0]["event"] == "NONE"  # re-stated
    assert memory.get(call)["expires_at"] == "2025-06-02T10:00:00+00:00"
    clock.advance(minutes=50)
    assert memory.refresh(call)["results"][0]["expires_at"] == "2025-06-02T10:50:00+00:00"
    clock.advance(hours=2)
    assert current(memory) == ["in Lisbon this week", "likes tea"]
    assert [r["memory"] for r in memory.search("plumber", user_id="u", include_expired=True,
                                               config="vector")["results"]][0] == "call the plumber"
    lapsed = memory.get_all(user_id="u", filters={"expires_at": {"lte": clock.now()}}, include_expired=True)
    assert [r["id"] for r in lapsed["results"]] == [call]
    assert [r["memory"] for r in memory.get_all(user_id="u", filters={"expires_at": None})["results"]] == ["likes tea"]
    assert memory.sweep()["forgotten"] == 0  # inside the grace period
    clock.advance(days=1)
    assert memory.sweep()["forgotten"] == 1 and memory.get(call) is None
    assert memory.history(call)[-1]["reason"].startswith("expired at 2025-06-02T10:50:00+00:00")
    for text in ("walks daily", "reads at night"):  # the cap is 3 current memories
        clock.advance(minutes=1)
        one(memory, text)
    assert len(current(memory)) == 3 and memory.get(trip)["valid_to"] is None  # a search recalled it: worth more
    closed = [r for r in memory.get_all(user_id="u", include_expired=True)["results"] if r["valid_to"]]
    assert [r["memory"] for r in closed] == ["walks daily"]  # the one memory never recalled nor re-stated
    assert memory.history(closed[0]["id"])[-1]["reason"].startswith("closed by the budget")


def test_only_current_memories_can_be_updated(memory: Memory, clock: ManualClock) -> None:
    closing = one(memory, "likes tea")
    for text in ("walks daily", "reads at night", "swims"):  # the cap is 3: the oldest is closed
        clock.advance(minutes=1)
        one(memory, text)
    memory.set_retention(user_id="u", max_memories="unlimited")
    lapsing = one(memory, "call the plumber", ttl="1h")
    clock.advance(hours=2)
    for mid, why in ((lapsing, "expired at 2025-06-02T10:03:00"), (closing, "was closed at 2025-06-02T09:03:00")):
        before = memory.get(mid)
        with pytest.raises(NotCurrentError, match=why):
            memory.update(mid, "changed", ttl="1d")
        assert memory.get(mid) == before and [h["event"] for h in memory.history(mid)][-1] != "UPDATE"


def test_a_refresh_with_a_ttl_keeps_the_memory_own_ttl(memory: Memory, clock: ManualClock) -> None:
    week = one(memory, "on call this week", ttl="7d")
    assert memory.refresh(week, ttl=60)["results"][0]["expires_at"] == "2025-06-09T09:00:00+00:00"  # not moved
    clock.advance(days=6)
    assert memory.refresh(week)["results"][0]["expires_at"] == "2025-06-15T09:00:00+00:00"  # by its own 7 days


def test_a_due_recall_batch_is_written_by_the_search_locally_and_behind_it_remotely(
    backend: Opener, hash_embedder: Any, clock: ManualClock,
) -> None:
    with Memory(backend.directory, store=backend.url, embedder=hash_embedder, graph=False, clock=clock,
                retention={"sweep_interval": None, "recall_flush_size": 2}) as m:
        tea, coffee = one(m, "I like tea"), one(m, "I like coffee")
        store, buffer = m.async_memory.store, m.async_memory.engine.recalls
        m.search("tea", user_id="u", limit=1)
        assert buffer.pending == 1 and store.get(tea).recalls == 0
        m.search("coffee", user_id="u", limit=1)  # the batch is due
        if not store.remote:  # a local store: written by that search, before it returned
            assert (store.get(tea).recalls, store.get(coffee).recalls) == (1, 1)
        buffer.wait()  # a remote one: on the engine's helper thread
        assert (store.get(tea).recalls, store.get(coffee).recalls, buffer.pending) == (1, 1, 0)
