"""bulk_add as a restore: a record's ``updated_at`` is kept beside its ``timestamp``, and a text repeated by
several records of one scope in one batch becomes one memory (as across batches)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.errors import MemlayerError


@pytest.fixture
def mem(tmp_path: Path, hash_embedder: object) -> Memory:
    with Memory(str(tmp_path / "s"), embedder=hash_embedder, graph=False) as m:
        yield m


def test_updated_at_is_kept_beside_the_timestamp(mem: Memory) -> None:
    mem.bulk_add([
        {"id": "m1", "text": "User loves ramen", "user_id": "u", "timestamp": "2025-03-01T10:00:00-08:00",
         "updated_at": "2025-04-18T19:02:05-07:00"},
        {"id": "m2", "text": "User likes tea", "user_id": "u", "timestamp": "2025-03-01T10:00:00Z",
         "updated_at": "2025-03-01T10:00:00Z"},
        {"id": "m3", "text": "User owns a bike", "user_id": "u", "timestamp": "2025-05-01T00:00:00Z",
         "updated_at": "2025-04-01T00:00:00Z"},  # kept as given, as an update stated with an earlier time is
    ], progress=False)
    ramen, tea, bike = (mem.get(i) for i in ("m1", "m2", "m3"))
    assert ramen is not None and tea is not None and bike is not None
    assert ramen["created_at"] == ramen["valid_from"] == "2025-03-01T18:00:00+00:00"
    assert ramen["updated_at"] == "2025-04-19T02:02:05+00:00"
    assert tea["updated_at"] == tea["created_at"] == "2025-03-01T10:00:00+00:00"
    assert bike["updated_at"] == "2025-04-01T00:00:00+00:00"
    assert [r["id"] for r in mem.get_all(user_id="u")["results"]] == ["m1", "m3", "m2"]  # latest update first


def test_a_bad_updated_at_names_the_record(mem: Memory) -> None:
    with pytest.raises(MemlayerError, match="record 1: 'soon' is not a time"):
        mem.bulk_add([{"text": "a", "user_id": "u"}, {"text": "b", "user_id": "u", "updated_at": "soon"}],
                     progress=False)
    assert mem.get_all(user_id="u")["results"] == []


def test_a_text_repeated_in_one_batch_is_one_memory(mem: Memory) -> None:
    out = mem.bulk_add([
        {"text": "User likes tea", "user_id": "u"},
        {"id": "unused", "text": "User likes tea", "user_id": "u"},  # a duplicate: skipped, its id unused
        {"text": "User likes tea", "user_id": "v"},  # another scope
        {"text": "User likes tea", "user_id": "u", "metadata": {"source": "crm"}},  # other metadata: another memory
    ], progress=False)
    assert (out["added"], out["duplicates"]) == (3, 1)
    assert len(mem.get_all(user_id="u")["results"]) == 2 and mem.get("unused") is None
    again = mem.bulk_add([{"text": "User likes tea", "user_id": "u"}] * 2, batch_size=1, progress=False)
    assert (again["added"], again["duplicates"]) == (0, 2)
