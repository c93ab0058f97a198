"""Unit tests of the search additions: context, speakers, length prior, lexical terms, presets, scoping."""

from __future__ import annotations

import numpy as np
import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import ConfigError
from memlayer.search.config import PRESETS, SearchConfig
from memlayer.search.context import Links, ScopeOrder, expand, length_bonus, propagate
from memlayer.search.expand import strip_names
from memlayer.search.lexical import terms
from memlayer.search.scores import Scores
from memlayer.storage.sqlite.sql import fts_match
from tests.search.chat import CHAT


def _order(times: list[float], groups: list | None = None, speakers: list | None = None) -> ScopeOrder:
    rids = np.arange(1, len(times) + 1, dtype=np.int64) * 10
    return ScopeOrder(rids, np.asarray(times, dtype=np.float64), groups, speakers)


def test_neighbours_respect_gap_and_key():
    order = _order([0, 10, 20, 100_000, 100_010])
    links = order.neighbours([10, 30, 40, 999], gap_s=3600)
    assert links.to_dict() == {10: (None, 20), 30: (20, None), 40: (None, 50)}  # 999 is not visible
    assert order.neighbours([30], gap_s=None).to_dict() == {30: (20, 40)}
    keyed = _order([0, 1, 2], groups=["s1", "s1", "s2"])
    assert keyed.neighbours([20], gap_s=None).to_dict() == {20: (10, None)}


def _links(pairs: dict[int, tuple[int | None, int | None]]) -> Links:
    ids = sorted(pairs)
    return Links(np.array(ids), np.array([pairs[r][0] or -1 for r in ids]), np.array([pairs[r][1] or -1 for r in ids]))


def test_propagate_inherits_and_adds():
    base = Scores.of_dict({1: 1.0, 2: 0.1, 3: 0.5})
    links = _links({2: (1, 3), 3: (2, None)})
    out = propagate(base, links, inherit=0.8, prev_w=0.0, next_w=0.1).to_dict()
    assert out[1] == 1.0  # unlinked: unchanged
    assert out[2] == pytest.approx(0.8 + 0.05)  # max(0.1, 0.8 * 1.0) + 0.1 * 0.5
    assert out[3] == pytest.approx(0.5)  # max(0.5, 0.8 * 0.1)
    assert propagate(base, links, 0.0, 0.5, 0.0).to_dict()[3] == pytest.approx(0.55)
    linked_alone = propagate(Scores.of_dict({1: 1.0}), _links({2: (1, None)}), 0.8, 0.0, 0.0).to_dict()
    assert linked_alone == {1: 1.0, 2: pytest.approx(0.8)}  # a linked memory without a score of its own joins


def test_expand_reaches_neighbours_of_the_best():
    order = _order([0, 1, 2, 3, 4, 5])
    links, involved = expand(order, Scores.of_dict({30: 1.0, 60: 0.1}), pool=1, gap_s=None)
    assert links.ids.tolist() == [20, 30, 40]
    assert involved.tolist() == [10, 20, 30, 40, 50]


def test_speakers_named_and_stripped():
    order = _order([0, 1, 2], speakers=["Caroline", "Melanie", None])
    assert order.speakers_named("What did caroline's kids like?") == {"Caroline"}
    assert order.speakers_named("Did CarolineX go?") == set()
    assert order.speaker_of([20, 30, 99]) == {20: "Melanie", 30: None}
    assert strip_names("What do Caroline's kids like?", {"Caroline"}) == "What do kids like?"
    assert strip_names("Caroline?", {"Caroline"}) == "Caroline?"  # nothing would be left


def test_length_bonus_grows_with_length():
    bonus = length_bonus(np.array([10, 200, 0]), 0.3)
    assert 0 < bonus[0] < bonus[1] and bonus[2] == 0


def test_lexical_terms_drop_question_words():
    assert terms("What kind of books does Tim like to read?") == ["books", "tim", "like", "read"]
    assert terms("what is it?") == ["what", "is", "it"]  # nothing left: keep everything
    assert fts_match(terms('say "hi" OR NEAR(xy)')) == '"hi" OR "near" OR "xy"'
    assert fts_match(terms("?!")) is None


def test_presets_and_coerce():
    assert {"vector", "hybrid", "default"} <= set(PRESETS)
    vector = SearchConfig.preset("vector")
    assert vector.lexical_weight == 0 and not vector.uses_context and not vector.uses_speakers
    assert SearchConfig.coerce(None) == PRESETS["default"]
    cfg = SearchConfig.coerce({"preset": "default", "speaker_boost": 0})
    assert cfg.speaker_boost == 0 and cfg.context_inherit == PRESETS["default"].context_inherit
    with pytest.raises(ConfigError):
        SearchConfig.coerce({"context_inherit": 2})
    with pytest.raises(ConfigError):
        SearchConfig.coerce("nope")




async def _chat(mem: AsyncMemory, user: str, when: str = "2024-05-01T10:00:00") -> None:
    msgs = [{"role": "user", "content": f'{who} said, "{text}"', "metadata": {"speaker": who, "turn": i}}
            for i, (who, text) in enumerate(CHAT)]
    await mem.add(msgs, user_id=user, infer=False, timestamp=when)


async def test_context_brings_up_the_reply(mem):
    await _chat(mem, "u")
    query = "Which city did Ann move to last spring?"
    plain = await mem.search(query, user_id="u", limit=2, config={"preset": "default", "context_inherit": 0,
                                                                   "context_next_weight": 0, "speaker_boost": 0})
    assert "Lisbon" not in " ".join(r["memory"] for r in plain["results"])
    res = await mem.search(query, user_id="u", limit=2, config={"preset": "default", "speaker_boost": 0})
    assert any("Lisbon" in r["memory"] for r in res["results"])


async def test_speaker_boost_prefers_the_named_speaker(mem):
    await _chat(mem, "u")
    res = await mem.search("What did Bob say about a city?", user_id="u", limit=3,
                           config={"preset": "default", "speaker_boost": 5.0})
    assert {r["metadata"]["speaker"] for r in res["results"]} == {"Bob"}


async def test_context_and_speakers_never_cross_scopes_or_filters(mem):
    await _chat(mem, "a")
    await mem.add('Eve said, "Lisbon is where I keep my secret diary."', user_id="b", infer=False,
                  timestamp="2024-05-01T10:00:00", metadata={"speaker": "Eve"})
    await _chat(mem, "a", when="2024-05-01T10:00:00")  # same texts again: deduplicated, rows stay interleaved
    for cfg in ("default", "hybrid", "vector"):
        res = await mem.search("Eve secret diary Lisbon", user_id="a", limit=20, config=cfg)
        assert res["results"] and {r["user_id"] for r in res["results"]} == {"a"}
    res = await mem.search("Which city did Ann move to?", user_id="a", limit=20, filters={"speaker": "Bob"})
    assert {r["metadata"]["speaker"] for r in res["results"]} == {"Bob"}


async def test_context_gap_separates_conversations(mem):
    await mem.add([{"role": "user", "content": "Where should we eat tonight?"}], user_id="u", infer=False,
                  timestamp="2024-01-01T10:00:00")
    await mem.add([{"role": "user", "content": "The quarterly tax filing is done."}], user_id="u", infer=False,
                  timestamp="2024-03-01T10:00:00")
    cfg = {"preset": "default", "length_prior": 0, "context_gap_s": 3600}
    res = await mem.search("Where should we eat tonight?", user_id="u", limit=2, config=cfg)
    far = {r["memory"]: r["score"] for r in res["results"]}
    near = await mem.search("Where should we eat tonight?", user_id="u", limit=2,
                            config={**cfg, "context_gap_s": None})
    near_scores = {r["memory"]: r["score"] for r in near["results"]}
    assert near_scores["The quarterly tax filing is done."] > far["The quarterly tax filing is done."]


async def test_vector_preset_scores_are_similarities(mem):
    await _chat(mem, "u")
    res = await mem.search("bicycle commuting", user_id="u", limit=3, config="vector")
    assert [r["score"] for r in res["results"]] == [r["similarity"] for r in res["results"]]
    assert res["results"][0]["memory"].startswith("Bob said, \"I bought a red bicycle")


async def test_default_search_respects_limit_threshold_and_empty_scope(mem):
    await _chat(mem, "u")
    assert len((await mem.search("city", user_id="u", limit=3))["results"]) == 3
    assert (await mem.search("city", user_id="u", threshold=1.01))["results"] == []
    assert (await mem.search("city", user_id="nobody"))["results"] == []
    assert (await mem.search("city", user_id="u", limit=0))["results"] == []


class _CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.calls = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().embed(texts)


async def test_search_of_an_empty_scope_embeds_nothing(tmp_path):
    emb = _CountingEmbedder()
    mem = AsyncMemory(str(tmp_path / "s"), embedder=emb, graph=False)
    try:
        await mem.add("I like green tea", user_id="alice", infer=False)
        before = emb.calls
        assert (await mem.search("tea", user_id="bob"))["results"] == []
        assert emb.calls == before  # nothing to rank: the query was not embedded
        assert (await mem.search("tea", user_id="alice"))["results"]
        assert emb.calls == before + 1
    finally:
        await mem.close()


@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_dense_only_search_returns_the_exact_top_k(tmp_path, limit):
    """The vector preset scores only `limit` candidates; they must be the scope's exact best."""
    mem = AsyncMemory(str(tmp_path / "s"), embedder=HashingEmbedder(64), graph=False)
    try:
        texts = [f"note {i} about topic{i % 5} and item{i}" for i in range(40)]
        await mem.add(texts, user_id="u", infer=False)
        await mem.add(["note about topic1 for someone else"], user_id="other", infer=False)
        query = "topic1 item11"
        got = (await mem.search(query, user_id="u", limit=limit, config="vector"))["results"]
        q = mem.embed_now([query])[0]
        vecs = mem.embed_now(texts)
        best = sorted(range(len(texts)), key=lambda i: -float(vecs[i] @ q))[:limit]
        assert [r["memory"] for r in got] == [texts[i] for i in best]
    finally:
        await mem.close()
