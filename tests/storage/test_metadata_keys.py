"""Metadata is written as filters can read it, on every backend (see conftest.BACKENDS): a key filters read as
the memory's own column, or an integer no filter can compare exactly, is refused at write (MetadataError,
naming the key and why); every other key, ``speaker`` (an override of the speaker) included, filters as
metadata."""

from __future__ import annotations

from typing import Any

import pytest

from memlayer import AsyncMemory
from memlayer.errors import ConfigError, FilterError, MetadataError

from .conftest import Opener

COLUMNS = ("created_at", "updated_at", "valid_from", "valid_to", "expires_at")
WHEN = "2024-01-01T00:00:00+00:00"


def writes(m: Any, mid: str, metadata: dict[str, Any]) -> list[Any]:
    """Every way metadata reaches the store."""
    return [lambda: m.add("a fact", user_id="u", infer=False, metadata=metadata),
            lambda: m.add([{"role": "user", "content": "a fact", "metadata": metadata}], user_id="u", infer=False),
            lambda: m.update(mid, "a changed fact", metadata=metadata),
            lambda: m.bulk_add([{"text": "a fact", "user_id": "u", "metadata": metadata}], progress=False)]


@pytest.mark.parametrize("key", COLUMNS)
def test_a_key_filters_read_as_a_column_is_refused(memory_on: Any, key: str) -> None:
    mid = memory_on.add("kept", user_id="u", infer=False)["results"][0]["id"]
    for write in writes(memory_on, mid, {"source": "import", key: WHEN}):
        with pytest.raises(MetadataError, match=f"reserved key\\(s\\) \\['{key}'\\]: filters read it as the "
                                                "memory's own time column"):
            write()
    assert [r["memory"] for r in memory_on.get_all(user_id="u")["results"]] == ["kept"]
    assert issubclass(MetadataError, ConfigError) and issubclass(MetadataError, FilterError)  # as before


def test_scope_keys_stay_refused_and_other_keys_filter_as_metadata(memory_on: Any) -> None:
    with pytest.raises(MetadataError, match="reserved key\\(s\\) \\['run_id'\\]: scope is given by"):
        memory_on.add("x", user_id="u", infer=False, metadata={"run_id": "r"})
    meta = {"speaker": "bob", "id": "ext-1", "memory": "note", "Created_At": WHEN}
    mid = memory_on.add([{"role": "user", "name": "alice", "content": "I like tea"}], user_id="u", infer=False,
                        metadata=meta)["results"][0]["id"]
    for key, value in meta.items():
        assert [r["id"] for r in memory_on.get_all(user_id="u", filters={key: value})["results"]] == [mid], key
    assert memory_on.async_memory.store.get(mid).speaker == "bob"  # the documented override of the speaker


def test_integers_are_written_only_as_filters_compare_them(memory_on: Any) -> None:
    mid = memory_on.add("kept", user_id="u", infer=False)["results"][0]["id"]
    for wide, where in ((2**63, "metadata\\['n'\\]"), (-(2**63) - 1, "metadata\\['n'\\]"),
                        ([1, 2**70], "metadata\\['n'\\]\\[1\\]")):  # a list's elements: filters' contains
        for write in writes(memory_on, mid, {"n": wide}):
            with pytest.raises(MetadataError, match=f"{where}: integers must fit in 64 bits"):
                write()
    edges = {"top": 2**63 - 1, "bottom": -(2**63), "big": True, "deep": {"n": 2**70}, "rows": [[2**70]]}
    edge = memory_on.add("edges", user_id="u", infer=False, metadata=edges)["results"][0]["id"]
    assert memory_on.get(edge)["metadata"] == edges  # deeper than filters read: stored exactly, as given
    for key in ("top", "bottom"):
        found = memory_on.get_all(user_id="u", filters={key: edges[key]})["results"]
        assert [r["id"] for r in found] == [edge], key


async def test_the_async_face_refuses_alike(backend: Opener, hash_embedder: Any) -> None:
    m = AsyncMemory(backend.directory, store=backend.url, embedder=hash_embedder, graph=False)
    try:
        with pytest.raises(MetadataError, match="'expires_at'"):
            await m.add("x", user_id="u", infer=False, metadata={"expires_at": WHEN})
        with pytest.raises(MetadataError, match="64 bits"):
            await m.add("x", user_id="u", infer=False, metadata={"n": 2**64})
        assert (await m.get_all(user_id="u"))["results"] == []
    finally:
        await m.close()
