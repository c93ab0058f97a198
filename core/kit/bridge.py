"""The one sync-over-async bridge: a private event loop running in a daemon thread.

``memlayer.Memory`` owns one (its async core runs there); the adapters share one more, process-wide, to
run an ``AsyncMemory`` (or any async client) from synchronous framework code. Running on a loop thread
rather than ``asyncio.run`` per call means sync calls work inside notebooks and other running loops, and
an object whose state is bound to a loop (locks, connection pools) always sees the same loop.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..errors import MemlayerError

R = TypeVar("R")
S = TypeVar("S")
P = ParamSpec("P")
BLOCKING = "__memlayer_blocking__"  # the attribute holding a @blocking method's plain function


class LoopThread:
    """An event loop in a daemon thread: ``run`` blocks on a coroutine there from any other thread."""

    def __init__(self, name: str = "memlayer-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def _submit(self, coro: Coroutine[Any, Any, R]) -> Future[R]:
        if threading.current_thread() is self._thread:
            coro.close()
            raise MemlayerError(
                "a blocking memlayer call was made from inside memlayer's own event loop (it would wait for "
                "itself forever); from async code use the async API (AsyncMemory, or the adapter's a* methods)"
            )
        if self.loop.is_closed():
            coro.close()
            raise MemlayerError("this memlayer event loop is stopped; create a new Memory to keep working")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run ``coro`` on the loop thread and wait for its result (from any thread but that one)."""
        return self._submit(coro).result()

    @property
    def running(self) -> bool:
        return self.loop.is_running()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


def blocking(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """An async method whose body is blocking work from start to end (store reads, ranking, an embedding:
    nothing it does awaits). Awaited, it runs on a worker thread, so the event loop never waits on it; a
    synchronous face (``blocking_body``) calls the plain function on the caller's own thread instead of a
    round trip through its loop thread and a worker (two thread hand-offs each way, each about as long as a
    small search)."""

    @functools.wraps(fn)
    async def method(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(fn, self, *args, **kwargs)

    setattr(method, BLOCKING, fn)
    return method


def blocking_body(method: Callable[..., Any]) -> Callable[..., Any] | None:
    """The plain function of a ``@blocking`` async method (None for any other method)."""
    return getattr(method, BLOCKING, None)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop() -> LoopThread:
    """The process-wide loop thread the adapters use for async memories called synchronously."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LoopThread("memlayer-adapters")
        return _shared


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run ``coro`` to completion from synchronous code (also when this thread already runs a loop)."""
    return shared_loop().run(coro)
