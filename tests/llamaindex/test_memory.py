"""MemlayerMemory: recall injection, per-turn recording, reset/forget, sessions and users."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import ChatMemoryBuffer

from llamaindex_memlayer import MemlayerMemory

FACT = "I live in Paris"


def _mem(store, user: str = "alice", session: str = "s1", **kw) -> MemlayerMemory:
    kw.setdefault("infer", False)
    return MemlayerMemory.from_defaults(memory=store, user_id=user, session_id=session, **kw)


def _systems(messages: list[ChatMessage]) -> list[ChatMessage]:
    return [m for m in messages if m.role == MessageRole.SYSTEM]


def test_simple_chat_engine_sees_fact_without_input(store, llm):
    store.add(FACT, user_id="alice", infer=False)
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=_mem(store))
    engine.chat("Where do I live?")  # SimpleChatEngine calls memory.get() with no input
    sent = llm.calls[-1]
    assert len(_systems(sent)) == 1
    assert FACT in _systems(sent)[0].content
    assert sent[-1].role == MessageRole.USER and sent[-1].content == "Where do I live?"


async def test_simple_chat_engine_async(astore, llm):
    await astore.add(FACT, user_id="alice", infer=False)
    mem = MemlayerMemory.from_defaults(memory=astore, user_id="alice", infer=False)
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=mem)
    await engine.achat("Where do I live?")
    assert FACT in _systems(llm.calls[-1])[0].content
    recorded = [r["memory"] for r in (await astore.get_all(user_id="alice"))["results"]]
    assert "Where do I live?" in recorded and "Noted." in recorded


def test_recall_merges_into_existing_system_prompt_once(store):
    store.add(FACT, user_id="alice", infer=False)
    mem = _mem(store)
    mem.set([ChatMessage(role="system", content="You are a pirate."), ChatMessage(role="user", content="Where?")])
    first = mem.get()
    assert len(_systems(first)) == 1
    system = _systems(first)[0].content
    assert "You are a pirate." in system and system.count(FACT) == 1
    assert mem.get() == first  # recall is never stored, so a second get is identical
    mem.set(first)  # setting back what get() returned must not duplicate the recall
    again = mem.get()
    assert _systems(again)[0].content.count(FACT) == 1
    assert "long_term_memory" not in str(mem.get_all())


def test_get_with_input_and_empty_history(store):
    store.add(FACT, user_id="alice", infer=False)
    mem = _mem(store)
    assert mem.get() == []  # nothing to derive a query from
    got = mem.get(input="where do I live")
    assert len(got) == 1 and FACT in got[0].content


def test_put_records_one_batch_per_turn(store, monkeypatch):
    calls = []
    real_add = store.add
    monkeypatch.setattr(store, "add", lambda *a, **kw: calls.append((a, kw)) or real_add(*a, **kw))
    mem = _mem(store)
    mem.put(ChatMessage(role="user", content="What's the weather at home? " + FACT))
    call = ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="1", tool_name="weather", tool_kwargs={})])
    mem.put_messages([call, ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "1"})])
    assert calls == []
    mem.put(ChatMessage(role="assistant", content="It is sunny."))
    assert len(calls) == 1
    (messages,), kwargs = calls[0]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == "It is sunny."
    assert kwargs["user_id"] == "alice" and kwargs["infer"] is False
    assert kwargs["metadata"] == {"session_id": "s1"}
    assert len(mem.get_all()) == 4  # the short-term buffer keeps every message


def test_streamed_reply_is_recorded_once(store, monkeypatch, texts):
    from llama_index.core.llms.mock import MockFunctionCallingLLM

    chunks = ["You ", "live ", "in ", "Paris."]
    llm = MockFunctionCallingLLM(
        is_chat_model=True,
        response_generator=lambda messages, **kw: (ChatMessage(role="assistant", content=c) for c in chunks),
    )
    adds = []
    real_add = store.add
    monkeypatch.setattr(store, "add", lambda *a, **kw: adds.append(a[0]) or real_add(*a, **kw))
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=_mem(store))
    response = engine.stream_chat("Where do I live?")
    assert "".join(response.response_gen) == "You live in Paris."
    assert adds == [[{"role": "user", "content": "Where do I live?"},
                     {"role": "assistant", "content": "You live in Paris."}]]


def test_put_strips_echoed_recall(store, texts):
    store.add(FACT, user_id="alice", infer=False)
    mem = _mem(store)
    mem.put(ChatMessage(role="user", content="Where do I live?"))
    recall = _systems(mem.get())[0].content
    mem.put(ChatMessage(role="assistant", content=f"{recall}\nYou live in Paris."))
    assert "long_term_memory" not in str(mem.get_all())
    assert "You live in Paris." in texts(store, user_id="alice")


def test_new_session_recalls_same_user_never_another(store, llm, texts):
    SimpleChatEngine.from_defaults(llm=llm, memory=_mem(store, session="s1")).chat(FACT)
    assert FACT in texts(store, user_id="alice")

    SimpleChatEngine.from_defaults(llm=llm, memory=_mem(store, session="s2")).chat("Where do I live?")
    assert FACT in "\n".join(m.content or "" for m in llm.calls[-1])

    bob = _mem(store, user="bob", session="s3")
    SimpleChatEngine.from_defaults(llm=llm, memory=bob).chat("Where do I live?")
    assert "Paris" not in "\n".join(m.content or "" for m in llm.calls[-1])
    assert "Paris" not in str(bob.get(input="Paris live"))
    assert sorted(texts(store, user_id="bob")) == ["Noted.", "Where do I live?"]


def test_reset_clears_short_term_only_by_default(store, texts):
    mem = _mem(store)
    mem.put(ChatMessage(role="user", content=FACT))
    mem.reset()  # the pending turn is recorded first, then the buffer is cleared
    assert mem.get_all() == []
    assert texts(store, user_id="alice") == [FACT]


def test_reset_long_term_and_forget(store, texts):
    store.add("I am Bob", user_id="bob", infer=False)
    mem = _mem(store)
    mem.put(ChatMessage(role="user", content=FACT))
    mem.put(ChatMessage(role="assistant", content="Nice."))
    mem.forget()  # long-term only
    assert texts(store, user_id="alice") == [] and len(mem.get_all()) == 2
    mem.put(ChatMessage(role="user", content=FACT))
    mem.put(ChatMessage(role="assistant", content="Nice."))
    mem.reset(long_term=True)
    assert texts(store, user_id="alice") == [] and mem.get_all() == []
    assert texts(store, user_id="bob") == ["I am Bob"]


async def test_native_async_api(astore):
    mem = MemlayerMemory.from_defaults(memory=astore, user_id="alice", session_id="a1", infer=False)
    await mem.aput(ChatMessage(role="user", content=FACT))
    await mem.aput_messages([ChatMessage(role="assistant", content="Noted.")])
    fresh = MemlayerMemory.from_defaults(memory=astore, user_id="alice", session_id="a2", infer=False)
    await fresh.aset([ChatMessage(role="user", content="Where do I live?")])
    got = await fresh.aget()
    assert FACT in got[0].content and got[0].role == MessageRole.SYSTEM
    await fresh.areset(long_term=True)
    assert (await astore.get_all(user_id="alice"))["results"] == []
    assert await fresh.aget_all() == []


def test_options_recall_record_and_custom_buffer(store, texts):
    store.add(FACT, user_id="alice", infer=False)
    mem = MemlayerMemory.from_defaults(
        memory=store, user_id="alice", short_term=ChatMemoryBuffer.from_defaults(), recall=False, record=False
    )
    mem.put(ChatMessage(role="user", content="Where do I live?"))
    mem.put(ChatMessage(role="assistant", content="Noted."))
    assert _systems(mem.get()) == []
    assert texts(store, user_id="alice") == [FACT]
    assert mem.session_id is None


def test_scope_and_memory_are_validated(store):
    from memlayer.errors import ScopeError

    with pytest.raises(ScopeError):
        MemlayerMemory.from_defaults(memory=store)
    with pytest.raises(TypeError, match="memlayer.Memory"):
        MemlayerMemory.from_defaults(memory=object(), user_id="alice")


def test_infer_extracts_facts_by_default(store, llm, texts):
    pytest.importorskip("memlayer.extract.patterns")
    mem = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s1")
    assert mem.infer is True
    SimpleChatEngine.from_defaults(llm=llm, memory=mem).chat(FACT)
    assert any("Paris" in t for t in texts(store, user_id="alice"))
    later = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s2")
    SimpleChatEngine.from_defaults(llm=llm, memory=later).chat("Where do I live?")
    assert "Paris" in _systems(llm.calls[-1])[0].content


def test_graph_relations_reach_the_llm(tmp_path, hash_embedder, llm):
    """With the in-memory graph and infer=True, extracted relations are recalled too."""
    pytest.importorskip("memlayer.extract.patterns")
    pytest.importorskip("memlayer.graph.rdf")
    from memlayer import Memory

    with Memory(str(tmp_path / "graph-store"), embedder=hash_embedder, graph="memory") as store:
        first = MemlayerMemory.from_defaults(memory=store, user_id="alice")
        SimpleChatEngine.from_defaults(llm=llm, memory=first).chat("I work at Google")
        later = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s2")
        SimpleChatEngine.from_defaults(llm=llm, memory=later).chat("Where do I work? Google?")
    system = _systems(llm.calls[-1])[0].content
    assert "Google" in system and "Known relations:" in system
