"""SQLite is the record; the FAISS index is derived, persisted incrementally and rebuilt when needed."""

from __future__ import annotations

import json
import os
import threading

import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import StoreError


def _open(path, dims=32, **kw):
    return Memory(str(path), embedder=HashingEmbedder(dims=dims), graph=False, **kw)


def _ids(m, q="fact", user="u"):
    return [r["id"] for r in m.search(q, user_id=user, limit=100)["results"]]


def test_reopen_keeps_everything(tmp_path):
    with _open(tmp_path) as m:
        ids = [r["id"] for r in m.add([f"fact {i}" for i in range(20)], user_id="u", infer=False)["results"]]
        before = _ids(m)
    with _open(tmp_path) as m:
        assert sorted(_ids(m)) == sorted(ids)
        assert _ids(m) == before
        assert m.async_memory.vectors.rebuilt_reason is None


@pytest.mark.parametrize("damage", ["delete", "corrupt", "stale_pointer"])
def test_index_rebuilt_from_sqlite(tmp_path, damage):
    with _open(tmp_path) as m:
        m.add([f"fact {i}" for i in range(30)], user_id="u", infer=False)
        expected = _ids(m)
    files = [f for f in os.listdir(tmp_path) if f.startswith("vectors")]
    assert files
    if damage == "delete":
        for f in files:
            os.remove(tmp_path / f)
    elif damage == "corrupt":
        for f in files:
            if f.endswith(".faiss"):
                (tmp_path / f).write_bytes(b"garbage")
    else:
        pointer = json.loads((tmp_path / "vectors.json").read_text())
        pointer["count"] = 999
        (tmp_path / "vectors.json").write_text(json.dumps(pointer))
    with _open(tmp_path) as m:
        assert m.async_memory.vectors.rebuilt_reason
        assert _ids(m) == expected


def test_log_is_replayed_after_unsnapshotted_writes(tmp_path):
    m = _open(tmp_path)
    m.add([f"fact {i}" for i in range(5)], user_id="u", infer=False)
    m.close()
    m = _open(tmp_path)
    m.add([f"fact {i}" for i in range(5, 10)], user_id="u", infer=False)
    # simulate a crash: the snapshot on disk is older than the log
    m._runner.stop()
    m._async.store.close()
    with _open(tmp_path) as m2:
        assert len(_ids(m2)) == 10
        assert m2.async_memory.vectors.rebuilt_reason is None  # caught up from the log, not rebuilt


def test_index_file_not_rewritten_per_insert(tmp_path):
    with _open(tmp_path, snapshot_min=1000) as m:
        m.add("first", user_id="u", infer=False)
        snap = sorted(f for f in os.listdir(tmp_path) if f.endswith(".faiss"))
        for i in range(50):
            m.add(f"more {i}", user_id="u", infer=False)
        assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".faiss")) == snap


def test_other_embedder_dims_refused(tmp_path):
    with _open(tmp_path, dims=32) as m:
        m.add("x", user_id="u", infer=False)
    with pytest.raises(StoreError, match="32-dimensional") as caught:
        _open(tmp_path, dims=16)
    assert "use the original embedder, or a new store (another directory, or for PostgreSQL" in str(caught.value)


def test_writes_of_another_instance_are_seen(tmp_path):
    a = _open(tmp_path)
    b = _open(tmp_path)
    try:
        mid = a.add("written by a", user_id="u", infer=False)["results"][0]["id"]
        assert _ids(b, "written") == [mid]
        b.delete(mid)
        assert _ids(a, "written") == []
    finally:
        a.close()
        b.close()


def _in_thread(fn, timeout=10.0):
    """Run ``fn`` on another thread; its result, or an AssertionError when it is still waiting after ``timeout``."""
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("v", fn()))
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "it waited for the vector snapshot being written"
    return out["v"]


def test_searches_and_writes_go_on_while_a_snapshot_is_written(tmp_path, held_save):
    writing, release = held_save
    with _open(tmp_path) as m:
        ids = [r["id"] for r in m.add([f"fact {i}" for i in range(30)], user_id="u", infer=False)["results"]]
        vectors = m.async_memory.vectors
        saver = threading.Thread(target=lambda: vectors.snapshot(force=True))
        saver.start()
        assert writing.wait(10)
        mark = vectors.watermark
        # meanwhile: another thread adds, deletes, updates and searches
        added = _in_thread(lambda: m.add("fact written meanwhile", user_id="u", infer=False))["results"][0]["id"]
        _in_thread(lambda: m.delete(ids[0]))
        _in_thread(lambda: m.update(ids[1], "fact rewritten meanwhile"))
        found = _in_thread(lambda: _ids(m))
        assert added in found and ids[0] not in found and len(found) == 30
        release.set()
        saver.join(30)
        pointer = json.loads((tmp_path / "vectors.json").read_text())
        assert pointer["watermark"] == mark and pointer["count"] == 30  # the state the save started from
        # another instance loads that snapshot (no rebuild) and replays what was written meanwhile
        with _open(tmp_path) as other:
            assert other.async_memory.vectors.rebuilt_reason is None
            assert sorted(_ids(other)) == sorted(found)
            assert _ids(other, "rewritten")[0] == ids[1]


def test_a_due_snapshot_is_written_behind_the_write_that_made_it_due(tmp_path, held_save):
    writing, release = held_save
    with _open(tmp_path, snapshot_min=10) as m:
        m.add("first", user_id="u", infer=False)
        before = (tmp_path / "vectors.json").read_text() if (tmp_path / "vectors.json").exists() else None
        # the add that makes a snapshot due returns while the snapshot waits to be written
        _in_thread(lambda: m.add([f"fact {i}" for i in range(40)], user_id="u", infer=False))
        assert writing.wait(10)
        assert _in_thread(lambda: len(_ids(m))) == 41
        release.set()
        saver = m.async_memory.vectors._saver
        assert saver is not None
        saver.join(30)
        pointer = json.loads((tmp_path / "vectors.json").read_text())
        assert (tmp_path / "vectors.json").read_text() != before and pointer["count"] == 41
    with _open(tmp_path) as m:
        assert m.async_memory.vectors.rebuilt_reason is None and len(_ids(m)) == 41
