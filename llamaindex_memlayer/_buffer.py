"""The short-term buffer of ``MemlayerMemory``: built from LlamaIndex's own keywords, and serialised.

``from_defaults`` keywords go to the buffer LlamaIndex would build for them: a ``ChatMemoryBuffer`` for
``ChatMemoryBuffer.from_defaults``'s (a ``BaseChatStore`` such as ``SimpleChatStore``, ``chat_store_key``,
``llm``), else a ``Memory`` for ``Memory.from_defaults``'s (``token_limit``, ``memory_blocks``, an
``AsyncDBChatStore``...). A keyword neither takes is an error naming it and the close ones.

Serialised, a buffer is its type, its settings and its active messages; a custom chat store is not kept
(the messages come back in the default store) and neither are a ``Memory``'s memory blocks.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.memory import Memory as LlamaMemory
from llama_index.core.memory.types import BaseMemory
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.sql import MessageStatus

from memlayer.kit import ArgumentError


def _params(function: Any) -> set[str]:
    return {n for n, p in inspect.signature(function).parameters.items() if p.kind is not p.VAR_KEYWORD}


MEMORY_OPTIONS = _params(LlamaMemory.from_defaults) - {"session_id", "chat_history"}
BUFFER_OPTIONS = _params(ChatMemoryBuffer.from_defaults) - {"chat_history"}
_MEMORY_SETTINGS = ("token_limit", "token_flush_size", "chat_history_token_ratio", "insert_method")


def statuses(buffer: BaseMemory) -> bool:
    """Whether the buffer keeps message statuses (LlamaIndex's ``Memory``: active and archived)."""
    return isinstance(buffer, LlamaMemory)


def build_buffer(
    session_id: str | None, chat_history: list[ChatMessage] | None, options: dict[str, Any], fields: Iterable[str] = (),
) -> BaseMemory:
    """The buffer ``MemlayerMemory.from_defaults`` builds for ``options`` (consumed; unknown ones raise,
    with the close names among the buffer's options and ``fields``)."""
    store = options.get("chat_store")
    classic = isinstance(store, BaseChatStore) or "chat_store_key" in options or "llm" in options
    allowed = BUFFER_OPTIONS if classic else MEMORY_OPTIONS
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = sorted(MEMORY_OPTIONS | BUFFER_OPTIONS | set(fields))
        hints = {u: difflib.get_close_matches(u, known, n=1) for u in unknown}
        said = ", ".join(f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items())
        raise ArgumentError(f"MemlayerMemory.from_defaults() got unexpected keyword argument(s) {said}")
    if classic:
        key = options.pop("chat_store_key", None) or session_id
        given: dict[str, Any] = {**options, **({"chat_store_key": key} if key else {})}
        return ChatMemoryBuffer.from_defaults(chat_history=chat_history, **given)
    return LlamaMemory.from_defaults(session_id=session_id, chat_history=chat_history, **options)


def buffer_to_dict(buffer: BaseMemory) -> dict[str, Any]:
    if isinstance(buffer, LlamaMemory):
        messages = buffer.get_all(status=MessageStatus.ACTIVE)
        settings = {k: getattr(buffer, k) for k in _MEMORY_SETTINGS}
        settings["insert_method"] = getattr(settings["insert_method"], "value", settings["insert_method"])
        return {"type": "Memory", "session_id": buffer.session_id, **settings,
                "messages": [m.model_dump(mode="json") for m in messages]}
    if isinstance(buffer, ChatMemoryBuffer):
        return {"type": "ChatMemoryBuffer", "chat_store_key": buffer.chat_store_key, "token_limit": buffer.token_limit,
                "messages": [m.model_dump(mode="json") for m in buffer.get_all()]}
    raise ArgumentError(f"MemlayerMemory serialises a LlamaIndex Memory or ChatMemoryBuffer buffer, "
                        f"not {type(buffer).__name__}; pass the buffer again to from_dict(short_term=...)")


def buffer_from_dict(data: dict[str, Any]) -> BaseMemory:
    data = dict(data)
    kind = data.pop("type", None)
    messages = [ChatMessage.model_validate(m) for m in data.pop("messages", [])]
    if kind == "Memory":
        return LlamaMemory.from_defaults(chat_history=messages, **data)
    if kind == "ChatMemoryBuffer":
        return ChatMemoryBuffer.from_defaults(chat_history=messages, **data)
    raise ArgumentError(f"cannot rebuild a chat buffer of type {kind!r}; expected 'Memory' or 'ChatMemoryBuffer'")
