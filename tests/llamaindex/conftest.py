"""Fixtures for the LlamaIndex adapter tests: memlayer stores (graph off) and a recording mock LLM."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms.mock import MockFunctionCallingLLM


class RecordingLLM(MockFunctionCallingLLM):
    """Function-calling mock that records every message list and prompt it is sent.

    Replies ``reply``; with ``call_tools`` it first calls the first tool offered, then replies.
    """

    calls: list[list[ChatMessage]] = Field(default_factory=list, exclude=True)
    prompts: list[str] = Field(default_factory=list, exclude=True)
    reply: str = "Noted."
    call_tools: bool = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(is_chat_model=True, **kwargs)
        self.response_generator = self._respond

    def _respond(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.calls.append([m.model_copy(deep=True) for m in messages])
        tools = kwargs.get("tools") or []
        if self.call_tools and tools and not any(m.role == MessageRole.TOOL for m in messages):
            call = ToolCallBlock(tool_call_id="call-1", tool_name=tools[0].metadata.name, tool_kwargs={})
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])
        return ChatMessage(role=MessageRole.ASSISTANT, content=self.reply)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text=self.reply)

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.complete(prompt, formatted, **kwargs)

    def seen(self) -> str:
        """Everything the LLM was sent, as one string."""
        texts = [str(m.content or "") for call in self.calls for m in call]
        return "\n".join(texts + self.prompts)


@pytest.fixture
def llm() -> RecordingLLM:
    return RecordingLLM()


@pytest.fixture
def store(memory) -> Any:
    """A sync memlayer Memory (the shared ``memory`` fixture: hash embedder, no graph)."""
    return memory


@pytest.fixture
def astore(amemory) -> Any:
    return amemory


@pytest.fixture
def texts() -> Any:
    """texts(store, user_id=...) -> every current memory text of that scope (sync store)."""

    def read(store: Any, **scope: str) -> list[str]:
        return [r["memory"] for r in store.get_all(**scope)["results"]]

    return read


@pytest.fixture(autouse=True)
def _collect_chat_stores() -> Iterator[None]:
    """Collect each test's LlamaIndex chat stores (aiosqlite) while their event loop still exists."""
    yield
    gc.collect()
