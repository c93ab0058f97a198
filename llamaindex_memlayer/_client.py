"""One way to call a memlayer ``Memory`` or ``AsyncMemory`` from both sync and async LlamaIndex code."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from llama_index.core.async_utils import asyncio_run


class Scope:
    """The memlayer scope an adapter reads and writes: user_id, agent_id, run_id (at least one)."""

    __slots__ = ("agent_id", "run_id", "user_id")

    def __init__(self, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None) -> None:
        from memlayer.messages import make_scope

        make_scope(user_id, agent_id, run_id)  # raises ScopeError early, naming what is missing
        self.user_id, self.agent_id, self.run_id = user_id, agent_id, run_id

    def kwargs(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}


class MemlayerClient:
    """Wraps a memlayer memory; ``a*`` methods are awaitable, the others block.

    A sync ``memlayer.Memory`` runs every call on its own loop thread (async callers hop there with
    ``asyncio.to_thread``); an ``AsyncMemory`` is awaited directly (sync callers use ``asyncio_run``).
    """

    def __init__(self, memory: Any) -> None:
        search = getattr(memory, "search", None)
        if not callable(search) or not callable(getattr(memory, "add", None)):
            raise TypeError(
                f"memory must be a memlayer.Memory or memlayer.AsyncMemory, got {type(memory).__name__}"
            )
        from memlayer.memory import AsyncMemory
        from memlayer.sync import Memory

        self.memory = memory
        if isinstance(memory, (AsyncMemory, Memory)):
            self.is_async = isinstance(memory, AsyncMemory)
        else:  # a duck-typed stand-in: async if its search is a coroutine function
            self.is_async = inspect.iscoroutinefunction(search)

    async def _acall(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.memory, name)
        if self.is_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.memory, name)
        if self.is_async:
            return asyncio_run(method(*args, **kwargs))
        return method(*args, **kwargs)

    async def asearch(self, query: str, scope: Scope, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._acall("search", query, **scope.kwargs(), **options)
        return result

    def search(self, query: str, scope: Scope, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("search", query, **scope.kwargs(), **options)
        return result

    async def aadd(self, messages: list[dict[str, Any]], scope: Scope, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._acall("add", messages, **scope.kwargs(), **options)
        return result

    async def adelete_all(self, scope: Scope) -> dict[str, Any]:
        result: dict[str, Any] = await self._acall("delete_all", **scope.kwargs())
        return result
