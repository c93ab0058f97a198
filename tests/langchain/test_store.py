"""MemlayerStore: the namespace/item mapping, filters, indexing and scopes."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp, SearchOp

from langchain_memlayer import MemlayerStore
from langchain_memlayer.store import decode_namespace, encode_namespace


def test_put_get_update_delete(memory: Any) -> None:
    store = MemlayerStore(memory, user_id="langgraph")  # one fixed scope, not one per user
    store.put(("users", "alice"), "food", {"text": "likes pizza", "n": 1})
    first = store.get(("users", "alice"), "food")
    assert first is not None and first.value == {"text": "likes pizza", "n": 1}
    assert first.namespace == ("users", "alice") and first.key == "food"
    store.put(("users", "alice"), "food", {"text": "likes sushi", "n": 2})
    second = store.get(("users", "alice"), "food")
    assert second is not None and second.value == {"text": "likes sushi", "n": 2}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    rows = memory.get_all(user_id="langgraph")["results"]
    assert [r["memory"] for r in rows] == ["likes sushi"]  # idempotent: one memory per (namespace, key)
    assert len(memory.history(rows[0]["id"])) == 2
    store.delete(("users", "alice"), "food")
    assert store.get(("users", "alice"), "food") is None
    assert memory.get_all(user_id="langgraph")["results"] == []
    store.delete(("users", "alice"), "food")  # deleting a missing item is a no-op


def test_namespace_encoding_round_trips() -> None:
    for ns in [("a",), ("a", "b"), ("with/slash", "per%cent", "sp ace", "ünï", "x:y")]:
        assert decode_namespace(encode_namespace(ns)) == ns
    assert encode_namespace(("a/b",)) != encode_namespace(("a", "b"))


def test_prefix_search_and_listing(memory: Any) -> None:
    store = MemlayerStore(memory)
    store.put(("a", "b"), "k", {"v": 1})
    store.put(("a", "bc"), "k", {"v": 2})
    store.put(("a", "b", "c"), "k", {"v": 3})
    store.put(("x",), "k", {"v": 4})
    assert sorted(i.value["v"] for i in store.search(("a", "b"))) == [1, 3]
    assert sorted(i.value["v"] for i in store.search(())) == [1, 2, 3, 4]
    assert store.list_namespaces() == [("a", "b"), ("a", "b", "c"), ("a", "bc"), ("x",)]
    assert store.list_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "bc")]
    assert store.list_namespaces(suffix=("c",)) == [("a", "b", "c")]
    assert store.list_namespaces(prefix=("a", "*", "c")) == [("a", "b", "c")]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "c"), ("a", "bc")]


def test_value_filters(memory: Any) -> None:
    store = MemlayerStore(memory)
    store.put(("n",), "1", {"kind": "fact", "n": 1, "flag": True, "tags": ["a", "b"], "meta": {"lang": "en"}})
    store.put(("n",), "2", {"kind": "pref", "n": 5, "flag": False, "tags": ["a"], "meta": {"lang": "fr"}})
    store.put(("n",), "3", {"n": 3.5, "meta": {"lang": "fr", "deep": {"x": 1}}})
    store.put(("n",), "4", {"kind": None, "tags": None, "n": None})

    def keys(flt: dict[str, Any]) -> list[str]:
        return sorted(i.key for i in store.search(("n",), filter=flt))

    assert keys({"kind": "fact"}) == ["1"]
    assert keys({"kind": None}) == ["3", "4"]  # a stored null or a missing field, as in InMemoryStore
    assert keys({"kind": {"$ne": None}}) == ["1", "2"]
    assert keys({"meta": None}) == ["4"]
    assert keys({"kind": {"$ne": "fact"}}) == ["2", "3", "4"]
    assert keys({"n": {"$gt": 1, "$lte": 5}}) == ["2", "3"]
    assert keys({"flag": True}) == ["1"]
    assert keys({"tags": ["a"]}) == ["2"]
    assert keys({"meta": {"lang": "fr"}}) == ["2", "3"]
    assert keys({"meta": {"deep": {"x": 1}}}) == ["3"]
    assert keys({"meta": {"lang": "fr"}, "n": {"$lt": 4}}) == ["3"]
    with pytest.raises(ValueError, match="Unsupported operator"):
        keys({"n": {"$in": [1]}})


def test_query_search_and_index_false(memory: Any) -> None:
    store = MemlayerStore(memory, user_id="langgraph")  # one fixed scope, not one per user
    store.put(("docs",), "tea", {"text": "green tea from Japan"})
    store.put(("docs",), "hike", {"content": "hiking in the Alps"})
    store.put(("docs",), "secret", {"text": "green tea secret recipe"}, index=False)
    store.put(("docs",), "nested", {"body": {"title": "tea ceremony"}, "other": "x"}, index=["body.title"])
    hits = store.search(("docs",), query="green tea", limit=10)
    assert {h.key for h in hits} == {"tea", "hike", "secret", "nested"}
    assert hits[-1].key == "secret" and hits[-1].score is None  # unindexed items come last, unscored
    assert all(h.score is not None for h in hits[:-1])
    assert hits[0].key == "tea"
    assert [h.key for h in store.search(("docs",), query="green tea", limit=1)] == ["tea"]
    assert [h.key for h in store.search(("docs",), query="green tea", limit=1, offset=3)] == ["secret"]
    texts = {r["metadata"]["lg_key"]: r["memory"] for r in memory.get_all(user_id="langgraph")["results"]}
    assert texts["nested"] == "tea ceremony" and texts["hike"] == "hiking in the Alps"


def test_text_fields_option(memory: Any) -> None:
    store = MemlayerStore(memory, user_id="langgraph", text_fields=["title", "tags[*]"])
    store.put(("d",), "1", {"title": "Rust", "tags": ["systems", "safety"], "body": "ignored"})
    store.put(("d",), "2", {"body": "no title here"})
    texts = {r["metadata"]["lg_key"]: (r["memory"], r["metadata"]["lg_indexed"])
             for r in memory.get_all(user_id="langgraph")["results"]}
    assert texts["1"] == ("Rust\nsystems\nsafety", True)
    assert texts["2"][1] is False  # no text in the configured fields: kept, but not ranked


def test_scope_for_maps_namespaces_to_memlayer_users(memory: Any) -> None:
    store = MemlayerStore(memory, user_id="langgraph", scope_for=lambda ns: {"user_id": ns[1]} if len(ns) > 1 else None)
    store.put(("memories", "alice"), "m1", {"text": "Alice lives in Paris"})
    store.put(("memories", "bob"), "m1", {"text": "Bob lives in Rome"})
    store.put(("shared",), "s", {"text": "the office is in Berlin"})
    assert [r["memory"] for r in memory.search("lives", user_id="alice")["results"]] == ["Alice lives in Paris"]
    assert [r["memory"] for r in memory.get_all(user_id="langgraph")["results"]] == ["the office is in Berlin"]
    assert [i.value["text"] for i in store.search(("memories", "bob"), query="lives")] == ["Bob lives in Rome"]
    memory.delete_all(user_id="alice")  # memlayer's forget reaches the store's items
    assert store.get(("memories", "alice"), "m1") is None
    assert store.get(("memories", "bob"), "m1") is not None


def test_stores_and_plain_memories_share_a_scope(memory: Any) -> None:
    memory.add("a plain memory", user_id="langgraph", infer=False)
    one, two = MemlayerStore(memory, name="one"), MemlayerStore(memory, name="two")
    one.put(("ns",), "k", {"text": "from one"})
    two.put(("ns",), "k", {"text": "from two"})
    assert one.get(("ns",), "k").value == {"text": "from one"}  # type: ignore[union-attr]
    assert [i.value for i in two.search(())] == [{"text": "from two"}]
    assert one.list_namespaces() == [("ns",)]


def test_batch_reads_see_state_before_writes(memory: Any) -> None:
    store = MemlayerStore(memory, user_id="langgraph")  # one fixed scope, not one per user
    store.put(("b",), "k", {"v": 0})
    results = store.batch([
        PutOp(("b",), "k", {"v": 1}),
        GetOp(("b",), "k"),
        PutOp(("b",), "k", {"v": 2}),
        SearchOp(("b",)),
    ])
    assert results[0] is None and results[2] is None
    assert results[1].value == {"v": 0}  # type: ignore[union-attr]
    assert [i.value for i in results[3]] == [{"v": 0}]  # type: ignore[union-attr]
    assert store.get(("b",), "k").value == {"v": 2}  # type: ignore[union-attr]
    assert len(memory.get_all(user_id="langgraph")["results"]) == 1


def test_invalid_namespaces(memory: Any) -> None:
    store = MemlayerStore(memory)
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp((), "k", {"v": 1})])
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("",), "k")])


async def test_async_store_with_async_memory(amemory: Any) -> None:
    store = MemlayerStore(amemory)
    await store.aput(("u", "a"), "k1", {"text": "likes tea"})
    await store.aput(("u", "a"), "k2", {"text": "likes jazz"})
    await store.aput(("u", "a"), "k1", {"text": "likes coffee"})
    item = await store.aget(("u", "a"), "k1")
    assert item is not None and item.value == {"text": "likes coffee"}
    hits = await store.asearch(("u",), query="coffee", limit=1)
    assert [h.key for h in hits] == ["k1"]
    assert await store.alist_namespaces() == [("u", "a")]
    await store.adelete(("u", "a"), "k1")
    assert await store.aget(("u", "a"), "k1") is None


def test_sync_calls_on_async_memory(amemory: Any) -> None:
    store = MemlayerStore(amemory)
    store.put(("u",), "k", {"text": "hello"})
    assert store.get(("u",), "k").value == {"text": "hello"}  # type: ignore[union-attr]
