"""MemlayerMiddleware and the memory tools in ``create_agent`` agents, with fake chat models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import ToolRuntime

from langchain_memlayer import MemlayerMiddleware, MemlayerStore, create_memory_tools


class ToolFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts bound tools (and ignores them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


@dataclass
class UserContext:
    user_id: str


def ask(agent: Any, text: str, user_id: str, capture: Any = None, context: Any = None) -> Any:
    callbacks = [capture] if capture else []
    return agent.invoke(
        {"messages": [HumanMessage(text)]}, {"callbacks": callbacks}, context=context or {"user_id": user_id}
    )


def test_agent_recalls_a_fact_from_an_earlier_conversation(memory: Any, capture: Any) -> None:
    middleware = MemlayerMiddleware(memory, infer=False)
    store = MemlayerStore(memory)
    first = create_agent(GenericFakeChatModel(messages=iter(["Nice to meet you!"])), middleware=[middleware], store=store)
    ask(first, "My favourite drink is green tea.", "alice")
    recorded = sorted(r["memory"] for r in memory.get_all(user_id="alice")["results"])
    assert recorded == ["My favourite drink is green tea.", "Nice to meet you!"]

    second = create_agent(
        GenericFakeChatModel(messages=iter(["You like green tea."])), system_prompt="You are helpful.",
        middleware=[middleware], store=store,
    )
    out = ask(second, "What is my favourite drink?", "alice", capture)
    assert out["messages"][-1].content == "You like green tea."
    (system,) = capture.system_texts()
    assert system.startswith("You are helpful.") and "My favourite drink is green tea." in system
    assert [m.type for m in capture.chat_calls[0]] == ["system", "human"]
    assert all(m.type != "system" for m in out["messages"])  # recall does not touch the agent state

    other = create_agent(GenericFakeChatModel(messages=iter(["I don't know."])), middleware=[middleware])
    capture.chat_calls.clear()
    ask(other, "What is my favourite drink?", "bob", capture)
    assert capture.system_texts() == [""]  # bob's scope is empty: nothing injected


def test_agent_infers_facts_and_recalls_them(memory: Any, capture: Any) -> None:
    middleware = MemlayerMiddleware(memory)  # infer=True: the offline pattern extractor distils facts
    agent = create_agent(GenericFakeChatModel(messages=iter(["Noted!", "In Lisbon."])), middleware=[middleware])
    ask(agent, "Hi! I live in Lisbon and I work as a nurse.", "carol")
    facts = [r["memory"] for r in memory.get_all(user_id="carol")["results"]]
    assert any("Lisbon" in f for f in facts)
    assert "Hi! I live in Lisbon and I work as a nurse." not in facts  # facts, not the transcript
    ask(agent, "Where do I live?", "carol", capture)
    assert "Lisbon" in capture.system_texts()[-1]


class AddSpy:
    """A Memory that reports the contents of every add() call."""

    def __init__(self, memory: Any) -> None:
        self.memory, self.added = memory, []

    def add(self, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        self.added.append([m["content"] for m in messages])
        return self.memory.add(messages, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.memory, name)


def test_checkpointed_thread_records_each_message_once(memory: Any) -> None:
    spy = AddSpy(memory)
    middleware = MemlayerMiddleware(spy, infer=False, context_key=None, user_id=lambda runtime: "dana")
    agent = create_agent(GenericFakeChatModel(messages=iter(["One.", "Two."])), middleware=[middleware],
                         checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage("first question")]}, thread)
    out = agent.invoke({"messages": [HumanMessage("second question")]}, thread)
    assert len(out["messages"]) == 4
    assert spy.added == [["first question", "One."], ["second question", "Two."]]
    texts = sorted(r["memory"] for r in memory.get_all(user_id="dana")["results"])
    assert texts == ["One.", "Two.", "first question", "second question"]


def test_without_checkpointer_the_last_turn_is_recorded(memory: Any) -> None:
    spy = AddSpy(memory)
    agent = create_agent(GenericFakeChatModel(messages=iter(["Fine."])),
                         middleware=[MemlayerMiddleware(spy, user_id="eve", infer=False)])
    history = [HumanMessage("old question"), AIMessage("old answer"), HumanMessage("new question")]
    agent.invoke({"messages": history})
    assert spy.added == [["new question", "Fine."]]


def test_tools_and_store_inside_an_agent(memory: Any, capture: Any) -> None:
    store = MemlayerStore(memory, scope_for=lambda ns: {"user_id": ns[1]} if len(ns) > 1 else None)

    def set_home(city: str, runtime: ToolRuntime[UserContext, Any]) -> str:
        """Record the user's home city in the profile store."""
        runtime.store.put(("profiles", runtime.context.user_id), "home", {"text": f"Home city: {city}"})
        return "ok"

    calls = AIMessage("", tool_calls=[
        {"name": "save_memory", "args": {"text": "Erin is allergic to peanuts"}, "id": "c1"},
        {"name": "set_home", "args": {"city": "Oslo"}, "id": "c2"},
    ])
    model = ToolFakeChatModel(messages=iter([calls, "Saved.", "You are allergic to peanuts and live in Oslo."]))
    middleware = MemlayerMiddleware(memory, infer=False, record=False, tools=True)
    agent = create_agent(model, tools=[set_home], middleware=[middleware], store=store, context_schema=UserContext)
    out = ask(agent, "Remember my allergy and that I live in Oslo.", "erin", context=UserContext("erin"))
    tool_results = {m.name: m.content for m in out["messages"] if isinstance(m, ToolMessage)}
    assert tool_results == {"save_memory": "ADD: Erin is allergic to peanuts", "set_home": "ok"}
    assert store.get(("profiles", "erin"), "home").value == {"text": "Home city: Oslo"}  # type: ignore[union-attr]

    ask(agent, "What do you know about me?", "erin", capture, context=UserContext("erin"))
    system = capture.system_texts()[-1]
    assert "Erin is allergic to peanuts" in system and "Home city: Oslo" in system  # the store wrote to erin's scope


def test_memory_tools_standalone(memory: Any) -> None:
    search, save = create_memory_tools(memory, user_id="fay")
    assert [t.name for t in (search, save)] == ["search_memory", "save_memory"]
    assert set(search.args) == {"query"} and set(save.args) == {"text"}
    assert search.invoke({"query": "anything"}) == "No relevant memories found."
    assert save.invoke({"text": "Fay plays the cello"}) == "ADD: Fay plays the cello"
    assert save.invoke({"text": "Fay plays the cello"}) == "Nothing new to remember."
    assert search.invoke({"query": "cello"}) == "- Fay plays the cello"


async def test_async_agent_with_async_memory(amemory: Any, capture: Any) -> None:
    middleware = MemlayerMiddleware(amemory, infer=False, header="Known facts:")
    first = create_agent(GenericFakeChatModel(messages=iter(["Cool."])), middleware=[middleware])
    await first.ainvoke({"messages": [HumanMessage("My dog is called Rex.")]}, context={"user_id": "gus"})
    second = create_agent(GenericFakeChatModel(messages=iter(["Rex."])),
                          system_prompt=SystemMessage(content=[{"type": "text", "text": "Be brief."}]),
                          middleware=[middleware])
    await second.ainvoke({"messages": [HumanMessage("What is my dog called?")]},
                         {"callbacks": [capture]}, context={"user_id": "gus"})
    system = capture.system_texts()[0]
    assert system.startswith("Be brief.") and "Known facts:\n- My dog is called Rex." in system
    found = await amemory.search("dog", user_id="gus")
    assert {r["memory"] for r in found["results"]} == {"My dog is called Rex.", "Cool.", "What is my dog called?", "Rex."}


def test_missing_user_id_is_a_scope_error(memory: Any) -> None:
    from memlayer.errors import ScopeError

    agent = create_agent(GenericFakeChatModel(messages=iter(["x"])), middleware=[MemlayerMiddleware(memory)])
    with pytest.raises(ScopeError):
        agent.invoke({"messages": [HumanMessage("hello")]})
