"""FunctionAgent and AgentWorkflow with MemlayerMemory: recall reaches the LLM, turns are recorded once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.base.llms.types import MessageRole
from llama_index.core.tools import FunctionTool

from llamaindex_memlayer import MemlayerMemory

FACT = "I live in Paris"
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")  # from workflows


def weather() -> str:
    """Today's weather at the user's home."""
    return "sunny and warm"


def _recall_messages(llm) -> list[str]:
    return [m.content or "" for call in llm.calls for m in call if m.role == MessageRole.SYSTEM and FACT in (m.content or "")]


async def test_function_agent_recalls_and_records_turn_once(store, llm, texts, monkeypatch):
    store.add(FACT, user_id="alice", infer=False)
    llm.call_tools = True
    adds: list = []
    real_add = store.add
    monkeypatch.setattr(store, "add", lambda *a, **kw: adds.append(a[0]) or real_add(*a, **kw))
    memory = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s1", infer=False)
    agent = FunctionAgent(llm=llm, tools=[FunctionTool.from_defaults(weather)], system_prompt="Be brief.")

    result = await agent.run(user_msg="What's the weather where I live?", memory=memory)

    assert str(result) == "Noted."
    assert len(llm.calls) == 2  # tool call, then the final answer
    assert all(any(FACT in (m.content or "") for m in call) for call in llm.calls)
    assert len(_recall_messages(llm)) == 2  # one recall message per LLM call, never duplicated
    assert adds == [[{"role": "user", "content": "What's the weather where I live?"},
                     {"role": "assistant", "content": "Noted."}]]
    assert "sunny and warm" not in texts(store, user_id="alice")
    roles = [m.role for m in await memory.aget_all()]
    assert roles == [MessageRole.USER, MessageRole.ASSISTANT, MessageRole.TOOL, MessageRole.ASSISTANT]


async def test_agent_workflow_new_session_recall_never_other_user(store, llm):
    def workflow() -> AgentWorkflow:
        agent = FunctionAgent(name="helper", description="Helps the user.", llm=llm, system_prompt="Be brief.")
        return AgentWorkflow(agents=[agent], root_agent="helper")

    first = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s1", infer=False)
    await workflow().run(user_msg=FACT, memory=first)

    second = MemlayerMemory.from_defaults(memory=store, user_id="alice", session_id="s2", infer=False)
    await workflow().run(user_msg="Where do I live?", memory=second)
    sent = llm.calls[-1]
    assert [m.role for m in sent][:2] == [MessageRole.SYSTEM, MessageRole.SYSTEM]  # agent prompt, then recall
    assert FACT in sent[1].content and len(_recall_messages(llm)) == 1

    bob = MemlayerMemory.from_defaults(memory=store, user_id="bob", session_id="s3", infer=False)
    await workflow().run(user_msg="Where do I live?", memory=bob)
    assert "Paris" not in "\n".join(m.content or "" for m in llm.calls[-1])


def test_missing_llama_index_names_the_extra():
    code = "import sys; sys.modules['llama_index'] = None; sys.modules['llama_index.core'] = None; import llamaindex_memlayer"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode != 0
    assert 'pip install "memlayer[llamaindex]"' in proc.stderr
