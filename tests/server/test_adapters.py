"""The LangChain and LlamaIndex adapters take a Client (or AsyncClient) where they take a Memory, unchanged,
against a real server."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms.mock import MockLLM
from llama_index.core.memory import Memory as LlamaMemory

from langchain_memlayer import MemlayerMiddleware, MemlayerRetriever, MemlayerStore
from llamaindex_memlayer import MemlayerMemory, MemlayerMemoryBlock
from memlayer import AsyncClient, Client

from .conftest import KeyedServer


def user() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(server: KeyedServer) -> Any:
    with Client(server.url, server.keys["acme"]) as c:
        yield c


def test_langchain_retriever_sync_and_async(client: Client, server: KeyedServer) -> None:
    alice = user()
    client.add(["Alice likes green tea", "Alice has a cat named Miso"], user_id=alice, infer=False)
    docs = MemlayerRetriever(memory=client, user_id=alice, k=1).invoke("what does she drink?")
    assert [d.page_content for d in docs] == ["Alice likes green tea"]

    async def run() -> list[Any]:
        aclient = AsyncClient(server.url, server.keys["acme"])
        try:
            return await MemlayerRetriever(memory=aclient, user_id=alice, k=1).ainvoke("the cat's name")
        finally:
            await aclient.close()

    import asyncio

    assert [d.page_content for d in asyncio.run(run())] == ["Alice has a cat named Miso"]
    assert MemlayerRetriever(memory=client, user_id=alice, k=1).invoke("tea")  # the sync face again afterwards


def test_langchain_store(client: Client) -> None:
    ns = ("memories", user())
    store = MemlayerStore(client)
    store.put(ns, "food", {"text": "likes pizza"})
    item = store.get(ns, "food")
    assert item is not None and item.value == {"text": "likes pizza"}
    assert [i.key for i in store.search(ns, query="what food")] == ["food"]
    store.delete(ns, "food")
    assert store.get(ns, "food") is None


def test_langchain_store_ttl_over_the_client(client: Client) -> None:
    ns = ("memories", user())
    store = MemlayerStore(client, ttl={"default_ttl": 60, "omit_expired": True})
    store.put(ns, "trip", {"text": "in Lisbon this week"})
    memory = client.get_all(user_id=ns[1])["results"][0]
    assert memory["expires_at"] is not None
    assert store.get(ns, "trip") is not None  # the read extends it to an hour from now
    assert client.get(memory["id"])["expires_at"] > memory["expires_at"]
    # an expiry cannot be set in the past (update() refuses it, as add() does): let a near one pass (two seconds:
    # the server checks it against its own clock when the request arrives, which a busy machine may delay)
    lapse = datetime.now(timezone.utc) + timedelta(seconds=2)
    client.update(memory["id"], expires_at=lapse.isoformat())
    time.sleep(max(0.0, (lapse - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    assert store.get(ns, "trip") is None and store.search(ns) == []
    assert store.sweep_ttl() == 1 and client.get(memory["id"]) is None


def test_langchain_middleware_agent_recalls_across_conversations(client: Client) -> None:
    alice, seen = user(), []

    class Capture(GenericFakeChatModel):
        def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(messages)
            return super()._generate(messages, *args, **kwargs)

    middleware = MemlayerMiddleware(client, infer=False)
    first = create_agent(Capture(messages=iter(["Noted."])), middleware=[middleware])
    first.invoke({"messages": [HumanMessage("My favourite drink is green tea.")]}, context={"user_id": alice})
    assert "My favourite drink is green tea." in [m["memory"] for m in client.get_all(user_id=alice)["results"]]
    second = create_agent(Capture(messages=iter(["Green tea."])), system_prompt="Be brief.", middleware=[middleware])
    second.invoke({"messages": [HumanMessage("What is my favourite drink?")]}, context={"user_id": alice})
    system = seen[-1][0]
    assert system.type == "system" and "My favourite drink is green tea." in system.text


def test_llamaindex_memory_and_block(client: Client) -> None:
    alice = user()
    client.add("I live in Paris", user_id=alice, infer=False)
    memory = MemlayerMemory.from_defaults(memory=client, user_id=alice, session_id="s1", infer=False)
    engine = SimpleChatEngine.from_defaults(llm=MockLLM(), memory=memory)
    engine.chat("Where do I live?")
    recalled = memory.get("Where do I live?")
    assert any(m.role == MessageRole.SYSTEM and "I live in Paris" in (m.content or "") for m in recalled)
    assert "Where do I live?" in [r["memory"] for r in client.get_all(user_id=alice)["results"]]

    bob = user()
    block = MemlayerMemoryBlock(memory=client, user_id=bob, infer=False)
    short = LlamaMemory.from_defaults(session_id="s2", token_limit=60, chat_history_token_ratio=0.3,
                                      token_flush_size=10, memory_blocks=[block])
    short.put(ChatMessage(role="user", content="My sister is called Ana."))
    for i in range(6):
        short.put(ChatMessage(role="assistant" if i % 2 else "user", content=f"filler message number {i} " * 3))
    assert "My sister is called Ana." in [r["memory"] for r in client.get_all(user_id=bob)["results"]]
    short.put(ChatMessage(role="user", content="What is my sister called?"))
    got = short.get()
    assert got[0].role == MessageRole.SYSTEM and "My sister is called Ana." in (got[0].content or "")
