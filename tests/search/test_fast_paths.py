"""The search's shortcuts answer exactly what the general path answers: a scope scored whole by the dense
retriever (no re-scoring of later candidates), and the lexical retriever given the rows already read."""

from __future__ import annotations

import random

import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.ops import search as search_op

_WORD_TEXT = ("tea coffee lisbon oslo violin piano garden bicycle school market rain sunny weekend trip dog walk "
              "painting pottery camping beach museum kids family")
WORDS = _WORD_TEXT.split()
QUERIES = ["tea in lisbon", "what did Ann say about the garden?", "camping with the kids last weekend",
           "Which city did Bob move to in May 2024?", "pottery"]


@pytest.fixture
async def mem():
    m = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    rng = random.Random(11)
    for user in ("u1", "u2"):
        for day in range(1, 8):
            turns = [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),
                      "name": rng.choice(["Ann", "Bob"])} for _ in range(30)]
            await m.add(turns, user_id=user, infer=False, timestamp=f"2024-05-0{day}T10:00:00")
    yield m
    await m.close()


async def _answers(m: AsyncMemory, config: object) -> list[list[tuple[str, float, float]]]:
    out = []
    for q in QUERIES:
        res = (await m.search(q, user_id="u1", limit=15, config=config))["results"]
        out.append([(r["id"], r["score"], r["similarity"]) for r in res])
    return out


@pytest.mark.parametrize("config", ["default", "hybrid", {"preset": "default", "candidates": 20},
                                    {"preset": "default", "expansion_weight": 0.3}])
async def test_a_scope_scored_whole_ranks_as_re_scoring_does(mem, monkeypatch, config):
    whole = await _answers(mem, config)
    monkeypatch.setattr(search_op, "SCORE_ALL", 0)  # every later candidate scored on its own
    assert await _answers(mem, config) == whole


async def test_co_occurring_words_bring_in_memories_the_query_does_not_name(mem):
    await mem.add("Ann said the violin recital was in the old market hall", user_id="u3", infer=False)
    await mem.add("Ann practised the violin every morning in the market hall", user_id="u3", infer=False)
    await mem.add("the recital hall has wonderful acoustics", user_id="u3", infer=False)
    await mem.add("bob fixed his bicycle", user_id="u3", infer=False)
    plain = {"preset": "default", "length_prior": 0, "temporal_boost": 0}
    expanded = {**plain, "expansion_weight": 1.0, "expansion_docs": 2}
    scores = {}
    for name, config in (("plain", plain), ("expanded", expanded)):
        res = (await mem.search("violin market", user_id="u3", limit=4, config=config))["results"]
        scores[name] = {r["memory"]: r["score"] for r in res}
    acoustics, bicycle = "the recital hall has wonderful acoustics", "bob fixed his bicycle"
    assert scores["expanded"][acoustics] > scores["plain"][acoustics] + 0.5  # "recital" and "hall" co-occur
    assert scores["expanded"][bicycle] == scores["plain"][bicycle]
