"""One handle on any memlayer memory, for the adapters: sync ``run``/``call``, async ``arun``/``acall``.

It accepts a ``memlayer.Memory``, a ``memlayer.AsyncMemory``, the server's ``Client``/``AsyncClient``, or
any object with their methods (``search``, ``add``, ``get_all``, ...), each either a plain method or a
coroutine function. Calls are routed so nothing blocks an event loop and nothing needs a second loop:

* a coroutine method called synchronously runs on the shared loop thread (``bridge.run_sync``);
* a plain method called asynchronously runs in a worker thread (``asyncio.to_thread``); for a
  ``memlayer.Memory`` that thread waits on the Memory's own loop, so sync and async callers of one Memory
  are serialised by the same per-scope locks.

``ops`` builds the typed operations (``ops.search(...)`` answers a ``SearchAnswer``), so an adapter
writes each operation once and runs it with ``run`` or ``await arun``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import MemlayerError
from .bridge import run_sync

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
REQUIRED = ("search", "add")


class NotAMemoryError(MemlayerError, TypeError):
    """An adapter was given something that is not a memlayer memory (or a client with its methods)."""


class ArgumentError(MemlayerError, TypeError):
    """An adapter was called with an argument it does not take (the message names it and the close ones)."""


@dataclass(frozen=True, slots=True)
class Op(Generic[T_co]):
    """One call of a memory method, and how to read its answer."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    read: Callable[[Any], T_co] = field(default=lambda answer: answer)  # type: ignore[assignment,return-value]


class MemoryHandle:
    """A memlayer memory (or a client with the same methods) with one blocking and one awaitable door."""

    __slots__ = ("memory",)

    def __init__(self, memory: Any) -> None:
        if isinstance(memory, MemoryHandle):
            memory = memory.memory
        missing = [name for name in REQUIRED if not callable(getattr(memory, name, None))]
        if missing:
            raise NotAMemoryError(
                f"expected a memlayer.Memory, memlayer.AsyncMemory or a memlayer client, got "
                f"{type(memory).__name__} (it has no {' or '.join(missing)} method)"
            )
        self.memory: Any = memory

    def _method(self, name: str) -> Callable[..., Any]:
        method = getattr(self.memory, name, None)
        if not callable(method):
            raise NotAMemoryError(f"{type(self.memory).__name__} has no {name}() method, which this adapter needs")
        return method  # type: ignore[no-any-return]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the memory's method ``name`` and wait for its answer (from sync code, any thread)."""
        answer = self._method(name)(*args, **kwargs)
        if inspect.isawaitable(answer):
            return run_sync(_awaited(answer))
        return answer

    async def acall(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Await the memory's method ``name`` without blocking the running event loop."""
        method = self._method(name)
        if inspect.iscoroutinefunction(method):
            return await method(*args, **kwargs)
        answer = await asyncio.to_thread(method, *args, **kwargs)
        return await answer if inspect.isawaitable(answer) else answer

    @property
    def embedder(self) -> Any:
        """The memory's embedder when it is local (Memory, AsyncMemory); None for a remote client."""
        core = getattr(self.memory, "async_memory", self.memory)
        return getattr(core, "embedder", None)

    def run(self, op: Op[T]) -> T:
        return op.read(self.call(op.name, *op.args, **op.kwargs))

    async def arun(self, op: Op[T]) -> T:
        return op.read(await self.acall(op.name, *op.args, **op.kwargs))

    def __repr__(self) -> str:
        return f"MemoryHandle({self.memory!r})"


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
