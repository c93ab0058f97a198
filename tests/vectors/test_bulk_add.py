"""bulk_add: the same store contents as add(infer=False), deduplicated, a batch per transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.errors import MemlayerError


def _records() -> list[dict]:
    return [
        {"text": "I live in Lisbon", "user_id": "ana", "metadata": {"source": "chat"}, "timestamp": "2024-03-01T10:00:00Z"},
        {"text": "I like green tea", "user_id": "ana", "agent_id": "helper"},
        {"messages": [{"role": "user", "content": "My dog is Rex", "metadata": {"turn": 1}},
                      {"role": "assistant", "content": "Nice dog", "name": "bot"}], "user_id": "ben", "run_id": "r1"},
        {"text": "I live in Lisbon", "user_id": "ben"},  # same text, other scope: kept
        {"text": "I live in Lisbon", "user_id": "ana", "metadata": {"source": "chat"}},  # duplicate: skipped
        {"text": "I live in Lisbon", "user_id": "ana", "metadata": {"source": "mail"}},  # other metadata: kept
        {"text": "   ", "user_id": "ana"},  # nothing to remember
    ]


def _contents(m: Memory) -> list[tuple]:
    out = []
    for scope in ({"user_id": "ana"}, {"user_id": "ana", "agent_id": "helper"}, {"user_id": "ben"},
                  {"user_id": "ben", "run_id": "r1"}):
        for r in m.get_all(**scope, limit=100)["results"]:
            history = m.history(r["id"])
            out.append((tuple(sorted(scope.items())), r["memory"], tuple(sorted(r["metadata"].items())),
                        r["user_id"], r["agent_id"], r["run_id"], [h["event"] for h in history],
                        [(s["role"], s["content"]) for s in history[0]["source_messages"]]))
    return sorted(out)


def test_bulk_add_stores_what_add_would(tmp_path: Path, hash_embedder):
    with Memory(str(tmp_path / "a"), embedder=hash_embedder, graph=False) as one:
        for r in _records():
            r = dict(r)
            body = r.pop("text", None) or r.pop("messages", None)
            one.add(body, infer=False, **r)
        want = _contents(one)
    with Memory(str(tmp_path / "b"), embedder=hash_embedder, graph=False) as bulk:
        got = bulk.bulk_add(_records(), batch_size=2, progress=False)
        assert got["added"] == 6 and got["duplicates"] == 1 and got["records"] == 7 and got["messages"] == 7
        assert _contents(bulk) == want
        lisbon = bulk.search("where do I live", user_id="ana", limit=5)["results"]
        assert {r["metadata"].get("source") for r in lisbon if r["memory"] == "I live in Lisbon"} == {"chat", "mail"}
        dated = [r for r in lisbon if r["metadata"] == {"source": "chat"}][0]
        assert dated["created_at"].startswith("2024-03-01T10:00:00")
        rex = bulk.get_all(user_id="ben", run_id="r1")["results"]
        assert {r["memory"]: r["metadata"] for r in rex} == {"My dog is Rex": {"turn": 1}, "Nice dog": {}}
    for name in ("a", "b"):
        con = sqlite3.connect(tmp_path / name / "memlayer.db")
        counts = [con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("memories", "messages", "history", "vector_log", "memories_fts")]
        con.close()
        assert counts == [6, 7, 6, 6, 6]


def test_bulk_add_dedupes_against_earlier_adds_and_batches(memory):
    memory.add("I like tea", user_id="u", infer=False)
    records = [{"text": f"fact {i % 50}", "user_id": "u"} for i in range(200)] + [{"text": "I like tea", "user_id": "u"}]
    got = memory.bulk_add(records, batch_size=16, progress=False)
    assert got["added"] == 50 and got["duplicates"] == 151
    assert len(memory.get_all(user_id="u", limit=1000)["results"]) == 51
    again = memory.bulk_add(iter(records), batch_size=1000, progress=False)  # any iterable
    assert again["added"] == 0 and again["duplicates"] == 201


def test_bulk_add_reports_progress(memory, capsys):
    seen: list[tuple[int, int | None]] = []
    memory.bulk_add([{"text": f"item {i}", "agent_id": "a"} for i in range(25)], batch_size=10,
                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 25), (20, 25), (25, 25)]
    memory.bulk_add(({"text": f"other {i}", "agent_id": "a"} for i in range(5)), progress=True)
    assert "bulk_add: 5 records" in capsys.readouterr().err


def test_bulk_add_rejects_bad_records_naming_them(memory):
    good = [{"text": f"ok {i}", "user_id": "u"} for i in range(4)]
    for bad, message in (
        ({"text": "x", "user_id": "u", "colour": "red"}, "unknown key"),
        ({"text": "x", "messages": ["y"], "user_id": "u"}, "exactly one"),
        ({"text": "x"}, "scope"),
        ({"text": "x", "user_id": "u", "metadata": {"user_id": "v"}}, "reserved"),
        ({"text": 3, "user_id": "u"}, "string"),
    ):
        with pytest.raises(MemlayerError, match=message) as err:
            memory.bulk_add([*good, bad], batch_size=2, progress=False)
        assert "record 4" in str(err.value)
    # the batches before the bad record were committed, once (the later calls found them as duplicates)
    assert len(memory.get_all(user_id="u")["results"]) == 4
    with pytest.raises(MemlayerError):
        memory.bulk_add(good, batch_size=0)


async def test_bulk_add_async_face_and_vector_index(amemory):
    got = await amemory.bulk_add([{"text": f"topic {i} notes", "user_id": f"u{i % 4}"} for i in range(40)],
                                 progress=False)
    assert got["added"] == 40
    assert len(amemory.vectors.index) == 40 and amemory.vectors.watermark == 40
    hits = (await amemory.search("topic 5 notes", user_id="u1", limit=3))["results"]
    assert hits[0]["memory"] == "topic 5 notes"


def _text_segments(m: Memory) -> int:
    store = m.async_memory.engine.store
    return int(store.query("SELECT count(DISTINCT segid) AS n FROM memories_fts_idx")[0]["n"])


def test_an_import_leaves_the_text_index_merged_and_a_sweep_merges_later_writes(tmp_path: Path, hash_embedder):
    with Memory(str(tmp_path / "m"), embedder=hash_embedder, graph=False) as m:
        records = [{"text": f"fact {i} about green tea and {i % 7} cups", "user_id": f"u{i % 3}"} for i in range(300)]
        m.bulk_add(records, batch_size=10)  # 30 transactions: 30 pieces before the merge
        assert _text_segments(m) == 1
        for i in range(12):
            m.add(f"later fact {i} about coffee", user_id="u0", infer=False)
        pieces = _text_segments(m)
        assert pieces > 1
        m.sweep()  # one asked for merges them all (an automatic one, a slice)
        assert _text_segments(m) == 1 < pieces
        found = m.search("coffee", user_id="u0", limit=20, config="hybrid")["results"]
        assert {r["memory"] for r in found} >= {f"later fact {i} about coffee" for i in range(12)}
