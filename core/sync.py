"""Memory: the synchronous face of AsyncMemory.

Every method runs the async core's coroutine on one private event loop in a background thread, so
the sync API works the same inside notebooks and other running loops; a method of the core marked
``@blocking`` (all of its work is blocking, e.g. search) runs on the caller's thread instead. Nothing is
implemented twice: each sync method is generated from its async twin.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, ParamSpec, Self, TypeVar

from .config import MemoryConfig
from .errors import MemlayerError
from .kit.bridge import LoopThread, blocking_body
from .memory import AsyncMemory

P = ParamSpec("P")
R = TypeVar("R")


_HINTS = {"top_k": "limit", "k": "limit", "filter": "filters", "memory": "messages", "data": "messages"}


def _sync(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[..., R]:
    name = method.__name__
    body = blocking_body(method)  # a @blocking method runs on the caller's thread: no loop round trip

    @functools.wraps(method)
    def wrapper(self: SyncFace, *args: Any, **kwargs: Any) -> R:
        if self._closed:
            raise MemlayerError("this memory is closed; create a new Memory to keep working")
        if body is not None:
            try:
                return body(self._async, *args, **kwargs)  # type: ignore[no-any-return]
            except TypeError as exc:
                if exc.__traceback__ is not None and exc.__traceback__.tb_next is None:  # raised binding the call
                    _bad_call(exc, name)
                raise
        try:
            coro = getattr(self._async, name)(*args, **kwargs)  # only binds the arguments; nothing runs yet
        except TypeError as exc:
            _bad_call(exc, name)
        return self._runner.run(coro)  # type: ignore[no-any-return]

    return wrapper


def _bad_call(exc: TypeError, name: str) -> NoReturn:
    """The arguments did not fit: say it in the caller's terms (they called Memory, not AsyncMemory)."""
    message = str(exc).replace(f"AsyncMemory.{name}()", f"Memory.{name}()")
    hint = next((f"; did you mean {v}=?" for k, v in _HINTS.items() if f"argument '{k}'" in message), "")
    raise TypeError(message + hint) from None


class SyncFace:
    """What a synchronous face over an async object shares: the loop thread it runs on (``_runner``), the
    async object (``_async``, whose ``close()`` is awaited once), and use as a context manager."""

    _runner: LoopThread
    _async: Any
    _closed: bool

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._async.close())
        finally:
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Memory(SyncFace):
    """Long-term memory for agents (synchronous API). See AsyncMemory for every method's contract."""

    def __init__(
        self, path: str | None = None, *, embedder: Any = None, llm: Any = None,
        config: MemoryConfig | dict[str, Any] | None = None, **options: Any,
    ) -> None:
        self._closed = False
        self._runner = LoopThread()
        try:
            self._async = AsyncMemory(path, embedder=embedder, llm=llm, config=config, **options)
        except BaseException:
            self._runner.stop()
            raise

    @classmethod
    def from_config(cls, config: MemoryConfig | dict[str, Any]) -> Memory:
        return cls(config=config)

    add = _sync(AsyncMemory.add)
    bulk_add = _sync(AsyncMemory.bulk_add)
    search = _sync(AsyncMemory.search)
    get = _sync(AsyncMemory.get)
    get_all = _sync(AsyncMemory.get_all)
    update = _sync(AsyncMemory.update)
    delete = _sync(AsyncMemory.delete)
    delete_all = _sync(AsyncMemory.delete_all)
    history = _sync(AsyncMemory.history)
    scopes = _sync(AsyncMemory.scopes)
    reset = _sync(AsyncMemory.reset)
    health = _sync(AsyncMemory.health)
    refresh = _sync(AsyncMemory.refresh)
    set_retention = _sync(AsyncMemory.set_retention)
    get_retention = _sync(AsyncMemory.get_retention)
    sweep = _sync(AsyncMemory.sweep)

    @property
    def async_memory(self) -> AsyncMemory:
        """The async core behind this face (shares its store)."""
        return self._async

    @property
    def graph(self) -> Any:
        return self._async.graph

    @property
    def usage(self) -> Any:
        return self._async.usage

    @property
    def config(self) -> MemoryConfig:
        return self._async.config

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncMemory", "Memory", 1)
