"""bulk_add's optional ``id``: the memory gets that id; an id already taken (in the store or earlier in the
same import) is refused with a ConflictError before the batch writes anything."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.errors import ConflictError, MemlayerError


@pytest.fixture
def mem(tmp_path: Path, hash_embedder: object) -> Memory:
    with Memory(str(tmp_path / "s"), embedder=hash_embedder, graph=False) as m:
        yield m


def test_records_with_ids_keep_them(mem: Memory) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    out = mem.bulk_add([
        {"id": ids[0], "text": "User likes tea", "user_id": "u", "timestamp": "2024-05-01T08:00:00Z"},
        {"id": ids[1], "messages": [{"role": "assistant", "content": "Agent speaks French"}], "agent_id": "a"},
        {"id": ids[2], "text": "User lives in Oslo", "user_id": "u", "metadata": {"source": "crm"}},
        {"text": "no id here", "user_id": "u"},
    ], progress=False)
    assert out["added"] == 4
    tea = mem.get(ids[0])
    assert tea is not None and tea["memory"] == "User likes tea" and tea["created_at"].startswith("2024-05-01T08:00")
    assert mem.get(ids[1])["agent_id"] == "a"  # type: ignore[index]
    assert mem.get(ids[2])["metadata"] == {"source": "crm"}  # type: ignore[index]
    assert [h["event"] for h in mem.history(ids[2])] == ["ADD"]
    assert mem.search("tea", user_id="u", limit=1)["results"][0]["id"] == ids[0]  # the vector index has it too


def test_an_id_the_store_has_is_refused_before_the_batch_writes(mem: Memory) -> None:
    first = mem.add("User likes tea", user_id="u", infer=False)["results"][0]["id"]
    mem.update(first, "User likes green tea")
    with pytest.raises(ConflictError, match=first) as caught:
        mem.bulk_add([{"text": "fresh", "user_id": "u"}, {"id": first, "text": "other", "user_id": "v"}],
                     progress=False)
    assert "nothing of this batch was written" in str(caught.value)
    assert [r["memory"] for r in mem.get_all(user_id="u")["results"]] == ["User likes green tea"]
    assert mem.get_all(user_id="v")["results"] == []
    closed = mem.add("I live in Rome", user_id="w")["results"][0]["id"]
    mem.add("I moved to Oslo", user_id="w")  # closes Rome: a superseded memory's id is taken too
    with pytest.raises(ConflictError, match=closed):
        mem.bulk_add([{"id": closed, "text": "x", "user_id": "w"}], progress=False)


def test_an_id_named_twice_in_one_import_is_refused(mem: Memory) -> None:
    same = str(uuid.uuid4())
    with pytest.raises(ConflictError, match="more than one record"):
        mem.bulk_add([{"id": same, "text": "a", "user_id": "u"}, {"id": same, "text": "b", "user_id": "u"}],
                     progress=False)
    assert mem.get_all(user_id="u")["results"] == []
    with pytest.raises(ConflictError, match="more than one record"):  # across batches: the first one stays
        mem.bulk_add([{"id": same, "text": "a", "user_id": "u"}, {"id": same, "text": "b", "user_id": "u"}],
                     batch_size=1, progress=False)
    assert [r["memory"] for r in mem.get_all(user_id="u")["results"]] == ["a"]


@pytest.mark.parametrize(("record", "expected"), [
    ({"id": "", "text": "x", "user_id": "u"}, "'id' must be a non-empty string"),
    ({"id": 7, "text": "x", "user_id": "u"}, "'id' must be a non-empty string"),
    ({"id": " padded ", "text": "x", "user_id": "u"}, "without surrounding spaces"),
    ({"id": "x" * 300, "text": "x", "user_id": "u"}, "at most 256 characters"),
    ({"id": "m1", "messages": ["one", "two"], "user_id": "u"}, "exactly one memory"),
    ({"id": "m1", "text": "   ", "user_id": "u"}, "exactly one memory"),
])
def test_bad_ids_name_the_record(mem: Memory, record: dict[str, object], expected: str) -> None:
    with pytest.raises(MemlayerError, match="record 0") as caught:
        mem.bulk_add([record], progress=False)
    assert expected in str(caught.value)


def test_a_duplicate_text_with_an_id_is_skipped_like_any_duplicate(mem: Memory) -> None:
    mem.add("User likes tea", user_id="u", infer=False)
    unused = str(uuid.uuid4())
    out = mem.bulk_add([{"id": unused, "text": "User likes tea", "user_id": "u"}], progress=False)
    assert out["added"] == 0 and out["duplicates"] == 1 and mem.get(unused) is None


def test_an_id_taken_meanwhile_by_another_writer_is_a_conflict_too(mem: Memory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    taken = mem.add("User likes tea", user_id="u", infer=False)["results"][0]["id"]
    store = mem.async_memory.store
    real = store.rids_of
    calls: list[int] = []

    def first_sees_nothing(ids: list[str]) -> dict[str, int]:  # the check ran before the other writer
        calls.append(1)
        return {} if len(calls) == 1 else real(ids)

    monkeypatch.setattr(store, "rids_of", first_sees_nothing)
    with pytest.raises(ConflictError, match=taken):  # the store's unique ids refused the commit
        mem.bulk_add([{"text": "fresh", "user_id": "v"}, {"id": taken, "text": "other", "user_id": "v"}],
                     progress=False)
    assert mem.get_all(user_id="v")["results"] == [] and len(calls) == 2
