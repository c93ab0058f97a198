"""The extractor protocol: one call per add() yields every decision and relation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..types import ExistingMemory, Extraction, Message, Scope

# lookup(texts, attributes) -> current memories of the add's scope related to any of ``texts``
# (vector search), plus every current memory whose attribute is in ``attributes``. Each result
# carries a small integer ``ref``; refs are stable across calls within one add().
RelatedLookup = Callable[[list[str], "set[str] | None"], Awaitable[list[ExistingMemory]]]


@dataclass(frozen=True)
class ExtractContext:
    scope: Scope
    now: datetime
    # True when the memories are about the agent (only agent_id given), not about a user.
    agent_facts: bool = False
    # The time the conversation happened, when the caller gave one (add(timestamp=...)).
    conversation_time: datetime | None = None


@runtime_checkable
class Extractor(Protocol):
    """Reads messages and decides what to remember.

    An extractor returns decisions whose ``target`` is the ``ref`` of an ExistingMemory it got from
    ``lookup``. A target that does not match a ref is ignored by the core (and logged), never a crash.
    """

    async def extract(
        self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext
    ) -> Extraction: ...
