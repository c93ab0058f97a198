"""The points of issue 22, each at its root: what LlamaIndex's own memory contract expects of
MemlayerMemory, MemlayerMemoryBlock and MemlayerRetriever."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.storage.chat_store import SimpleChatStore
from llama_index.core.storage.chat_store.sql import MessageStatus
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llamaindex_memlayer import MemlayerMemory, MemlayerMemoryBlock, MemlayerRetriever
from memlayer.kit import ArgumentError

FACT = "I live in Paris"


# 1. Memory.aget() with an over-limit message and a block that recalls nothing ------------------------
async def test_over_limit_message_with_an_empty_store(store: Any) -> None:
    block = MemlayerMemoryBlock(memory=store, user_id="alice", infer=False)
    memory = Memory.from_defaults(session_id="s", token_limit=30, memory_blocks=[block])
    await memory.aput(ChatMessage(role="user", content="word " * 200))  # LlamaIndex calls atruncate([], n)
    got = await memory.aget()
    assert got and "word" in got[-1].content
    assert await block.atruncate([], 10) is None and await block.atruncate("", 10) is None


# 2. from_defaults: the chat store is used, unknown keywords are refused ----------------------------
def test_from_defaults_uses_the_chat_store_it_is_given(store: Any) -> None:
    chat_store = SimpleChatStore()
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", chat_store=chat_store,
                                       chat_store_key="k1", token_limit=500, infer=False)
    assert isinstance(mem.short_term, ChatMemoryBuffer)
    mem.put(ChatMessage(role="user", content="hello"))
    assert [m.content for m in chat_store.get_messages("k1")] == ["hello"]
    assert mem.token_limit == 500


def test_from_defaults_passes_llama_index_memory_options(store: Any) -> None:
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s9", token_limit=900,
                                       token_flush_size=100, chat_history_token_ratio=0.5)
    assert isinstance(mem.short_term, Memory)
    assert (mem.session_id, mem.token_limit, mem.short_term.token_flush_size) == ("s9", 900, 100)
    mem.token_limit = 800
    assert mem.short_term.token_limit == 800 and mem.tokenizer_fn is mem.short_term.tokenizer_fn


def test_from_defaults_refuses_unknown_keywords(store: Any) -> None:
    with pytest.raises(ArgumentError, match=r"'token_limt' \(did you mean 'token_limit'\?\)") as err:
        MemlayerMemory.from_defaults(memory=store, user_id="alice", token_limt=10)
    assert isinstance(err.value, TypeError)
    with pytest.raises(ArgumentError, match="short_term"):
        MemlayerMemory.from_defaults(memory=store, user_id="alice", short_term=ChatMemoryBuffer.from_defaults(),
                                     token_limit=10)


# 3. Serialisation: to_dict/from_dict, JSON and pickle keep settings, buffer and the memory -------
def _filled(store: Any) -> MemlayerMemory:
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s1", infer=False, limit=3,
                                       token_limit=700)
    mem.put(ChatMessage(role="user", content="Where do I live?"))
    mem.put(ChatMessage(role="assistant", content="In Paris."))
    return mem


def test_to_dict_from_dict_and_json(store: Any) -> None:
    mem = _filled(store)
    again = MemlayerMemory.from_dict(mem.to_dict())
    assert again.memory is store and (again.limit, again.token_limit, again.session_id) == (3, 700, "s1")
    assert [m.content for m in again.get_all()] == ["Where do I live?", "In Paris."]
    from_json = MemlayerMemory.from_json(mem.to_json())
    from_json.put(ChatMessage(role="user", content="and now?"))
    assert [m.content for m in from_json.get_all()][-1] == "and now?"
    buffered = MemlayerMemory.from_defaults(memory=store, user_id="bob", short_term=ChatMemoryBuffer.from_defaults(
        chat_history=[ChatMessage(role="user", content="hi")], token_limit=99))
    rebuilt = MemlayerMemory.from_dict(buffered.to_dict())
    assert isinstance(rebuilt.short_term, ChatMemoryBuffer) and rebuilt.token_limit == 99
    assert [m.content for m in rebuilt.get_all()] == ["hi"]


def test_from_dict_in_another_process_needs_the_memory(store: Any) -> None:
    data = _filled(store).to_dict()
    data["memory_ref"] = "memlayer-ref:from-another-process"
    with pytest.raises(ArgumentError, match=r"memory=Memory"):
        MemlayerMemory.from_dict(data)
    assert MemlayerMemory.from_dict(data, memory=store).memory is store


def test_pickle_keeps_the_memory_and_the_buffer(store: Any, texts: Any) -> None:
    mem = _filled(store)
    again = pickle.loads(pickle.dumps(mem))
    again.put(ChatMessage(role="user", content=FACT))
    again.put(ChatMessage(role="assistant", content="Noted."))  # records through the same memlayer memory
    assert FACT in texts(store, user_id="alice")
    assert len(again.get_all()) == 4


# 4. Drop-in for LlamaIndex's Memory: statuses, token_limit ---------------------------------------
async def test_aget_all_and_areset_with_status(store: Any) -> None:
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="st", token_limit=60,
                                       token_flush_size=20, chat_history_token_ratio=0.5, infer=False)
    for i in range(6):
        await mem.aput_messages([ChatMessage(role="user", content=f"question {i} " * 5),
                                 ChatMessage(role="assistant", content=f"answer {i} " * 5)])
    active = await mem.aget_all(status=MessageStatus.ACTIVE)
    archived = await mem.aget_all(status=MessageStatus.ARCHIVED)
    assert active and archived and len(active) + len(archived) == len(await mem.aget_all())
    await mem.areset(status=MessageStatus.ACTIVE)
    assert await mem.aget_all(status=MessageStatus.ACTIVE) == []
    assert await mem.aget_all(status=MessageStatus.ARCHIVED) == archived

    classic = MemlayerMemory.from_defaults(memory=store, user_id="bob", short_term=ChatMemoryBuffer.from_defaults())
    await classic.aput(ChatMessage(role="user", content="hi"))
    assert len(await classic.aget_all(status=MessageStatus.ACTIVE)) == 1
    assert await classic.aget_all(status=MessageStatus.ARCHIVED) == []
    await classic.areset(status=MessageStatus.ARCHIVED)  # nothing archived: the buffer stays
    assert len(classic.get_all()) == 1
    classic.reset(MessageStatus.ACTIVE)
    assert classic.get_all() == []


# Recall: one system message, never duplicated ---------------------------------------------------
def test_recall_merges_into_the_buffers_system_message_from_memory_blocks(store: Any) -> None:
    from llama_index.core.memory.memory_blocks.static import StaticMemoryBlock

    store.add(FACT, user_id="alice", infer=False)
    short_term = Memory.from_defaults(session_id="mb", memory_blocks=[
        StaticMemoryBlock(name="persona", static_content="You are a travel agent.")])
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", short_term=short_term)
    mem.put(ChatMessage(role="user", content="Where do I live?"))
    got = mem.get()
    systems = [m for m in got if m.role == MessageRole.SYSTEM]
    assert len(systems) == 1 and FACT in systems[0].content and "travel agent" in systems[0].content


def test_recall_leaves_out_what_the_buffer_already_shows(store: Any) -> None:
    store.add([FACT, "I like tea"], user_id="alice", infer=False)
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", infer=False, record=False)
    mem.put(ChatMessage(role="user", content=FACT))
    system = mem.get()[0].content
    assert "I like tea" in system and system.count(FACT) == 0  # the fact is in the buffer itself


def test_condense_plus_context_with_recall_and_retriever_shows_each_memory_once(store: Any, llm: Any) -> None:
    store.add(FACT, user_id="alice", infer=False)
    memory = MemlayerMemory.from_defaults(memory=store, user_id="alice", infer=False)  # recall on
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=MemlayerRetriever(store, user_id="alice"), memory=memory, llm=llm, skip_condense=True)
    for question in ("Where do I live?", "Where do I live, again?"):
        engine.chat(question)
        sent = llm.calls[-1]
        assert "\n".join(m.content or "" for m in sent).count(FACT) == 1
        assert [m.role for m in sent].count(MessageRole.SYSTEM) == 1 and FACT in sent[0].content


# The retriever: scored nodes, async, metadata filters --------------------------------------------
async def test_retriever_nodes_scores_and_metadata_filters(store: Any) -> None:
    store.add("I live in Paris", user_id="alice", infer=False, metadata={"topic": "home", "year": 2020})
    store.add("I moved to Rome", user_id="alice", infer=False, metadata={"topic": "home", "year": 2024})
    store.add("I like tea", user_id="alice", infer=False, metadata={"topic": "food", "year": 2024})
    recent_home = MetadataFilters(filters=[MetadataFilter(key="topic", value="home"),
                                           MetadataFilter(key="year", value=2023, operator=FilterOperator.GT)])
    nodes = await MemlayerRetriever(store, user_id="alice", filters=recent_home).aretrieve("where do I live")
    assert [n.node.get_content() for n in nodes] == ["I moved to Rome"]
    either = MetadataFilters(filters=[MetadataFilter(key="topic", value="food"),
                                      MetadataFilter(key="year", value=2020)], condition=FilterCondition.OR)
    nodes = MemlayerRetriever(store, user_id="alice", filters=either, limit=10).retrieve("anything")
    assert sorted(n.node.get_content() for n in nodes) == ["I like tea", "I live in Paris"]
    scores = [n.score for n in MemlayerRetriever(store, user_id="alice", limit=3).retrieve("Paris")]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    from memlayer.errors import FilterError

    text_match = MetadataFilters(filters=[MetadataFilter(key="topic", value="x", operator=FilterOperator.TEXT_MATCH)])
    with pytest.raises(FilterError, match="text_match"):
        MemlayerRetriever(store, user_id="alice", filters=text_match)


# Adapters take any object with the memory's public methods (the server's client, sync or async) ---
class AsyncClientStandIn:
    """Only the public methods, as coroutines answering the documented dicts (like memlayer.AsyncClient)."""

    def __init__(self, memory: Any) -> None:
        self._m = memory

    async def add(self, messages: Any, **kw: Any) -> dict[str, Any]:
        return self._m.add(messages, **kw)  # type: ignore[no-any-return]

    async def search(self, query: str, **kw: Any) -> dict[str, Any]:
        return self._m.search(query, **kw)  # type: ignore[no-any-return]

    async def delete_all(self, **kw: Any) -> dict[str, Any]:
        return self._m.delete_all(**kw)  # type: ignore[no-any-return]


def test_memory_block_and_retriever_over_a_client_stand_in(store: Any, texts: Any) -> None:
    client = AsyncClientStandIn(store)
    mem = MemlayerMemory.from_defaults(memory=client, user_id="carl", infer=False)
    mem.put(ChatMessage(role="user", content="I play the cello"))
    mem.put(ChatMessage(role="assistant", content="Lovely."))
    assert "I play the cello" in texts(store, user_id="carl")
    assert [n.node.get_content() for n in MemlayerRetriever(client, user_id="carl", limit=1).retrieve("cello")] == [
        "I play the cello"]
    assert "I play the cello" in MemlayerMemory.from_defaults(memory=client, user_id="carl").get(input="cello")[0].content
    mem.forget()
    assert texts(store, user_id="carl") == []
