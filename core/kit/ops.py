"""The memory operations the adapters use, typed: each builds an ``Op`` whose answer is a record.

Answers are read with ``memlayer.records`` (``SearchAnswer.from_dict`` ...), never by string keys, so a
``Memory``, an ``AsyncMemory`` and the server's client (which answer the same documented dicts) are read
alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import AddAnswer, MemoryRecord, SearchAnswer
from ..types import Scope
from .handle import Op

ALL = 1_000_000_000  # "every row" for get_all, which has no unlimited mode


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def search(query: str, scope: Scope, **options: Any) -> Op[SearchAnswer]:
    """``search(query, scope..., **options)``; options that are None are left out (the memory's default)."""
    return Op("search", (query,), {**scope.as_dict(), **_options(options)}, SearchAnswer.from_dict)


def add(messages: Any, scope: Scope, **options: Any) -> Op[AddAnswer]:
    return Op("add", (messages,), {**scope.as_dict(), **_options(options)}, AddAnswer.from_dict)


def _records(answer: Mapping[str, Any]) -> list[MemoryRecord]:
    return [MemoryRecord.from_dict(r) for r in answer.get("results") or []]


def get_all(scope: Scope, *, limit: int = ALL, **options: Any) -> Op[list[MemoryRecord]]:
    return Op("get_all", (), {**scope.as_dict(), "limit": limit, **_options(options)}, _records)


def update(memory_id: str, text: str, metadata: Mapping[str, Any] | None = None, **lifetime: Any) -> Op[None]:
    """``update(memory_id, text, metadata)``; ``lifetime``: ``expires_at=`` or ``ttl=`` (None: left out)."""
    kwargs = {**({} if metadata is None else {"metadata": dict(metadata)}), **_options(lifetime)}
    return Op("update", (memory_id, text), kwargs, lambda _: None)


def refresh(memory_ids: Sequence[str], *, ttl: Any = None) -> Op[None]:
    """``refresh(ids)``: memories that expire are kept alive for their TTL (or ``ttl``) from now."""
    return Op("refresh", (list(memory_ids),), _options({"ttl": ttl}), lambda _: None)


def sweep(scope: Scope, **options: Any) -> Op[int]:
    """``sweep(scope..., filters=, grace_period=)``; answers how many memories were forgotten."""
    return Op("sweep", (), {**scope.as_dict(), **_options(options)},
              lambda answer: int((answer or {}).get("forgotten") or 0))


def delete(memory_id: str) -> Op[None]:
    return Op("delete", (memory_id,), {}, lambda _: None)


def delete_all(scope: Scope) -> Op[int]:
    return Op("delete_all", (), scope.as_dict(), lambda answer: int((answer or {}).get("deleted") or 0))
