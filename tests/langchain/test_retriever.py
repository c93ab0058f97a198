"""MemlayerRetriever: the langchain-tests standard suite plus the memory → Document mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_memlayer import MemlayerRetriever

FACTS = [
    "Alice likes green tea",
    "Alice likes hiking in the Alps",
    "Alice likes jazz music",
    "Alice has a cat named Miso",
    "Alice works as a nurse",
]


def seed(memory: Any, user_id: str = "alice") -> list[str]:
    result = memory.add(FACTS, user_id=user_id, infer=False, metadata={"source": "seed"})
    return [r["id"] for r in result["results"]]


class TestMemlayerRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _memory(self, tmp_path: Path, hash_embedder: Any) -> Iterator[None]:
        from memlayer import Memory

        self.memory = Memory(str(tmp_path / "store"), embedder=hash_embedder, graph=False)
        seed(self.memory)
        yield
        self.memory.close()

    @property
    def retriever_constructor(self) -> type[MemlayerRetriever]:
        return MemlayerRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": self.memory, "user_id": "alice"}

    @property
    def retriever_query_example(self) -> str:
        return "What does Alice like?"


def test_documents_carry_memory_fields(memory: Any) -> None:
    ids = seed(memory)
    docs = MemlayerRetriever(memory=memory, user_id="alice").invoke("green tea")
    assert len(docs) == 4  # k defaults to 4
    top = docs[0]
    assert isinstance(top, Document)
    assert top.page_content == "Alice likes green tea"
    assert top.id == ids[0]
    assert top.metadata["source"] == "seed"
    assert top.metadata["user_id"] == "alice" and top.metadata["agent_id"] is None and top.metadata["run_id"] is None
    assert {"score", "similarity", "created_at", "updated_at"} <= set(top.metadata)
    assert top.metadata["score"] >= docs[-1].metadata["score"]


def test_k_filters_and_scope(memory: Any) -> None:
    seed(memory)
    memory.add("Bob likes green tea", user_id="bob", infer=False)
    memory.add("Alice likes black coffee", user_id="alice", infer=False, metadata={"source": "chat"})
    retriever = MemlayerRetriever(memory=memory, user_id="alice", k=10, filters={"source": "seed"})
    docs = retriever.invoke("tea")
    assert len(docs) == len(FACTS)
    assert all(d.metadata["user_id"] == "alice" and d.metadata["source"] == "seed" for d in docs)
    assert len(retriever.invoke("tea", k=2)) == 2
    only_chat = retriever.invoke("drink", filters={"source": {"ne": "seed"}})
    assert only_chat == []  # call filters are ANDed with the retriever's
    unfiltered = MemlayerRetriever(memory=memory, user_id="alice", k=10).invoke("coffee", filters={"source": "chat"})
    assert [d.page_content for d in unfiltered] == ["Alice likes black coffee"]


async def test_async_memory_native_path(amemory: Any) -> None:
    await amemory.add(FACTS, user_id="alice", infer=False)
    retriever = MemlayerRetriever(memory=amemory, user_id="alice", k=2)
    docs = await retriever.ainvoke("jazz music")
    assert len(docs) == 2 and docs[0].page_content == "Alice likes jazz music"
    assert [d.page_content for d in await retriever.ainvoke("cat", k=1)] == ["Alice has a cat named Miso"]


def test_async_memory_sync_invoke(amemory: Any) -> None:
    import asyncio

    asyncio.run(amemory.add(FACTS, user_id="alice", infer=False))
    docs = MemlayerRetriever(memory=amemory, user_id="alice", k=3).invoke("nurse")
    assert docs[0].page_content == "Alice works as a nurse"


async def test_sync_memory_async_invoke(memory: Any) -> None:
    seed(memory)
    docs = await MemlayerRetriever(memory=memory, user_id="alice", k=1).ainvoke("hiking")
    assert [d.page_content for d in docs] == ["Alice likes hiking in the Alps"]


def test_search_kwargs_and_errors(memory: Any) -> None:
    from memlayer.errors import ScopeError

    seed(memory)
    strict = MemlayerRetriever(memory=memory, user_id="alice", search_kwargs={"threshold": 0.99})
    assert strict.invoke("completely unrelated words") == []
    with pytest.raises(ScopeError):
        MemlayerRetriever(memory=memory).invoke("tea")
    with pytest.raises(TypeError):
        MemlayerRetriever(memory=object(), user_id="alice").invoke("tea")
