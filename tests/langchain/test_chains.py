"""An LCEL retrieval chain and classic ConversationChain / chat history, all answering from memlayer."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from langchain_memlayer import MemlayerRetriever
from langchain_memlayer.classic import MemlayerChatMessageHistory, MemlayerMemory

# ConversationChain, BaseMemory and RunnableWithMessageHistory are deprecated upstream; that is the point here.
pytestmark = pytest.mark.filterwarnings("ignore::langchain_core._api.deprecation.LangChainDeprecationWarning")


def format_docs(docs: list[Document]) -> str:
    return "\n".join(f"- {d.page_content}" for d in docs)


def test_lcel_chain_answers_from_memory(memory: Any, capture: Any) -> None:
    memory.add(["I drink green tea every morning", "My sister lives in Rome", "I am learning Go"],
               user_id="alice", infer=False)
    memory.add("I drink black coffee", user_id="bob", infer=False)
    retriever = MemlayerRetriever(memory=memory, user_id="alice", k=2)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from these memories:\n{context}"), ("human", "{question}")]
    )
    model = GenericFakeChatModel(messages=iter(["You drink green tea."]))
    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    answer = chain.invoke("What do I drink every morning?", {"callbacks": [capture]})
    assert answer == "You drink green tea."
    (system,) = capture.system_texts()
    assert "- I drink green tea every morning" in system and "black coffee" not in system
    assert capture.chat_calls[0][-1].content == "What do I drink every morning?"


def test_conversation_chain_recalls_across_chains(memory: Any, capture: Any) -> None:
    from langchain_classic.chains import ConversationChain

    first = ConversationChain(
        llm=FakeListLLM(responses=["Nice, Paris is lovely!"]),
        memory=MemlayerMemory(memory=memory, user_id="alice", infer=False),
    )
    assert first.invoke({"input": "I moved to Paris last year."})["response"] == "Nice, Paris is lovely!"

    second = ConversationChain(
        llm=FakeListLLM(responses=["You live in Paris."]),
        memory=MemlayerMemory(memory=memory, user_id="alice", infer=False, k=1),
    )
    assert second.invoke({"input": "Where did I move to?"}, {"callbacks": [capture]})["response"] == "You live in Paris."
    (prompt,) = capture.llm_prompts
    assert "- I moved to Paris last year." in prompt and prompt.rstrip().endswith("Human: Where did I move to?\nAI:")


def test_memlayer_memory_variables_and_clear(memory: Any) -> None:
    mem = MemlayerMemory(memory=memory, user_id="alice", infer=False, memory_key="facts", return_messages=True)
    assert mem.memory_variables == ["facts"]
    assert mem.load_memory_variables({"question": "anything"}) == {"facts": []}
    mem.save_context({"question": "I play the violin"}, {"answer": "Lovely!"})
    (message,) = mem.load_memory_variables({"question": "violin"})["facts"]
    assert isinstance(message, SystemMessage) and "- I play the violin" in message.content
    with pytest.raises(ValueError, match="input_key"):
        mem.load_memory_variables({"a": "1", "b": "2"})
    mem.clear()
    assert memory.get_all(user_id="alice")["results"] == []


async def test_memlayer_memory_async(amemory: Any) -> None:
    mem = MemlayerMemory(memory=amemory, user_id="al", infer=False, input_key="q", output_key="a")
    await mem.asave_context({"q": "I collect stamps", "other": "x"}, {"a": "Neat", "extra": "y"})
    assert "- I collect stamps" in (await mem.aload_memory_variables({"q": "stamps"}))["history"]
    await mem.aclear()
    assert (await amemory.get_all(user_id="al"))["results"] == []


def test_chat_message_history_round_trip(memory: Any) -> None:
    history = MemlayerChatMessageHistory(memory, "s1", user_id="alice")
    call = AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "t1"}])
    history.add_messages([SystemMessage("Be nice."), HumanMessage("hi"), HumanMessage("hi"), call])
    history.add_messages([ToolMessage("result", tool_call_id="t1"), AIMessage("done")])
    history.add_user_message("bye")
    got = history.messages
    assert [m.type for m in got] == ["system", "human", "human", "ai", "tool", "ai", "human"]
    assert [m.content for m in got] == ["Be nice.", "hi", "hi", "", "result", "done", "bye"]
    assert got[3].tool_calls[0]["name"] == "lookup" and got[4].tool_call_id == "t1"  # type: ignore[attr-defined]
    rows = memory.get_all(user_id="alice", run_id="s1", filters={"role": "human"})["results"]
    assert sorted(r["metadata"]["sequence"] for r in rows) == [1, 2, 6]

    other = MemlayerChatMessageHistory(memory, "s2", user_id="alice", run_id="s1")  # same scope, other session
    other.add_user_message("elsewhere")
    assert [m.content for m in other.messages] == ["elsewhere"] and len(history.messages) == 7
    history.clear()
    assert history.messages == [] and [m.content for m in other.messages] == ["elsewhere"]


async def test_chat_message_history_async(amemory: Any) -> None:
    history = MemlayerChatMessageHistory(amemory, "s")
    await history.aadd_messages([HumanMessage("one"), AIMessage("two")])
    await history.aadd_messages([HumanMessage("three")])
    assert [m.content for m in await history.aget_messages()] == ["one", "two", "three"]
    assert (await amemory.get_all(run_id="s"))["results"][0]["run_id"] == "s"
    await history.aclear()
    assert await history.aget_messages() == []


def test_chat_history_with_runnable_with_message_history(memory: Any, capture: Any) -> None:
    from langchain_core.prompts import MessagesPlaceholder
    from langchain_core.runnables.history import RunnableWithMessageHistory

    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{input}")])
    model = GenericFakeChatModel(messages=iter(["Hello Ann!", "Your name is Ann."]))
    chain = RunnableWithMessageHistory(
        prompt | model, lambda session_id: MemlayerChatMessageHistory(memory, session_id, user_id="ann"),
        input_messages_key="input", history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "chat-1"}, "callbacks": [capture]}
    chain.invoke({"input": "I am Ann."}, config)
    chain.invoke({"input": "What is my name?"}, config)
    assert [m.content for m in capture.chat_calls[1]] == ["I am Ann.", "Hello Ann!", "What is my name?"]


def test_chat_history_rows_stay_out_of_user_wide_search(memory: Any) -> None:
    memory.add("I am allergic to peanuts", user_id="alice", infer=False)
    history = MemlayerChatMessageHistory(memory, "chat-7", user_id="alice")
    history.add_messages([HumanMessage("Am I allergic to peanuts?"), AIMessage("You told me you are allergic to peanuts.")])
    found = memory.search("allergic to peanuts", user_id="alice")["results"]
    assert [r["memory"] for r in found] == ["I am allergic to peanuts"]  # knowledge, not the transcript
    assert len(history.messages) == 2 and len(memory.get_all(user_id="alice")["results"]) == 3
    only = memory.search("peanuts", user_id="alice", filters={"memlayer_transcript": True})["results"]
    assert sorted(r["metadata"]["sequence"] for r in only) == [0, 1]
