"""Per-item locks of one ``MemlayerStore``: its puts of one (namespace, key) run one at a time.

A put reads the item, then updates it or adds it; two puts of a new item that overlap would both add it.
Under these locks the second put finds the first one's row and updates it, and puts apply in the order
they came (``asyncio.Lock`` is first come, first served), as in ``InMemoryStore``. ``batch`` callers share
thread locks, ``abatch`` callers asyncio locks of their event loop. Puts that no lock orders (another store
object, another process, a ``batch`` racing an ``abatch``) may still add a row each: ``MemlayerStore._put``
then keeps the newest and reads show one item per key whatever the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Hashable, Iterator
from typing import Any


class _Held:
    __slots__ = ("lock", "users")

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.users = 0


class ItemLocks:
    """A lock per key while someone holds or waits for it (so the table stays as small as the puts in flight)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._threads: dict[Hashable, _Held] = {}
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Held]] = (
            weakref.WeakKeyDictionary())

    def _enter(self, table: dict[Hashable, _Held], key: Hashable, make: Any) -> _Held:
        with self._guard:
            held = table.get(key)
            if held is None:
                held = table[key] = _Held(make())
            held.users += 1
            return held

    def _leave(self, table: dict[Hashable, _Held], key: Hashable, held: _Held) -> None:
        with self._guard:
            held.users -= 1
            if not held.users:
                del table[key]

    @contextlib.contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        held = self._enter(self._threads, key, threading.Lock)
        try:
            with held.lock:
                yield
        finally:
            self._leave(self._threads, key, held)

    @contextlib.asynccontextmanager
    async def ahold(self, key: Hashable) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._guard:
            table = self._loops.setdefault(loop, {})
        held = self._enter(table, key, asyncio.Lock)
        try:
            async with held.lock:
                yield
        finally:
            self._leave(table, key, held)
