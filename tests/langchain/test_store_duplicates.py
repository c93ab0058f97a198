"""MemlayerStore with concurrent puts of one item: no duplicate rows where a put can prevent them, and reads
that count items, not rows, where duplicates exist (items another process added at the same time)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langgraph.store.base import Item
from langgraph.store.memory import InMemoryStore

from langchain_memlayer import MemlayerStore


def rows(memory: Any) -> list[dict[str, Any]]:
    return memory.get_all(agent_id="langgraph")["results"]  # type: ignore[no-any-return]


def duplicate(memory: Any, store: str, key: str, value: dict[str, Any]) -> None:
    """A second, newer row of ``key``, as another process's put of a new item leaves before it cleans up."""
    row = next(r for r in rows(memory) if r["metadata"]["lg_key"] == key and r["metadata"]["lg_store"] == store)
    meta = {**row["metadata"], "lg_value": value}
    memory.add(value["text"], user_id=row["user_id"], agent_id=row["agent_id"], metadata=meta, infer=False)


def view(items: list[Item]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    return sorted((i.namespace, i.key, i.value) for i in items)


def test_paging_counts_items_when_rows_are_duplicated(memory: Any) -> None:
    store = MemlayerStore(memory)
    unranked = MemlayerStore(memory, name="unranked")
    for key in ("a", "b", "c", "k"):
        store.put(("c", "u"), key, {"text": f"item {key}"})
        unranked.put(("c", "u"), key, {"text": f"item {key}"}, index=False)
    for n in range(3):
        for st in (store, unranked):
            duplicate(memory, st.name, "k", {"text": f"item k, version {n}"})
    assert len(rows(memory)) == 4 * 2 + 3 * 2
    for st in (store, unranked):
        for query in (None, "item"):
            every = st.search(("c",), query=query, limit=100)
            assert sorted(i.key for i in every) == ["a", "b", "c", "k"], (st.name, query)
            assert [i.value for i in every if i.key == "k"] == [{"text": "item k, version 2"}]  # the newest row
            for limit in (1, 2, 3):
                pages = [st.search(("c",), query=query, limit=limit, offset=o) for o in range(0, 5, limit)]
                assert [len(p) for p in pages] == [min(limit, 4 - o) for o in range(0, 5, limit)], (limit, query)
                assert [i.key for p in pages for i in p] == [i.key for i in every], (st.name, limit, query)
        item = st.get(("c", "u"), "k")
        assert item is not None and item.value == {"text": "item k, version 2"}
    store.put(("c", "u"), "k", {"text": "item k, put again"})  # the next put leaves one row
    assert sum(r["metadata"]["lg_key"] == "k" and r["metadata"]["lg_store"] == "langgraph" for r in rows(memory)) == 1
    assert [i.value for i in store.search(("c",), limit=1)] == [{"text": "item k, put again"}]


async def test_concurrent_aputs_of_one_key_agree_with_in_memory_store(amemory: Any, monkeypatch: pytest.MonkeyPatch,
                                                                       ) -> None:
    async def run(st: Any) -> tuple[Any, ...]:
        await st.aput(("c", "u"), "other", {"text": "an unrelated item"})
        await asyncio.gather(*[st.aput(("c", "u"), "k", {"text": f"value {i}"}) for i in range(5)])
        await asyncio.gather(*[st.aput(("c", "v"), f"k{i % 2}", {"text": f"value {i}"}) for i in range(6)])
        got = await st.aget(("c", "u"), "k")
        pages = [view(await st.asearch(("c",), limit=1, offset=o)) for o in range(4)]
        return (got.value, view(await st.asearch(("c",), limit=100)), sorted(p for page in pages for p in page),
                view(await st.asearch(("c",), limit=2)).__len__(), await st.alist_namespaces())

    calls: list[str] = []
    for name in ("add", "delete"):
        monkeypatch.setattr(amemory, name, counted(getattr(amemory, name), name, calls))
    store = MemlayerStore(amemory)
    assert await run(store) == await run(InMemoryStore())
    assert len((await amemory.get_all(agent_id="langgraph"))["results"]) == 4  # one row per item
    assert calls == ["add"] * 4  # one store's puts of a key run in turn: the first adds it, the others update


def counted(method: Any, name: str, calls: list[str]) -> Any:
    async def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return await method(*args, **kwargs)

    return call


def test_concurrent_puts_from_threads_leave_one_row(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_add = memory.add

    def add(*args: Any, **kwargs: Any) -> Any:
        calls.append("add")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(memory, "add", add)
    store = MemlayerStore(memory)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: store.put(("c",), "k", {"text": f"value {i}"}), range(8)))
    assert len(rows(memory)) == 1 and calls == ["add"]
    item = store.get(("c",), "k")
    assert item is not None and [i.value for i in store.search(("c",))] == [item.value]


async def test_concurrent_aputs_through_several_stores_leave_one_row(amemory: Any) -> None:
    """No lock orders puts of different store objects (or processes): the put that added a row keeps the newest."""
    stores = [MemlayerStore(amemory) for _ in range(3)]
    for rnd in range(3):
        await asyncio.gather(*[st.aput(("c",), "k", {"text": f"value {rnd}.{i}"}) for i, st in enumerate(stores)],
                             *[st.aput(("c",), f"k{i}", {"text": "x"}) for i, st in enumerate(stores)])
        found = (await amemory.get_all(agent_id="langgraph"))["results"]
        assert sorted(r["metadata"]["lg_key"] for r in found) == ["k", "k0", "k1", "k2"]
        item = await stores[0].aget(("c",), "k")
        assert item is not None and [i.value for i in await stores[1].asearch(("c",), filter={"text": {"$ne": "x"}})] == [
            item.value]
        if rnd < 2:
            await asyncio.gather(*[st.adelete(("c",), key) for st in stores for key in ("k", "k0", "k1", "k2")])
            assert (await amemory.get_all(agent_id="langgraph"))["results"] == []
