"""MemlayerStore's TTL on memlayer's lifetimes, on a manual clock: ``ttl`` and ``ttl_config`` (default_ttl,
refresh_on_read, omit_expired, sweep_interval_minutes), refresh on read (one refresh per batch), sweeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from langchain_memlayer import MemlayerStore
from memlayer import AsyncMemory, Memory
from memlayer.clock import ManualClock
from memlayer.errors import ConfigError

NS = ("memories", "alice")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock("2025-06-02T09:00:00+00:00")


@pytest.fixture
def memory(tmp_path, hash_embedder, clock) -> Any:
    with Memory(str(tmp_path / "store"), embedder=hash_embedder, graph=False, clock=clock,
                retention={"sweep_interval": None}) as m:
        yield m


def _expiry(memory: Memory, key: str, user: str = "alice") -> str | None:
    rows = memory.get_all(user_id=user, filters={"lg_key": key}, include_expired=True)["results"]
    return rows[0]["expires_at"] if rows else "gone"


class Counting:
    """A memory's public methods, counting the calls of each (a client stand-in)."""

    def __init__(self, memory: Memory) -> None:
        self.memory, self.calls = memory, dict.fromkeys(("refresh", "sweep"), 0)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.memory, name)
        if name in self.calls:
            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return method(*args, **kwargs)
            return counted
        return method


def test_an_item_lapses_after_its_ttl_and_a_sweep_forgets_it(memory, clock) -> None:
    store = MemlayerStore(memory)
    store.put(NS, "trip", {"text": "in Lisbon this week"}, ttl=60)
    store.put(NS, "tea", {"text": "likes tea"})
    assert _expiry(memory, "trip") == "2025-06-02T10:00:00+00:00" and _expiry(memory, "tea") is None
    clock.advance(minutes=61)
    # LangGraph's default (omit_expired False): expired items stay readable until a sweep removes them
    assert store.get(NS, "trip") is not None
    assert {i.key for i in store.search(NS)} == {"trip", "tea"}
    assert "in Lisbon this week" not in [r["memory"] for r in memory.search("Lisbon", user_id="alice")["results"]]
    trip = memory.get_all(user_id="alice", filters={"lg_key": "trip"}, include_expired=True)["results"][0]["id"]
    assert store.sweep_ttl() == 1 and store.sweep_ttl() == 0
    assert store.get(NS, "trip") is None and _expiry(memory, "trip") == "gone"
    assert [i.key for i in store.search(NS)] == ["tea"]
    assert memory.history(trip)[-1]["reason"] == "expired at 2025-06-02T10:00:00+00:00; forgotten by a sweep"


def test_a_put_over_an_expired_unswept_item_puts_it_anew(memory, clock) -> None:
    store = MemlayerStore(memory)
    store.put(NS, "trip", {"text": "in Lisbon this week"}, ttl=60)
    clock.advance(minutes=61)
    old = memory.get_all(user_id="alice", filters={"lg_key": "trip"}, include_expired=True)["results"][0]["id"]
    store.put(NS, "trip", {"text": "in Porto this week"}, ttl=60)  # memlayer updates current memories only
    item = store.get(NS, "trip")
    assert item is not None and item.value == {"text": "in Porto this week"}
    assert _expiry(memory, "trip") == "2025-06-02T11:01:00+00:00" and memory.get(old) is None  # one row, current
    assert [h["event"] for h in memory.history(old)] == ["ADD", "DELETE"]


def test_omit_expired_hides_an_expired_item_from_every_read(memory, clock) -> None:
    store = MemlayerStore(memory, ttl={"omit_expired": True})
    store.put(("omit", "expired"), "e", {"data": "gone"}, ttl=1)
    store.put(("omit", "control"), "c", {"data": "keep"})
    clock.advance(minutes=2)
    assert store.get(("omit", "expired"), "e") is None and store.get(("omit", "control"), "c") is not None
    assert store.search(("omit", "expired")) == [] and store.search(("omit",), query="gone") != []
    assert store.list_namespaces(prefix=("omit",)) == [("omit", "control")]
    store.put(("omit", "expired"), "e", {"data": "back"})  # a put over the expired item: the same memory, renewed
    assert store.get(("omit", "expired"), "e").value == {"data": "back"}  # type: ignore[union-attr]
    assert len(memory.get_all(user_id="expired", include_expired=True)["results"]) == 1
    assert _expiry(memory, "e", "expired") is None  # put without a ttl: it never expires now


def test_paging_skips_an_expired_item_before_the_limit(memory, clock) -> None:
    store = MemlayerStore(memory, ttl={"omit_expired": True})
    for key in ("c", "b", "expired", "a"):  # updated a, expired, b, c from the newest
        store.put(("page",), key, {"k": key}, ttl=1 if key == "expired" else None)
        clock.advance(seconds=1)
    clock.advance(minutes=2)
    assert [i.key for i in store.search(("page",), limit=2)] == ["a", "b"]
    assert [i.key for i in store.search(("page",), limit=2, offset=2)] == ["c"]


def test_reads_refresh_the_ttl_once_per_batch(memory, clock) -> None:
    counting = Counting(memory)
    store = MemlayerStore(counting, ttl={"default_ttl": 10, "omit_expired": True})
    store.put(NS, "note", {"text": "call the plumber"})  # default_ttl: 10 minutes
    store.put(NS, "other", {"text": "call the baker"}, ttl=30)
    store.put(NS, "lasting", {"text": "likes tea"}, ttl=None)
    assert _expiry(memory, "note") == "2025-06-02T09:10:00+00:00" and _expiry(memory, "lasting") is None
    clock.advance(minutes=8)
    assert store.get(NS, "note") is not None and counting.calls["refresh"] == 1
    assert _expiry(memory, "note") == "2025-06-02T09:18:00+00:00"  # 10 minutes from the read
    assert store.get(NS, "lasting") is not None and counting.calls["refresh"] == 1  # nothing to refresh
    clock.advance(minutes=8)
    found = store.search(NS, query="call")
    assert {i.key for i in found} == {"note", "other", "lasting"} and counting.calls["refresh"] == 2
    assert _expiry(memory, "note") == "2025-06-02T09:26:00+00:00"
    assert _expiry(memory, "other") == "2025-06-02T09:46:00+00:00"  # its own 30 minutes
    assert store.get(NS, "note", refresh_ttl=False) is not None and counting.calls["refresh"] == 2
    store.batch([_get("note"), _get("other"), _get("lasting")])  # three reads, one refresh
    assert counting.calls["refresh"] == 3
    clock.advance(minutes=11)
    assert store.get(NS, "note", refresh_ttl=False) is None and store.get(NS, "other") is not None


def _get(key: str) -> Any:
    from langgraph.store.base import GetOp

    return GetOp(NS, key, refresh_ttl=True)


def test_refresh_on_read_off_keeps_reads_read_only(memory, clock) -> None:
    counting = Counting(memory)
    store = MemlayerStore(counting, ttl={"refresh_on_read": False})
    store.put(NS, "note", {"text": "call the plumber"}, ttl=10)
    clock.advance(minutes=8)
    assert store.get(NS, "note") is not None and store.search(NS) != []
    assert counting.calls["refresh"] == 0 and _expiry(memory, "note") == "2025-06-02T09:10:00+00:00"
    assert store.get(NS, "note", refresh_ttl=True) is not None and counting.calls["refresh"] == 1


def test_a_sweep_keeps_to_the_store_items(memory, clock) -> None:
    store = MemlayerStore(memory)
    other = MemlayerStore(memory, name="other")
    store.put(NS, "mine", {"text": "mine"}, ttl=1)
    other.put(NS, "theirs", {"text": "theirs"}, ttl=1)
    plain = memory.add("a plain memory", user_id="alice", agent_id="langgraph", infer=False, ttl=60)
    clock.advance(hours=2)
    assert store.sweep_ttl() == 1
    assert other.get(NS, "theirs") is not None and memory.get(plain["results"][0]["id"]) is not None
    assert other.sweep_ttl() == 1


def test_the_sweeper_thread_sweeps_until_stopped(memory, clock) -> None:
    assert MemlayerStore(memory).start_ttl_sweeper().done()  # no ttl config: nothing to sweep
    store = MemlayerStore(memory, ttl={"sweep_interval_minutes": 0.001})  # every 60 ms
    store.put(NS, "brief", {"text": "brief"}, ttl=1)
    clock.advance(minutes=2)
    future = store.start_ttl_sweeper()
    deadline = time.monotonic() + 10
    while _expiry(memory, "brief") != "gone":
        assert time.monotonic() < deadline, "the sweeper did not sweep"
        time.sleep(0.02)
    assert store.stop_ttl_sweeper(timeout=5) and future.done() and store.stop_ttl_sweeper()


def test_ttl_settings_are_checked(memory) -> None:
    with pytest.raises(ConfigError, match="unknown ttl setting"):
        MemlayerStore(memory, ttl={"default_tll": 5})
    with pytest.raises(ConfigError, match="minutes"):
        MemlayerStore(memory, ttl={"default_ttl": -1})
    with pytest.raises(ConfigError, match="True or False"):
        MemlayerStore(memory, ttl={"omit_expired": "yes"})
    with pytest.raises(ConfigError, match="minutes greater than 0"):
        MemlayerStore(memory).put(NS, "k", {"v": 1}, ttl=0)
    assert MemlayerStore.supports_ttl and MemlayerStore(memory, ttl={"default_ttl": 5}).ttl_config == {"default_ttl": 5}


def test_async_reads_refresh_and_sweep(tmp_path, hash_embedder, clock) -> None:
    async def run() -> None:
        memory = AsyncMemory(str(tmp_path / "async"), embedder=hash_embedder, graph=False, clock=clock)
        try:
            store = MemlayerStore(memory, ttl={"default_ttl": 10, "omit_expired": True})
            await store.aput(NS, "note", {"text": "call the plumber"})
            clock.advance(minutes=8)
            assert await store.aget(NS, "note") is not None
            clock.advance(minutes=8)
            assert [i.key for i in await store.asearch(NS, query="plumber")] == ["note"]  # refreshed at 8
            clock.advance(minutes=11)
            assert await store.aget(NS, "note") is None
            assert await store.asweep_ttl() == 1
        finally:
            await memory.close()

    asyncio.run(run())
