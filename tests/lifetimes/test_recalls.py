"""Recall counts: a search only counts in memory; the counts are written in batches (by size, by the
clock's age of the batch, at a sweep and at close), never one write per search."""

from __future__ import annotations

from memlayer import Memory

from .test_expiry import one


def recalls(m: Memory, mid: str) -> int:
    return m.async_memory.store.get(mid).recalls


def test_a_search_counts_its_results_and_writes_them_later(make_memory, clock) -> None:
    m = make_memory()
    tea, coffee = one(m, "I like tea"), one(m, "I like coffee")
    head = m.async_memory.store.log_head("vectors")
    for _ in range(3):
        assert m.search("tea", user_id="u", limit=1)["results"][0]["id"] == tea
    assert recalls(m, tea) == 0 and m.async_memory.engine.recalls.pending == 3  # nothing written yet
    clock.advance(minutes=5)
    assert m.sweep()["recalls"] == 3
    row = m.async_memory.store.get(tea)
    assert (row.recalls, row.seen_ts) == (3, row.updated_ts)  # seen at the last recall's time
    assert recalls(m, coffee) == 0 and m.async_memory.store.log_head("vectors") == head  # no re-embedding


def test_batches_are_written_by_size_and_by_age(make_memory, clock) -> None:
    m = make_memory(retention={"recall_flush_size": 2, "recall_flush_interval": "10m"})
    tea, coffee, juice = one(m, "I like tea"), one(m, "I like coffee"), one(m, "I like juice")
    buffer = m.async_memory.engine.recalls
    m.search("tea", user_id="u", limit=1)
    assert buffer.pending == 1
    m.search("coffee", user_id="u", limit=1)  # two memories pending: written on the engine's helper thread
    buffer.wait()
    assert (recalls(m, tea), recalls(m, coffee), buffer.pending) == (1, 1, 0)
    m.search("juice", user_id="u", limit=1)
    clock.advance(minutes=11)
    m.search("juice", user_id="u", limit=1)  # the first pending one is 11 minutes old
    buffer.wait()
    assert recalls(m, juice) == 2


def test_closing_writes_what_is_pending_and_tracking_can_be_off(tmp_path, hash_embedder, clock) -> None:
    with Memory(str(tmp_path / "a"), embedder=hash_embedder, graph=False, clock=clock) as m:
        tea = one(m, "I like tea")
        m.search("tea", user_id="u")
    with Memory(str(tmp_path / "a"), embedder=hash_embedder, graph=False, clock=clock) as m:
        assert recalls(m, tea) == 1
    with Memory(str(tmp_path / "b"), embedder=hash_embedder, graph=False, clock=clock,
                retention={"track_recalls": False}) as m:
        tea = one(m, "I like tea")
        m.search("tea", user_id="u")
        assert m.async_memory.engine.recalls.pending == 0 and m.sweep()["recalls"] == 0 and recalls(m, tea) == 0


def test_counts_pending_reach_a_memory_updated_meanwhile_and_skip_one_deleted(make_memory, clock) -> None:
    m = make_memory()
    tea, coffee = one(m, "I like tea"), one(m, "I like coffee")
    m.search("tea", user_id="u", limit=1)
    m.search("coffee", user_id="u", limit=1)
    m.update(tea, "I like green tea")  # the same memory (its row id stays), rewritten before the counts are written
    m.delete(coffee)
    later = one(m, "I like juice")  # a new row: never given the deleted memory's row id
    assert m.sweep()["recalls"] == 2
    assert recalls(m, tea) == 1 and recalls(m, later) == 0
