"""Fakes for extractor tests: a lookup that behaves like the core's, and a scripted LLM."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from memlayer.extract.base import ExtractContext
from memlayer.llm.base import LLMResult
from memlayer.types import ExistingMemory, Message, Scope, Usage

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=timezone.utc)  # a Friday


def ctx(now: datetime = NOW, *, agent: bool = False, when: datetime | None = None) -> ExtractContext:
    scope = Scope(agent_id="a") if agent else Scope(user_id="u")
    return ExtractContext(scope=scope, now=now, agent_facts=agent, conversation_time=when)


def user(*texts: str) -> list[Message]:
    return [Message("user", t) for t in texts]


def memories(*rows: tuple[str, str | None]) -> list[ExistingMemory]:
    """ExistingMemory rows with refs 0.. and raw ids that must never reach a prompt."""
    return [
        ExistingMemory(ref=i, id=f"raw-id-{i:04d}-deadbeef", text=text, attribute=attr)
        for i, (text, attr) in enumerate(rows)
    ]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 3 and w != "user"}


class FakeLookup:
    """Like the core: memories sharing a content word with the texts (a stand-in for vector search)
    plus every memory whose attribute is asked for. Records each call."""

    def __init__(self, stored: list[ExistingMemory], related_all: bool = False) -> None:
        self.stored = stored
        self.related_all = related_all
        self.calls: list[tuple[list[str], set[str] | None]] = []

    async def __call__(self, texts: list[str], attributes: set[str] | None) -> list[ExistingMemory]:
        self.calls.append((list(texts), None if attributes is None else set(attributes)))
        wanted = _words(" ".join(texts))
        return [
            m
            for m in self.stored
            if self.related_all or (attributes and m.attribute in attributes) or _words(m.text) & wanted
        ]


class FakeLLM:
    """Returns scripted answers (a pydantic model, a dict, or raw text) and records every call."""

    def __init__(self, *answers: Any, usage: Usage | None = None, error: Exception | None = None) -> None:
        self.answers = list(answers)
        self.usage = usage or Usage(llm_calls=1, prompt_tokens=100, completion_tokens=20)
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def complete(
        self, messages: list[dict[str, str]], *, response_model: type[BaseModel] | None = None
    ) -> LLMResult:
        self.calls.append({"messages": messages, "response_model": response_model})
        if self.error is not None:
            raise self.error
        answer = self.answers.pop(0) if self.answers else {"facts": [], "relations": []}
        if isinstance(answer, str):
            return LLMResult(content=answer, parsed=None, usage=self.usage)
        if isinstance(answer, dict):
            assert response_model is not None
            answer = response_model.model_validate(answer)
        return LLMResult(content=answer.model_dump_json(), parsed=answer, usage=self.usage)
