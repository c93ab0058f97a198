"""The sync face and the async core behave the same (one implementation, two faces)."""

from __future__ import annotations

import inspect

from memlayer import AsyncMemory, Memory
from memlayer.embeddings.hashing import HashingEmbedder

SCRIPT = [
    ("add", (["I like tea", "I live in Oslo"],), {"user_id": "u", "infer": False, "metadata": {"k": 1}}),
    ("add", ("I like tea",), {"user_id": "u", "infer": False, "metadata": {"k": 1}}),
    ("add", ("other user fact",), {"user_id": "v", "infer": False}),
    ("search", ("tea",), {"user_id": "u", "limit": 5}),
    ("get_all", (), {"user_id": "u", "filters": {"k": 1}}),
    ("search", ("fact",), {"user_id": "v", "max_tokens": 50}),
]

VOLATILE = {"id", "created_at", "updated_at", "valid_from", "valid_to", "memory_id"}


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def test_same_signatures():
    for name in ("add", "search", "get", "get_all", "update", "delete", "delete_all", "history", "reset",
                 "scopes"):
        assert inspect.signature(getattr(Memory, name)) == inspect.signature(getattr(AsyncMemory, name)), name


async def test_same_results(tmp_path):
    sync_out, async_out = [], []
    m = Memory(str(tmp_path / "sync"), embedder=HashingEmbedder(dims=32), graph=False)
    try:
        for name, args, kwargs in SCRIPT:
            sync_out.append(getattr(m, name)(*args, **kwargs))
    finally:
        m.close()
    am = AsyncMemory(str(tmp_path / "async"), embedder=HashingEmbedder(dims=32), graph=False)
    try:
        for name, args, kwargs in SCRIPT:
            async_out.append(await getattr(am, name)(*args, **kwargs))
    finally:
        await am.close()
    assert _clean(sync_out) == _clean(async_out)


async def test_sync_face_works_inside_a_running_loop(tmp_path):
    # e.g. a notebook: the sync API must not need the caller's loop
    with Memory(str(tmp_path), embedder=HashingEmbedder(dims=16), graph=False) as m:
        m.add("inside a loop", user_id="u", infer=False)
        assert m.search("loop", user_id="u")["results"][0]["memory"] == "inside a loop"


def test_async_core_usable_from_another_loop_while_sync_face_runs(tmp_path):
    import asyncio
    import threading

    with Memory(str(tmp_path), embedder=HashingEmbedder(dims=16), graph=False) as m:
        errors: list[BaseException] = []

        def sync_writer():
            try:
                for i in range(20):
                    m.add(f"sync {i}", user_id="u", infer=False)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        async def async_writer():
            for i in range(20):
                await m.async_memory.add(f"async {i}", user_id="u", infer=False)

        t = threading.Thread(target=sync_writer)
        t.start()
        asyncio.run(async_writer())
        t.join()
        assert not errors
        assert len(m.get_all(user_id="u")["results"]) == 40


def test_wrong_arguments_are_reported_in_the_callers_terms(memory):
    import pytest

    with pytest.raises(TypeError, match=r"^Memory\.search\(\) got an unexpected keyword argument 'top_k'; did you mean limit=\?"):
        memory.search("x", user_id="u", top_k=3)
    with pytest.raises(TypeError, match=r"^Memory\.add\(\) missing 1 required positional argument"):
        memory.add(user_id="u")
