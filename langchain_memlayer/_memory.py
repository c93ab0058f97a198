"""Calling a memlayer ``Memory`` or ``AsyncMemory`` from sync and async LangChain code.

Sync calls on a ``Memory`` go through its own loop thread; async calls use the ``AsyncMemory`` behind
it (``Memory.async_memory``) directly. An ``AsyncMemory`` called synchronously runs on a private event
loop (in a helper thread when the caller is itself inside a running loop).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage

T = TypeVar("T")

# memlayer roles for LangChain message types; other types (tool, function, ...) are not remembered.
ROLES = {"human": "user", "ai": "assistant", "system": "system"}
ALL = 1_000_000_000  # "every row" for get_all, which has no unlimited mode


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="memlayer-langchain") as pool:
        return pool.submit(asyncio.run, coro).result()


class MemoryClient:
    """A memlayer memory with one blocking (``call``) and one awaitable (``acall``) entry point."""

    __slots__ = ("memory", "_async")

    def __init__(self, memory: Any) -> None:
        if not callable(getattr(memory, "search", None)) or not callable(getattr(memory, "add", None)):
            raise TypeError(f"memory must be a memlayer.Memory or memlayer.AsyncMemory, got {type(memory).__name__}")
        self.memory = memory
        if inspect.iscoroutinefunction(memory.search):
            self._async: Any = memory
        else:
            self._async = getattr(memory, "async_memory", None)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method: Callable[..., Any] = getattr(self.memory, name)
        if self._async is self.memory:
            return run_coroutine(method(*args, **kwargs))
        return method(*args, **kwargs)

    async def acall(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._async is None:  # a duck-typed sync memory without an async face
            return await asyncio.to_thread(getattr(self.memory, name), *args, **kwargs)
        return await getattr(self._async, name)(*args, **kwargs)


def scope_kwargs(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str | None]:
    return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}


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
) -> dict[str, str | None]:
    """The scope of one agent run: ``user_id`` as given (a string, or a callable of the runtime), else
    ``runtime.context[context_key]``; ``agent_id``/``run_id`` fixed."""
    uid = user_id(runtime) if callable(user_id) else user_id
    if uid is None and context_key:
        uid = context_value(getattr(runtime, "context", None), context_key)
    return scope_kwargs(uid, agent_id, run_id)


def format_memories(results: Sequence[Mapping[str, Any]], header: str | None = None) -> str:
    """Memory search results as a bullet list (under ``header`` when given); "" for none."""
    lines = [f"- {r['memory']}" for r in results if r.get("memory")]
    if not lines:
        return ""
    return "\n".join([header, *lines] if header else lines)
