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


class _ThreadNoting(HashingEmbedder):
    """Notes the thread of every embedding (a search embeds its query where its ranking runs)."""

    def __init__(self) -> None:
        super().__init__(dims=16)
        self.threads: list[str] = []

    def embed(self, texts):
        import threading

        self.threads.append(threading.current_thread().name)
        return super().embed(texts)


def test_sync_search_runs_on_the_callers_thread_and_async_search_off_the_loop(tmp_path):
    import asyncio
    import threading

    emb = _ThreadNoting()
    with Memory(str(tmp_path), embedder=emb, graph=False) as m:
        m.add("tea in Oslo", user_id="u", infer=False)
        emb.threads.clear()
        assert m.search("tea", user_id="u")["results"]  # no hand-off to the loop thread and back
        assert emb.threads == [threading.current_thread().name]

        async def from_the_loop() -> str:
            emb.threads.clear()
            assert (await m.async_memory.search("tea", user_id="u"))["results"]
            return threading.current_thread().name

        loop_thread = asyncio.run(from_the_loop())
        assert len(emb.threads) == 1 and emb.threads[0] != loop_thread  # the event loop never ranks


def test_an_error_inside_a_sync_search_is_not_taken_for_wrong_arguments(tmp_path):
    import pytest

    class Broken(HashingEmbedder):
        def embed(self, texts):
            raise TypeError("embed() got an unexpected keyword argument 'top_k'")

    with Memory(str(tmp_path), embedder=HashingEmbedder(dims=16), graph=False) as m:
        m.add("tea", user_id="u", infer=False)
        m.async_memory.engine.embedder = Broken(dims=16)
        with pytest.raises(TypeError, match=r"^embed\(\) got an unexpected keyword argument 'top_k'$"):
            m.search("tea", user_id="u")
