"""MemlayerStore against LangGraph's InMemoryStore: one random sequence of operations, the same answers.

Compared: get (value, namespace, key), put/delete (via later reads), list_namespaces (exact lists), searches
without a query (the same items when the limit covers every match; otherwise the same number of items,
all matching), and searches with a query (the same key set when the limit covers every match).
``InMemoryStore`` keeps a namespace listed after its last item is deleted, or after a mere ``get`` on it;
the reference drops those empty namespaces after every batch, so both list only namespaces with items.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, Op, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from langchain_memlayer import MemlayerStore

NAMESPACES = [("users", "a"), ("users", "b"), ("users", "a", "prefs"), ("docs",), ("docs", "x", "y"), ("t", "u")]
PREFIXES = sorted({ns[:i] for ns in NAMESPACES for i in range(len(NAMESPACES) + 1)})
KEYS = [f"k{i}" for i in range(6)]
WORDS = ["tea", "coffee", "jazz", "hiking", "paris", "rome", "cats", "dogs"]
FILTERS: list[dict[str, Any]] = [
    {"kind": "fact"}, {"kind": "pref"}, {"kind": None}, {"n": {"$gte": 2}}, {"n": {"$lt": 2}, "kind": "fact"},
    {"n": {"$ne": 3}}, {"meta": {"lang": "fr"}}, {"tags": ["a"]}, {"tags": []}, {"flag": True}, {"kind": {"$eq": "note"}},
]


def random_value(rng: random.Random) -> dict[str, Any]:
    value: dict[str, Any] = {"text": " ".join(rng.sample(WORDS, 2))}
    if rng.random() < 0.8:
        value["kind"] = rng.choice(["fact", "pref", "note"])
    value["n"] = rng.randint(0, 4)
    if rng.random() < 0.5:
        value["meta"] = {"lang": rng.choice(["en", "fr"])}
    if rng.random() < 0.5:
        value["tags"] = rng.choice([[], ["a"], ["a", "b"]])
    if rng.random() < 0.3:
        value["flag"] = rng.random() < 0.5
    return value


def random_op(rng: random.Random) -> Op:
    roll = rng.random()
    ns, key = rng.choice(NAMESPACES), rng.choice(KEYS)
    if roll < 0.35:
        return PutOp(ns, key, random_value(rng), index=rng.choice([None, None, False, ["text"]]))
    if roll < 0.45:
        return PutOp(ns, key, None)
    if roll < 0.6:
        return GetOp(ns, key)
    if roll < 0.75:
        return SearchOp(rng.choice(PREFIXES), rng.choice([None, *FILTERS]), rng.choice([1, 3, 100]), rng.choice([0, 0, 2]))
    if roll < 0.85:
        return SearchOp(rng.choice(PREFIXES), rng.choice([None, *FILTERS[:4]]), 100, 0, rng.choice(WORDS))
    conditions = []
    if rng.random() < 0.5:
        path = list(rng.choice(PREFIXES[1:]))
        if len(path) > 1 and rng.random() < 0.3:
            path[0] = "*"
        conditions.append(MatchCondition("prefix", tuple(path)))
    if rng.random() < 0.3:
        conditions.append(MatchCondition("suffix", (rng.choice(["a", "b", "y", "*"]),)))
    return ListNamespacesOp(tuple(conditions) or None, rng.choice([None, None, 1, 2]), rng.choice([2, 100]),
                            rng.choice([0, 0, 1]))


def random_batches(seed: int, n_ops: int) -> list[list[Op]]:
    rng = random.Random(seed)
    batches, left = [], n_ops
    while left > 0:
        size = min(left, rng.choice([1, 1, 1, 2, 4]))
        batches.append([random_op(rng) for _ in range(size)])
        left -= size
    return batches


def drop_empty_namespaces(ref: InMemoryStore) -> None:
    for ns in [ns for ns, items in ref._data.items() if not items]:
        del ref._data[ns]


def as_map(items: list[Item]) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    return {(i.namespace, i.key): i.value for i in items}


def everything(ref: InMemoryStore, op: SearchOp) -> list[Item]:
    return ref.batch([op._replace(limit=10_000, offset=0, query=None)])[0]  # type: ignore[no-any-return]


def reference(ref: InMemoryStore, batch: list[Op]) -> tuple[list[Any], list[list[Item] | None]]:
    """The reference answers, and for each search every item it matches before the batch's writes."""
    matching = [everything(ref, op) if isinstance(op, SearchOp) else None for op in batch]
    want = ref.batch(batch)
    drop_empty_namespaces(ref)
    return want, matching


def check(op: Op, got: Any, want: Any, all_matching: list[Item] | None, where: str) -> None:
    if isinstance(op, GetOp):
        assert (got is None) == (want is None), where
        if got is not None:
            assert (got.namespace, got.key, got.value) == (want.namespace, want.key, want.value), where
            assert got.created_at <= got.updated_at, where
    elif isinstance(op, ListNamespacesOp):
        assert got == want, where
    elif isinstance(op, SearchOp):
        assert all_matching is not None
        matching = as_map(all_matching)
        assert len(got) == len(want), where
        assert all(matching.get((i.namespace, i.key)) == i.value for i in got), where
        if op.offset == 0 and op.limit >= len(matching):
            assert as_map(got) == as_map(want) == matching, where
    else:
        assert got is None and want is None, where


def run_sync(store: MemlayerStore, batches: list[list[Op]]) -> int:
    ref, checked = InMemoryStore(), 0
    for n, batch in enumerate(batches):
        want, matching = reference(ref, batch)
        got = store.batch(batch)
        for op, g, w, m in zip(batch, got, want, matching, strict=True):
            check(op, g, w, m, f"batch {n}: {op}")
            checked += 1
    return checked


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_differential_sync(memory: Any, seed: int) -> None:
    store = MemlayerStore(memory)
    assert run_sync(store, random_batches(seed, 200)) == 200
    final = InMemoryStore()
    for batch in random_batches(seed, 200):
        final.batch(batch)
    every = SearchOp((), None, 10_000)
    assert as_map(store.batch([every])[0]) == as_map(final.batch([every])[0])


async def test_differential_async(amemory: Any) -> None:
    store, ref = MemlayerStore(amemory), InMemoryStore()
    for n, batch in enumerate(random_batches(7, 120)):
        want, matching = reference(ref, batch)
        got = await store.abatch(batch)
        for op, g, w, m in zip(batch, got, want, matching, strict=True):
            check(op, g, w, m, f"batch {n}: {op}")


def test_differential_with_scope_mapping(memory: Any) -> None:
    """Per-namespace scopes give the same answers when every read names a whole scope."""
    store = MemlayerStore(memory, scope_for=lambda ns: {"user_id": "/".join(ns[:2])} if len(ns) >= 2 else None)
    rng = random.Random(11)
    batches = []
    for _ in range(80):
        op = random_op(rng)
        if isinstance(op, SearchOp) and len(op.namespace_prefix) < 2:
            op = op._replace(namespace_prefix=rng.choice([ns for ns in NAMESPACES if len(ns) >= 2]))
        if isinstance(op, ListNamespacesOp):
            op = ListNamespacesOp((MatchCondition("prefix", ("users", "a")),))
        batches.append([op])
    assert run_sync(store, batches) == 80
    assert {r["user_id"] for r in memory.get_all(user_id="users/a")["results"]} <= {"users/a"}


NESTED_VALUES: dict[str, dict[str, Any]] = {  # every shape of the parent field "meta" (and of meta.deep)
    "missing": {"text": "no meta"}, "null": {"meta": None}, "string": {"meta": "plain"}, "number": {"meta": 0},
    "negative": {"meta": -2.5}, "empty-string": {"meta": ""}, "false": {"meta": False}, "list": {"meta": [{"lang": "fr"}]}, "empty-list": {"meta": []}, "empty": {"meta": {}},
    "fr": {"meta": {"lang": "fr"}}, "en": {"meta": {"lang": "en", "n": 2}}, "lang-null": {"meta": {"lang": None}},
    "other": {"meta": {"n": 1}}, "deep": {"meta": {"lang": "fr", "deep": {"x": 1}}}, "deep-x2": {"meta": {"deep": {"x": 2}}},
    "deep-empty": {"meta": {"deep": {}}}, "deep-scalar": {"meta": {"deep": "x"}}, "deep-list": {"meta": {"deep": [1]}},
    "deep-null": {"meta": {"deep": None}},
}
NESTED_FILTERS: list[dict[str, Any]] = [
    {"meta": {}}, {"meta": {"lang": {"$ne": "fr"}}}, {"meta": {"lang": None}}, {"meta": {"lang": {"$eq": None}}},
    {"meta": {"lang": {"$ne": None}}}, {"meta": {"lang": "fr"}}, {"meta": {"deep": {}}}, {"meta": {"deep": {"x": 1}}},
    {"meta": {"deep": {"x": {"$ne": 1}}}}, {"meta": {"deep": {"x": None}}}, {"meta": {"deep": None}},
    {"meta": {"lang": {"$ne": "en"}, "deep": {}}}, {"meta": None}, {"meta": {"$ne": None}}, {"meta": {"$ne": "plain"}},
    {"meta": {"lang": "fr"}, "text": None},
]


@pytest.mark.parametrize("written_before_lg_objects", [False, True])
def test_nested_filters_match_only_object_parents(memory: Any, monkeypatch: pytest.MonkeyPatch,
                                                  written_before_lg_objects: bool) -> None:
    """A nested filter needs its field to be an object, as in InMemoryStore; items written before the store
    recorded ``lg_objects`` (the same metadata without it) answer alike."""
    if written_before_lg_objects:
        import langchain_memlayer.store as store_module

        flatten = store_module.flatten_value

        def flatten_as_before(value: Any) -> dict[str, Any]:
            out = flatten(value)
            del out["lg_objects"]
            return out

        monkeypatch.setattr(store_module, "flatten_value", flatten_as_before)
    store, ref = MemlayerStore(memory), InMemoryStore()
    for st in (store, ref):
        for key, value in NESTED_VALUES.items():
            st.put(("docs",), key, value)
    rows = memory.get_all(agent_id="langgraph")["results"]
    assert len(rows) == len(NESTED_VALUES)
    assert all(("lg_objects" in r["metadata"]) != written_before_lg_objects for r in rows)
    for flt in NESTED_FILTERS:
        want = sorted(i.key for i in ref.search(("docs",), filter=flt, limit=100))
        assert sorted(i.key for i in store.search(("docs",), filter=flt, limit=100)) == want, flt
        ranked = store.search(("docs",), filter=flt, limit=100, query="meta")  # a query search filters alike
        assert sorted(i.key for i in ranked) == want, flt
    monkeypatch.undo()
    store.put(("docs",), "string", {"meta": {"lang": "de"}})  # a put writes lg_objects from then on
    assert sorted(i.key for i in store.search(("docs",), filter={"meta": {"lang": {"$ne": "fr"}}}, limit=100)) == [
        "deep-empty", "deep-list", "deep-null", "deep-scalar", "deep-x2", "empty", "en", "lang-null", "other", "string"]
