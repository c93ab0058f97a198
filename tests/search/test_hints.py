"""Query hints: the time span a query names, and co-occurring words (pseudo-relevance feedback)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.search.hints import cooccurring, in_window, time_window

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc)


def _day(y: int, m: int, d: int) -> float:
    return datetime(y, m, d, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("query", "span"), [
    ("What did I do on 8 May 2023?", (_day(2023, 5, 8), _day(2023, 5, 9))),
    ("What happened on May 8th, 2023?", (_day(2023, 5, 8), _day(2023, 5, 9))),
    ("notes from 2023-05-08", (_day(2023, 5, 8), _day(2023, 5, 9))),
    ("Where did she travel in December 2022?", (_day(2022, 12, 1), _day(2023, 1, 1))),
    ("What changed in 2021?", (_day(2021, 1, 1), _day(2022, 1, 1))),
    ("what did I eat yesterday", (_day(2024, 6, 14), _day(2024, 6, 15))),
    ("what did I buy 3 days ago", (_day(2024, 6, 11), _day(2024, 6, 14))),
    ("what did we plan last week?", (_day(2024, 6, 1), _day(2024, 6, 16))),
])
def test_time_windows(query, span):
    assert time_window(query, NOW) == span


def test_no_time_and_impossible_dates():
    assert time_window("What does Ann like?", NOW) is None
    assert time_window("on 31 February 2023", NOW) == (_day(2023, 2, 1), _day(2023, 3, 1))  # no such day: the month
    assert in_window({1: _day(2023, 5, 8) + 10, 2: _day(2023, 5, 9)}, (_day(2023, 5, 8), _day(2023, 5, 9))) == {1}


def test_cooccurring_words():
    texts = ["Ann went camping by the lake", "the lake trip with Ann was great camping", "Ann paints"]
    assert cooccurring("Where has Ann camped?", texts, 5) == ["camping", "lake"]  # in two texts, not asked
    assert cooccurring("Where has Ann camped?", texts, 1) == ["camping"]
    assert cooccurring("x", [], 5) == []


async def test_temporal_boost_prefers_memories_of_the_named_month():
    mem = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    try:
        await mem.add("We went hiking in the hills.", user_id="u", infer=False, timestamp="2023-04-02")
        await mem.add("We went hiking by the sea.", user_id="u", infer=False, timestamp="2023-05-20")
        query = "Where did we go hiking in May 2023?"
        off = await mem.search(query, user_id="u", limit=2, config={"preset": "default", "temporal_boost": 0})
        on = await mem.search(query, user_id="u", limit=2, config={"preset": "default", "temporal_boost": 2.0})
        assert on["results"][0]["memory"] == "We went hiking by the sea."
        assert on["results"][0]["score"] > off["results"][0]["score"]
        expanded = await mem.search("hiking", user_id="u", limit=2, config={"preset": "default", "expansion_weight": 1})
        assert len(expanded["results"]) == 2
    finally:
        await mem.close()


async def test_relative_times_resolve_against_the_memory_s_clock():
    """"yesterday" means the day before the engine's clock (an injected one too), not the machine's date."""
    from memlayer.clock import ManualClock

    clock = ManualClock(datetime(2023, 5, 21, 9, 0, tzinfo=timezone.utc))
    mem = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False, clock=clock)
    try:
        await mem.add("We went hiking in the hills.", user_id="u", infer=False, timestamp="2023-05-20T10:00:00Z")
        await mem.add("We went hiking by the sea.", user_id="u", infer=False, timestamp="2023-05-13T10:00:00Z")
        config = {"preset": "default", "temporal_boost": 2.0}
        got = await mem.search("Where did we go hiking yesterday?", user_id="u", limit=2, config=config)
        assert got["results"][0]["memory"] == "We went hiking in the hills."
        clock.set(datetime(2023, 5, 14, 9, 0, tzinfo=timezone.utc))
        got = await mem.search("Where did we go hiking yesterday?", user_id="u", limit=2, config=config)
        assert got["results"][0]["memory"] == "We went hiking by the sea."
    finally:
        await mem.close()
