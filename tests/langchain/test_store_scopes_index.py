"""MemlayerStore: the default namespace → scope mapping (per-user forget works), LangGraph's index=
(an Embeddings, a callable, per-field vectors, similarity scores), concurrency, huge filter numbers,
and a client stand-in in place of a Memory (TTL: test_store_ttl.py)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from langchain_memlayer import MemlayerMiddleware, MemlayerRetriever, MemlayerStore
from memlayer.errors import ConfigError, NotFoundError


class Letters(Embeddings):
    """A tiny deterministic embedding: letter counts (26 dims)."""

    def _one(self, text: str) -> list[float]:
        return [float(text.lower().count(chr(97 + i))) for i in range(26)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def test_namespaces_name_their_user_and_forget_reaches_them(memory: Any) -> None:
    store = MemlayerStore(memory)
    store.put(("memories", "alice"), "home", {"text": "Alice lives in Paris"})
    store.put(("memories", "bob"), "home", {"text": "Bob lives in Rome"})
    store.put(("shared",), "office", {"text": "The office is in Berlin"})
    assert [r["memory"] for r in memory.get_all(user_id="alice")["results"]] == ["Alice lives in Paris"]
    assert {r["agent_id"] for r in memory.get_all(agent_id="langgraph")["results"]} == {"langgraph"}
    assert {i.key for i in store.search(("memories",))} == {"home"} and len(store.search(("memories",))) == 2
    assert len(store.search(())) == 3 and store.list_namespaces() == [("memories", "alice"), ("memories", "bob"), ("shared",)]
    memory.delete_all(user_id="alice")  # memlayer's per-user forget
    assert store.get(("memories", "alice"), "home") is None
    assert store.get(("memories", "bob"), "home") is not None and store.get(("shared",), "office") is not None
    other = MemlayerStore(memory, user_label=0)  # (user, "memories") namespaces
    other.put(("carol", "memories"), "k", {"text": "Carol sings"})
    assert [r["memory"] for r in memory.get_all(user_id="carol")["results"]] == ["Carol sings"]
    with pytest.raises(ConfigError, match="agent_id or run_id"):
        MemlayerStore(memory, agent_id=None)


def test_query_scores_are_similarities(memory: Any) -> None:
    store = MemlayerStore(memory)
    store.put(("docs",), "tea", {"text": "green tea"})
    store.put(("docs",), "car", {"text": "a red car"})
    found = store.search(("docs",), query="green tea")
    hits = memory.search("green tea", agent_id="langgraph", config="vector")["results"]
    assert [(i.key, i.score) for i in found] == [(h["metadata"]["lg_key"], h["similarity"]) for h in hits]
    assert found[0].score == pytest.approx(1.0, abs=1e-5)  # the same text: similarity 1, not a fused score


@pytest.mark.parametrize("embed", ["embeddings", "function", "async_function"])
async def test_index_with_langgraph_embeddings_and_per_field_vectors(memory: Any, embed: str) -> None:
    letters = Letters()

    async def aembed(texts: list[str]) -> list[list[float]]:
        return letters.embed_documents(texts)

    given = {"embeddings": letters, "function": letters.embed_documents, "async_function": aembed}[embed]
    store = MemlayerStore(memory, index={"dims": 26, "embed": given, "fields": ["title", "tags[*]"]})
    assert store.index_config is not None and store.index_config["dims"] == 26
    await store.aput(("d",), "1", {"title": "zzz", "tags": ["abc", "xyz"]})
    await store.aput(("d",), "2", {"title": "abd", "tags": []})
    await store.aput(("d",), "3", {"title": "abc"}, index=False)
    found = await store.asearch(("d",), query="abc", limit=10)
    assert [i.key for i in found] == ["1", "2", "3"]  # item 1's tag "abc" is its best vector; 3 is unranked
    assert found[0].score == pytest.approx(1.0) and found[2].score is None
    assert found[1].score == pytest.approx(cosine(letters.embed_query("abc"), letters.embed_query("abd")))
    if embed == "embeddings":  # the sync path embeds with the same index
        assert [i.key for i in store.search(("d",), query="zzz", limit=1)] == ["1"]
    with pytest.raises(ConfigError, match="dims"):
        MemlayerStore(memory, index={"embed": letters})  # type: ignore[typeddict-item]


async def test_concurrent_puts_and_deletes_never_raise(amemory: Any) -> None:
    store = MemlayerStore(amemory)
    ops = []
    for i in range(30):
        ops += [store.aput(("c", "u"), f"k{i % 5}", {"v": i}), store.adelete(("c", "u"), f"k{i % 5}"),
                store.aput(("c", "u"), f"k{i % 5}", {"v": -i})]
    await asyncio.gather(*ops)  # a NotFoundError from a vanished item would surface here
    items = await store.asearch(("c",), limit=100)
    assert len({i.key for i in items}) == len(items) <= 5


def test_put_after_a_concurrent_delete_adds_again(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemlayerStore(memory)
    store.put(("c",), "k", {"v": 1})
    real = memory.update

    def vanished(memory_id: str, *a: Any, **kw: Any) -> Any:
        memory.delete(memory_id)
        return real(memory_id, *a, **kw)  # NotFoundError: deleted in between

    monkeypatch.setattr(memory, "update", vanished)
    with pytest.raises(NotFoundError):
        vanished(memory.get_all(agent_id="langgraph")["results"][0]["id"], "x")
    store.put(("c",), "k", {"v": 1})
    store.put(("c",), "k", {"v": 2})
    assert store.get(("c",), "k").value == {"v": 2}  # type: ignore[union-attr]


def test_huge_numbers_in_filters(memory: Any) -> None:
    store = MemlayerStore(memory)
    store.put(("p",), "cheap", {"price": 5})
    store.put(("p",), "huge", {"price": 10**30})
    assert {i.key for i in store.search(("p",), filter={"price": {"$lt": 10**100}})} == {"cheap", "huge"}
    assert [i.key for i in store.search(("p",), filter={"price": {"$gt": 10**20}})] == ["huge"]
    assert store.get(("p",), "huge").value == {"price": 10**30}  # exact: filters read a float copy of it


class ClientStandIn:
    """Only the public methods of a memory (as memlayer.Client will have), answering the documented dicts."""

    def __init__(self, memory: Any) -> None:
        self._m = memory

    def __getattr__(self, name: str) -> Any:
        if name in ("add", "search", "get", "get_all", "update", "delete", "delete_all", "history"):
            return getattr(self._m, name)
        raise AttributeError(name)


def test_store_retriever_and_middleware_over_a_client_stand_in(memory: Any) -> None:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import HumanMessage

    client = ClientStandIn(memory)
    store = MemlayerStore(client)
    store.put(("memories", "dan"), "pet", {"text": "Dan has a parrot"})
    assert store.get(("memories", "dan"), "pet").value == {"text": "Dan has a parrot"}  # type: ignore[union-attr]
    assert [d.page_content for d in MemlayerRetriever(memory=client, user_id="dan").invoke("parrot")] == ["Dan has a parrot"]
    agent = create_agent(GenericFakeChatModel(messages=iter(["ok"])), middleware=[MemlayerMiddleware(client, infer=False)])
    agent.invoke({"messages": [HumanMessage("Tell me about my parrot")]}, context={"user_id": "dan"})
    assert "Tell me about my parrot" in [r["memory"] for r in memory.get_all(user_id="dan")["results"]]
