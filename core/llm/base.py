"""The LLM protocol: one async chat call that can ask for a pydantic-shaped JSON answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ..types import Usage


@dataclass
class LLMResult:
    content: str
    parsed: BaseModel | None = None
    usage: Usage = field(default_factory=Usage)
    raw: Any = None


@runtime_checkable
class LLM(Protocol):
    """A chat model.

    ``complete`` sends ``messages`` (``[{"role", "content"}]``) and, when ``response_model`` is given,
    returns the answer parsed into it (``LLMResult.parsed``). Implementations retry transient faults
    (rate limits, 5xx, timeouts) a bounded number of times and then raise ``memlayer.errors.LLMError``;
    an answer that cannot be parsed into ``response_model`` also raises ``LLMError``. ``usage`` holds
    the tokens of every attempt that reached the model.

    A provider that holds resources (an HTTP client) may also define ``async aclose()``: memlayer calls
    it when the memory that built the provider from its config closes.
    """

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        response_model: type[BaseModel] | None = None,
    ) -> LLMResult: ...
