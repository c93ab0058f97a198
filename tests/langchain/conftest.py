"""Fixtures for the LangChain adapter tests: a callback that records what fake models were sent."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage


class PromptCapture(BaseCallbackHandler):
    """Records every prompt a chat model or LLM is called with."""

    def __init__(self) -> None:
        self.chat_calls: list[list[BaseMessage]] = []
        self.llm_prompts: list[str] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.chat_calls.extend(messages)

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.llm_prompts.extend(prompts)

    def system_texts(self) -> list[str]:
        """The system message text of each chat model call ("" when it had none)."""
        return [next((str(m.text) for m in call if m.type == "system"), "") for call in self.chat_calls]


@pytest.fixture
def capture() -> PromptCapture:
    """A callback handler to pass in ``{"callbacks": [capture]}``."""
    return PromptCapture()
