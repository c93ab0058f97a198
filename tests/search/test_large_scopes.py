"""Selections too large to read whole are post-filtered: the same answers, never another scope's memories."""

from __future__ import annotations

import random

import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.search import scope as scope_mod
from memlayer.storage.sqlite import lexical

TOPICS = ["tea", "coffee", "lisbon", "oslo", "violin", "piano", "garden", "bicycle", "school", "market"]


@pytest.fixture
async def mem():
    m = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    rng = random.Random(3)
    for u in range(12):  # users of one agent, their turns interleaved with another agent's memories
        turns = [{"role": "user", "content": f"turn {i} of user{u} about {rng.choice(TOPICS)} and {rng.choice(TOPICS)}",
                  "name": f"Person{u % 4}"} for i in range(8)]
        await m.add(turns, user_id=f"user{u}", agent_id="bot", infer=False, timestamp="2024-05-01T10:00:00")
        await m.add(f"other agent note {u} about {rng.choice(TOPICS)}", user_id=f"user{u}", agent_id="other",
                    infer=False)
    yield m
    await m.close()


def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scope_mod, "MATERIALISE_MAX", 5)
    monkeypatch.setattr(lexical, "SCOPED_MAX", 5)


QUERIES = ["tea in lisbon", "violin school", "what did Person2 say about the garden?", "market bicycle coffee"]


@pytest.mark.parametrize("limit", [1, 5, 20])
async def test_dense_post_filtering_returns_the_exact_top_k(mem, monkeypatch, limit):
    whole = {q: await mem.search(q, agent_id="bot", limit=limit, config="vector") for q in QUERIES}
    _small(monkeypatch)
    for q in QUERIES:
        got = (await mem.search(q, agent_id="bot", limit=limit, config="vector"))["results"]
        want = whole[q]["results"]
        assert [r["score"] for r in got] == [r["score"] for r in want]  # equal similarities may swap places
        best = min(r["score"] for r in want)
        assert {r["id"] for r in got if r["score"] > best} == {r["id"] for r in want if r["score"] > best}
        assert all(r["agent_id"] == "bot" for r in got)


async def test_hybrid_search_of_a_large_selection_stays_inside_it(mem, monkeypatch):
    _small(monkeypatch)
    for q in QUERIES:
        for cfg in ("default", "hybrid"):
            res = (await mem.search(q, agent_id="bot", limit=20, config=cfg))["results"]
            assert len(res) == 20 and {r["agent_id"] for r in res} == {"bot"}
        filtered = (await mem.search(q, agent_id="bot", limit=50, filters={"user_id": "user3"}))["results"]
        assert filtered and {r["user_id"] for r in filtered} == {"user3"}


async def test_a_large_selection_gets_context_and_speakers(mem, monkeypatch):
    await mem.add([{"role": "user", "content": "Which city did you move to last spring?", "name": "Bob"},
                   {"role": "user", "content": "Lisbon, and I love it there.", "name": "Ann"}],
                  user_id="user0", agent_id="bot", infer=False, timestamp="2024-06-01T10:00:00")
    _small(monkeypatch)
    query = "Which city did Ann move to last spring?"
    res = (await mem.search(query, agent_id="bot", limit=3, config={"preset": "default", "speaker_boost": 0}))
    assert any("Lisbon" in r["memory"] for r in res["results"])  # the reply, through its neighbour
    boosted = await mem.search("what did Person2 say?", agent_id="bot", limit=5,
                               config={"preset": "default", "speaker_boost": 5.0})
    assert all("user2 " in r["memory"] or "user6 " in r["memory"] or "user10 " in r["memory"]
               for r in boosted["results"])  # Person2 is users 2, 6 and 10


def test_segments_of_windows():
    import numpy as np

    seg = scope_mod.segments_of
    assert seg(np.array([8, 10, 12, 15, 38, 40]), [10, 13, 40], 3).tolist() == [0, 0, 0, 0, 1, 1]
    assert seg(np.array([8, 12, 28]), [10, 30], 3).tolist() == [0, 0, 1]
    assert seg(np.array([7, 20]), [10, 17], 3).tolist() == [0, 0]  # touching windows: every row between was read
