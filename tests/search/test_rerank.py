"""Reranking, the last step of a search: the ``rerank_pool`` best candidates read beside the query by the
memory's reranker, its scores blended in with ``rerank_weight`` (search/rerank.py)."""

from __future__ import annotations

import numpy as np
import pytest

from memlayer import AsyncMemory, Memory, registry
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import ConfigError, ProviderError
from memlayer.search import rerank
from memlayer.search.config import PRESETS, SearchConfig
from memlayer.search.scores import search_order

TEXTS = [
    "Ann went hiking in the hills on Sunday",
    "Ann signed up for a pottery class",
    "Ann's favourite food is ramen",
    "Ann painted a sunrise over the lake",
    "Ann talked about the weather",
    "Ann's brother lives in Oslo",
]


class KeywordReranker:
    """Scores a text by how many of its words are in ``liked``; records what it was asked."""

    settings = {"liked": "pottery painted"}

    def __init__(self, liked: str = "pottery painted") -> None:
        self.liked = set(liked.split())
        self.settings = {"liked": liked}
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        self.calls.append((query, list(texts)))
        return np.array([sum(w in self.liked for w in t.split()) for t in texts], dtype=float)


def _add(mem: Memory) -> None:
    for i, text in enumerate(TEXTS):
        mem.add(text, user_id="ann", infer=False, metadata={"i": i})


def test_blend_orders_the_pool_by_both_standardised_scores():
    values = np.array([3.0, 2.0, 1.0, 0.5])
    reranked = np.array([0.0, 0.0, 10.0, 0.0])
    out = rerank.blend(values, reranked, 1.0)
    z = (values - values.mean()) / values.std() + (reranked - reranked.mean()) / reranked.std()
    assert np.argsort(-out).tolist() == np.argsort(-z).tolist()
    assert np.allclose(out, values.mean() + values.std() * z)  # on the fused scale
    assert rerank.blend(values, np.ones(4), 1.0) is values  # a reranker that cannot tell them apart adds nothing
    flat = rerank.blend(np.ones(3), np.array([1.0, 3.0, 2.0]), 0.5)
    assert np.argsort(-flat).tolist() == [1, 2, 0]  # fused scores all alike: the reranker orders them
    assert search_order(np.array([1.0, 2.0, 2.0]), np.array([0.1, 0.2, 0.3]), np.array([7, 8, 9]))[:2].tolist() == [2, 1]


def test_the_reranker_reads_only_the_pool_and_moves_what_it_prefers(tmp_path):
    reranker = KeywordReranker()
    mem = Memory(str(tmp_path), embedder=HashingEmbedder(dims=64), graph=False, reranker=reranker)
    try:
        _add(mem)
        query = "What does Ann do in her free time?"
        plain = [r["memory"] for r in mem.search(query, user_id="ann", limit=6, config="vector")["results"]]
        cfg = {"preset": "vector", "rerank_weight": 5.0, "rerank_pool": 6}
        got = mem.search(query, user_id="ann", limit=6, config=cfg)["results"]
        assert {r["memory"] for r in got[:2]} == {TEXTS[1], TEXTS[3]}  # the two the reranker prefers lead
        assert [r["memory"] for r in got[2:]] == [t for t in plain if t not in (TEXTS[1], TEXTS[3])]
        assert [s for s in (r["score"] for r in got)] == sorted((r["score"] for r in got), reverse=True)
        assert reranker.calls == [(query, plain)]  # the pool, in the search's own order, and the query as asked

        reranker.calls.clear()
        small = mem.search(query, user_id="ann", limit=6, config={**cfg, "rerank_pool": 2})["results"]
        assert reranker.calls == [(query, plain[:2])]  # only the pool is read; the rest keeps its place
        assert [r["memory"] for r in small[2:]] == plain[2:]
        assert mem.search(query, user_id="ann", limit=6, config={**cfg, "rerank_weight": 0})["results"] == \
            mem.search(query, user_id="ann", limit=6, config="vector")["results"]
    finally:
        mem.close()


@pytest.mark.parametrize("reranker", [None, False])  # False: "no reranker", as for llm=
def test_a_search_asking_for_reranking_without_a_reranker_says_what_to_do(tmp_path, reranker):
    mem = Memory(str(tmp_path), embedder=HashingEmbedder(dims=64), graph=False, reranker=reranker)
    try:
        for _ in range(2):  # an empty scope too: the answer does not depend on what the store holds
            with pytest.raises(ConfigError, match="reranker='late'"):
                mem.search("anything", user_id="ann", config="rerank")
            _add(mem)
        assert mem.search("pottery", user_id="ann", limit=1)["results"]  # the default preset needs none
    finally:
        mem.close()


def test_a_reranker_answering_the_wrong_number_of_scores_is_a_provider_error(tmp_path):
    class Short(KeywordReranker):
        def score(self, query: str, texts: list[str]) -> np.ndarray:
            return np.zeros(len(texts) - 1)

    mem = Memory(str(tmp_path), embedder=HashingEmbedder(dims=64), graph=False, reranker=Short())
    try:
        _add(mem)
        with pytest.raises(ProviderError, match="5 scores for 6 texts"):
            mem.search("pottery", user_id="ann", limit=6, config={"preset": "vector", "rerank_weight": 1.0})
    finally:
        mem.close()


def test_rerankers_register_like_every_provider(tmp_path):
    assert {"late", "cross-encoder"} <= set(registry.names("rerankers"))
    registry.register("rerankers", "keyword-test", KeywordReranker)
    mem = Memory(str(tmp_path), embedder=HashingEmbedder(dims=64), graph=False,
                 reranker={"provider": "keyword-test", "config": {"liked": "ramen"}})
    try:
        _add(mem)
        got = mem.search("What does Ann like?", user_id="ann", limit=1,
                         config={"preset": "vector", "rerank_weight": 10.0})["results"]
        assert got[0]["memory"] == TEXTS[2]
        with pytest.raises(ConfigError, match="reranker"):  # a second Memory on the store must agree
            Memory(str(tmp_path), embedder=HashingEmbedder(dims=64), graph=False,
                   reranker={"provider": "keyword-test", "config": {"liked": "oslo"}})
    finally:
        mem.close()


async def test_sync_and_async_rank_alike(tmp_path):
    cfg = {"preset": "default", "rerank_weight": 0.8, "rerank_pool": 4}
    sync = Memory(str(tmp_path / "s"), embedder=HashingEmbedder(dims=64), graph=False, reranker=KeywordReranker())
    amem = AsyncMemory(str(tmp_path / "a"), embedder=HashingEmbedder(dims=64), graph=False,
                       reranker=KeywordReranker())
    try:
        _add(sync)
        for i, text in enumerate(TEXTS):
            await amem.add(text, user_id="ann", infer=False, metadata={"i": i})
        for query in ("What does Ann do for fun?", "Where does Ann's family live?", ""):
            a = [(r["memory"], r["score"]) for r in (await amem.search(query, user_id="ann", config=cfg))["results"]]
            s = [(r["memory"], r["score"]) for r in sync.search(query, user_id="ann", config=cfg)["results"]]
            assert a == s
    finally:
        sync.close()
        await amem.close()


def test_the_rerank_preset_is_default_plus_reranking():
    rerank_cfg = SearchConfig.preset("rerank")
    assert rerank_cfg.rerank_weight > 0 and rerank_cfg.rerank_pool >= 10
    assert rerank_cfg.model_copy(update={"rerank_weight": 0.0, "rerank_pool": 50}) == PRESETS["default"]
    with pytest.raises(ConfigError):
        SearchConfig.coerce({"rerank_pool": 1})
