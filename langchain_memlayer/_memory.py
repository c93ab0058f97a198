"""Type conversions between LangChain and memlayer; the calling and formatting live in ``memlayer.kit``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from memlayer.kit import MemoryHandle, Scope, scope

# memlayer roles for LangChain message types; other types (tool, function, ...) are not remembered.
ROLES = {"human": "user", "ai": "assistant", "system": "system"}

__all__ = [
    "ROLES", "MemoryHandle", "Scope", "and_filters", "context_value", "message_text", "resolve_scope",
    "to_memlayer_messages",
]


def and_filters(*filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """memlayer filters ANDed together (None when there are none)."""
    given = [dict(f) for f in filters if f]
    if not given:
        return None
    return given[0] if len(given) == 1 else {"AND": given}


def message_text(message: BaseMessage) -> str:
    return str(message.text).strip()


def to_memlayer_messages(
    messages: Sequence[BaseMessage], types: Sequence[str] = ("human", "ai", "system")
) -> list[dict[str, str]]:
    """Messages of the given LangChain ``types`` that have text, as memlayer ``{"role", "content"}`` dicts."""
    out = []
    for m in messages:
        role, text = ROLES.get(m.type), message_text(m)
        if role and text and m.type in types:
            out.append({"role": role, "content": text})
    return out


def context_value(context: Any, key: str) -> Any:
    """``key`` of a runtime context that is a mapping, a dataclass or any object with attributes."""
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(key)
    return getattr(context, key, None)


def resolve_scope(
    user_id: str | Callable[[Any], str | None] | None, agent_id: str | None, run_id: str | None,
    context_key: str | None, runtime: Any,
) -> Scope:
    """The scope of one agent run: ``user_id`` as given (a string, or a callable of the runtime), else
    ``runtime.context[context_key]``; ``agent_id``/``run_id`` fixed. A ScopeError when none is known."""
    uid = user_id(runtime) if callable(user_id) else user_id
    if uid is None and context_key:
        uid = context_value(getattr(runtime, "context", None), context_key)
    return scope(uid, agent_id, run_id)
