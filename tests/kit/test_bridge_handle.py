"""The kit's bridge and handle: any memory (Memory, AsyncMemory, a stand-in with only the public methods,
sync or async) called from sync and async code, answers read as records."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from memlayer import kit
from memlayer.errors import MemlayerError
from memlayer.kit import MemoryHandle, NotAMemoryError, ops
from memlayer.records import AddAnswer, SearchAnswer


class SyncStandIn:
    """Only the public methods, answering the documented dicts (as the server's Client will)."""

    def __init__(self, memory: Any) -> None:
        self._m = memory
        self.threads: set[str] = set()

    def add(self, messages: Any, **kw: Any) -> dict[str, Any]:
        self.threads.add(threading.current_thread().name)
        return self._m.add(messages, **kw)  # type: ignore[no-any-return]

    def search(self, query: str, **kw: Any) -> dict[str, Any]:
        return self._m.search(query, **kw)  # type: ignore[no-any-return]


class AsyncStandIn:
    def __init__(self, memory: Any) -> None:
        self._m = memory

    async def add(self, messages: Any, **kw: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._m.add, messages, **kw)

    async def search(self, query: str, **kw: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._m.search, query, **kw)



def test_every_kind_of_memory_from_sync_code(memory: Any) -> None:
    scope = kit.scope("u1")
    for target in (memory, SyncStandIn(memory), AsyncStandIn(memory)):
        handle = MemoryHandle(target)
        added = handle.run(ops.add(f"I like tea ({type(target).__name__})", scope, infer=False))
        assert isinstance(added, AddAnswer) and added.results[0].event == "ADD"
        found = handle.run(ops.search("tea", scope, limit=10))
        assert isinstance(found, SearchAnswer) and found.results[0].similarity > 0
    assert len(MemoryHandle(memory).run(ops.get_all(scope))) == 3


async def test_every_kind_of_memory_from_async_code(memory: Any, amemory: Any) -> None:
    scope = kit.scope("u2")
    stand_in = SyncStandIn(memory)
    for target in (memory, stand_in, AsyncStandIn(memory), amemory):
        handle = MemoryHandle(target)
        await handle.arun(ops.add(f"I like jazz ({type(target).__name__})", scope, infer=False))
        found = await handle.arun(ops.search("jazz", scope, limit=10))
        assert found.results
    assert "MainThread" not in stand_in.threads  # a sync memory never blocks the event loop's thread


async def test_async_memory_called_synchronously_inside_a_running_loop(amemory: Any) -> None:
    handle = MemoryHandle(amemory)  # sync calls from a thread that runs a loop: the kit's loop thread serves them
    handle.run(ops.add("I live in Oslo", kit.scope("u3"), infer=False))
    assert [r.memory for r in handle.run(ops.get_all(kit.scope("u3")))] == ["I live in Oslo"]
    assert [r.memory for r in await handle.arun(ops.get_all(kit.scope("u3")))] == ["I live in Oslo"]


def test_not_a_memory_and_missing_methods() -> None:
    with pytest.raises(NotAMemoryError, match="memlayer.Memory") as err:
        MemoryHandle(object())
    assert isinstance(err.value, TypeError) and isinstance(err.value, MemlayerError)

    class OnlySearch:
        def search(self, q: str, **kw: Any) -> dict[str, Any]:
            return {"results": []}

        def add(self, m: Any, **kw: Any) -> dict[str, Any]:
            return {"results": []}

    with pytest.raises(NotAMemoryError, match="get_all"):
        MemoryHandle(OnlySearch()).run(ops.get_all(kit.scope("u")))


def test_the_loop_thread_refuses_to_wait_for_itself() -> None:
    loop = kit.LoopThread("test-loop")
    try:
        async def inner() -> int:
            return 1

        async def outer() -> int:
            return loop.run(inner())  # a blocking call from the loop's own thread would hang forever

        with pytest.raises(MemlayerError, match="async API"):
            loop.run(outer())
        assert loop.run(inner()) == 1
    finally:
        loop.stop()


def test_scope_is_validated_early() -> None:
    from memlayer.errors import ScopeError

    with pytest.raises(ScopeError):
        kit.scope()
    with pytest.raises(ScopeError):
        kit.scope(user_id="")
    assert kit.scope(agent_id="a").as_dict() == {"user_id": None, "agent_id": "a", "run_id": None}


def test_refs_find_the_same_object_in_process() -> None:
    class Thing:
        pass

    thing = Thing()
    token = kit.refs.reference(thing)
    assert kit.refs.reference(thing) == token and kit.refs.resolve(token) is thing
    assert kit.refs.resolve("memlayer-ref:nope") is None and kit.refs.resolve(None) is None
    held = [1, 2]  # not weakly referenceable: held while registered
    assert kit.refs.resolve(kit.refs.reference(held)) is held
