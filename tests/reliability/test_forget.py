"""Forgetting: delete_all(user_id=...) leaves no trace anywhere; delete() is immediate everywhere."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memlayer import Memory
from memlayer.vectors.faiss import FaissIndex
from tests.reliability.extractors import RelationExtractor
from tests.reliability.helpers import DENSE, DIMS, GRAPHS, audit, child_env, open_memory, sql


def _marker() -> str:
    return "qzv" + uuid.uuid4().hex[:20]


def _fill(mem: Memory, victim: str, marker: str) -> dict[str, Any]:
    """Victim memories through every path (verbatim, extracted with relations, updated, deleted,
    sub-scopes), plus a bystander's memories."""
    ids: list[str] = []
    for i in range(3):
        r = mem.add([{"role": "user", "content": f"verbatim {i} {marker}", "name": f"n{marker}",
                      "metadata": {f"k{marker}": f"v{marker}"}}], user_id=victim, infer=False)
        ids += [x["id"] for x in r["results"]]
    r = mem.add([{"role": "user", "content": f"I like {marker}"}, {"role": "assistant", "content": f"ok {marker}"}],
                user_id=victim, agent_id="helper", run_id="r1", infer=True)
    assert r["relations"]["added"], "the extractor double should have produced a relation"
    ids += [x["id"] for x in r["results"]]
    mem.update(ids[0], f"updated {marker} text", metadata={"m": marker})
    mem.delete(ids[1])
    mem.add(f"agent-side {marker}", user_id=victim, agent_id="other-agent", infer=False)
    keep = mem.add("bystander likes tea", user_id="bystander", infer=True)["results"][0]["id"]
    mem.add("bystander agent note", user_id="bystander", agent_id="helper", run_id="r1", infer=False)
    mem.set_retention(user_id=victim, ttl="30d")  # policies name their scope, and so does the budget check's record
    mem.set_retention(user_id=victim, agent_id="helper", max_memories=50)
    mem.set_retention(user_id="bystander", max_memories=40)
    mem.sweep()
    assert victim in (mem.async_memory.store.get_meta("sweep:budgets") or "")
    rids = [int(r[0]) for r in sql(mem, "SELECT rid FROM memories WHERE user_id = ?", (victim,))]
    return {"ids": ids, "rids": rids, "keep": keep}


def _tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")]


def assert_no_trace(directory: Path, victim: str, marker: str, rids: list[int]) -> None:
    db = directory / "memlayer.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for table in _tables(con):
            for row in con.execute(f'SELECT * FROM "{table}"'):
                text = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
                assert marker not in text and victim not in text, f"table {table} still holds {row!r}"
        con.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'memories_fts', 'row')")
        terms = [r[0] for r in con.execute("SELECT term FROM temp.vocab")]
        assert not [t for t in terms if marker[3:12] in t], "the FTS index still holds the marker"
    finally:
        con.close()
    probe = marker[3:15].encode()
    for path in directory.iterdir():
        if path.is_file() and path.name.startswith("memlayer.db"):
            assert probe not in path.read_bytes(), f"raw bytes of {path.name} still hold the marker"
    pointer = json.loads((directory / "vectors.json").read_text())
    snap = FaissIndex(DIMS)
    snap.load(str(directory / pointer["file"]))
    assert not set(rids) & {int(i) for i in snap.ids()}, "the vector snapshot on disk still holds the user's vectors"
    files = [p.name for p in directory.iterdir() if p.name.startswith("vectors-")]
    assert files == [pointer["file"]], f"stale snapshot files remain: {files}"


def _assert_forgotten(mem: Memory, victim: str, marker: str, facts: dict[str, Any]) -> None:
    assert not set(facts["rids"]) & {int(i) for i in mem.async_memory.vectors.index.ids()}
    for mid in facts["ids"]:
        assert mem.get(mid) is None
        assert mem.history(mid) == []
    assert mem.get_all(user_id=victim)["results"] == []
    found = mem.search(marker, user_id=victim, config={"lexical_weight": 1.0, "graph_weight": 1.0})
    assert found["results"] == [] and found["relations"] == []
    if mem.graph is not None:
        export = mem.graph.export("nquads")
        assert marker not in export and victim not in export, "the graph still holds the user"
        assert "bystander" in export
    assert mem.get(facts["keep"]) is not None
    assert mem.get_retention(user_id=victim)["own"] == {"ttl": None, "max_memories": None}
    assert mem.get_retention(user_id=victim, agent_id="helper")["own"]["max_memories"] is None
    assert mem.get_retention(user_id="bystander")["own"]["max_memories"] == 40
    audit(mem)


@pytest.mark.parametrize("graph", GRAPHS)
def test_delete_all_leaves_no_trace(tmp_path: Path, graph: str) -> None:
    directory = tmp_path / "store"
    victim, marker = f"victim-{uuid.uuid4().hex[:6]}", _marker()
    mem = open_memory(directory, graph=graph, extractor=RelationExtractor(), snapshot_min=1)
    facts = _fill(mem, victim, marker)
    assert marker in mem.graph.export("nquads")
    assert mem.delete_all(user_id=victim)["deleted"] == len(facts["rids"])
    _assert_forgotten(mem, victim, marker, facts)
    assert_no_trace(directory, victim, marker, facts["rids"])
    mem.close()
    assert_no_trace(directory, victim, marker, facts["rids"])
    with open_memory(directory, graph=graph, extractor=RelationExtractor()) as again:
        _assert_forgotten(again, victim, marker, facts)


def test_delete_all_of_a_sub_scope_keeps_the_rest(memory: Memory) -> None:
    memory.add("in run one", user_id="u", run_id="r1", infer=False)
    kept = memory.add("in run two", user_id="u", run_id="r2", infer=False)["results"][0]["id"]
    assert memory.delete_all(user_id="u", run_id="r1")["deleted"] == 1
    assert [r["id"] for r in memory.get_all(user_id="u")["results"]] == [kept]
    assert sql(memory, "SELECT COUNT(*) FROM messages WHERE run_id = 'r1'") == [(0,)]


@pytest.mark.parametrize("graph", [False, "memory"])
def test_delete_is_immediate_here_and_in_another_instance(tmp_path: Path, graph: Any) -> None:
    directory = tmp_path / "store"
    with open_memory(directory, graph=graph, extractor=RelationExtractor()) as first, \
            open_memory(directory, graph=graph, extractor=RelationExtractor()) as second:
        texts = [f"I like unique{i}thing" for i in range(6)]
        ids = [first.add(t, user_id="u", infer=True)["results"][0]["id"] for t in texts]
        for t, mid in zip(texts, ids, strict=True):
            assert mid in {r["id"] for r in second.search(t, user_id="u", config=DENSE)["results"]}
        for t, mid in zip(texts[:3], ids[:3], strict=True):
            (first if t.endswith(("0thing", "2thing")) else second).delete(mid)
            for m in (first, second):
                config = {"lexical_weight": 1.0, "graph_weight": 1.0}
                assert mid not in {r["id"] for r in m.search(t, user_id="u", config=config)["results"]}
                assert mid not in {r["id"] for r in m.get_all(user_id="u")["results"]}
                assert m.get(mid) is None
        remaining = {r["id"] for r in second.get_all(user_id="u")["results"]}
        assert remaining == set(ids[3:])
        for m in (first, second):
            audit(m)
            if graph:
                relations = m.search("unique0thing unique1thing", user_id="u")["relations"]
                assert not {x for r in relations for x in r["memory_ids"]} & set(ids[:3])


def test_reset_forgets_everything(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    marker = _marker()
    with open_memory(directory, graph="memory", extractor=RelationExtractor()) as mem:
        mem.add(f"I like {marker}", user_id="a", infer=True)
        mem.add(f"raw {marker}", user_id="b", infer=False)
        mem.set_retention(user_id="a", ttl="30d")
        mem.reset()
        assert mem.get_retention(user_id="a")["own"]["ttl"] is None
        assert mem.get_all(user_id="a")["results"] == [] and mem.get_all(user_id="b")["results"] == []
        assert marker not in mem.graph.export("nquads")
        assert len(mem.async_memory.vectors.index) == 0
        audit(mem)
    assert marker[3:15].encode() not in (directory / "memlayer.db").read_bytes()
    assert not os.path.exists(directory / "memlayer.db-wal") or \
        marker[3:15].encode() not in (directory / "memlayer.db-wal").read_bytes()
    with open_memory(directory, graph="memory") as again:
        assert again.get_all(user_id="a")["results"] == []
        assert np.asarray(again.async_memory.vectors.index.ids()).size == 0


def test_delete_all_reaches_another_instances_graph(tmp_path: Path) -> None:
    """graph="memory" is rebuilt from the SQLite outbox, so a second instance (or process) on the same
    path shares the store: a forget done by one must reach the other's graph too."""
    directory = tmp_path / "store"
    marker = _marker()
    with open_memory(directory, graph="memory", extractor=RelationExtractor()) as first, \
            open_memory(directory, graph="memory", extractor=RelationExtractor()) as second:
        first.add(f"I like {marker}", user_id="victim", infer=True)
        first.add("I like tea", user_id="bystander", infer=True)
        assert second.search(marker, user_id="victim")["relations"]
        first.delete_all(user_id="victim")
        assert second.search(marker, user_id="victim")["relations"] == []
        assert marker not in second.graph.export("nquads")
        assert second.search("tea", user_id="bystander")["relations"]
        second.reset()
        assert first.search("tea", user_id="bystander")["relations"] == []
        assert first.graph.export("nquads").strip() == ""


HOLDER_CHILD = """
import sys
from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder

# another worker on the same store: it writes the victim's memories, snapshots some of them, and stays open
with Memory(sys.argv[1], embedder=HashingEmbedder(64), graph=False, snapshot_min=10**6) as m:
    m.add([f"first {i} " + sys.argv[3] for i in range(5)], user_id=sys.argv[2], infer=False)
    m.async_memory.vectors.snapshot()
    m.add([f"second {i} " + sys.argv[3] for i in range(5)], user_id=sys.argv[2], infer=False)
    print("READY", flush=True)
    sys.stdin.readline()  # closed (and its index snapshotted) once the other process has forgotten the victim
"""


def _snapshot_files(directory: Path) -> dict[str, set[int]]:
    out = {}
    for path in directory.glob("vectors-*.faiss"):
        index = FaissIndex(DIMS)
        index.load(str(path))
        out[path.name] = {int(i) for i in index.ids()}
    return out


def test_a_forget_leaves_no_snapshot_of_another_process_holding_it(tmp_path: Path) -> None:
    """Another live worker's older snapshot file, and the snapshot it writes when it closes after the forget, hold
    none of the forgotten vectors: a forget removes other processes' older files, and a snapshot replays the log
    before it is taken (a worker that never searched again used to publish the vectors it still held)."""
    directory = tmp_path / "store"
    victim, marker = f"victim-{uuid.uuid4().hex[:6]}", _marker()
    with open_memory(directory) as mem:
        mem.add("bystander likes tea", user_id="bystander", infer=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER_CHILD, str(directory), victim, marker], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "READY", holder.stderr
        with open_memory(directory) as mem:
            rids = [int(r[0]) for r in sql(mem, "SELECT rid FROM memories WHERE user_id = ?", (victim,))]
            assert len(rids) == 10 and any(set(rids) & ids for ids in _snapshot_files(directory).values())
            assert mem.delete_all(user_id=victim)["deleted"] == 10
            held = {name: ids & set(rids) for name, ids in _snapshot_files(directory).items()}
            assert not any(held.values()), f"snapshot files still hold the victim's vectors: {held}"
    finally:
        _, err = holder.communicate("close\n", timeout=120)
    assert holder.returncode == 0, err[-2000:]
    pointer = json.loads((directory / "vectors.json").read_text())
    files = _snapshot_files(directory)
    assert pointer["file"] in files and not any(ids & set(rids) for ids in files.values()), files
    with open_memory(directory) as again:
        assert again.async_memory.vectors.rebuilt_reason is None
        assert again.get_all(user_id=victim)["results"] == []
        assert [r["memory"] for r in again.get_all(user_id="bystander")["results"]] == ["bystander likes tea"]
        audit(again)


def test_a_forget_while_a_snapshot_is_being_written_leaves_no_file_holding_it(tmp_path: Path, held_save: Any) -> None:
    """A snapshot is written outside the projection's lock, from a picture taken before the forget: the forget
    waits for it to be published, then publishes its own and removes it."""
    directory = tmp_path / "store"
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    writing, release = held_save
    with open_memory(directory) as mem:
        mem.add([f"victim fact {i}" for i in range(10)], user_id=victim, infer=False)
        mem.add("bystander likes tea", user_id="bystander", infer=False)
        rids = {int(r[0]) for r in sql(mem, "SELECT rid FROM memories WHERE user_id = ?", (victim,))}
        saver = threading.Thread(target=lambda: mem.async_memory.vectors.snapshot(force=True))
        saver.start()
        assert writing.wait(10)
        forgetting = threading.Thread(target=lambda: mem.delete_all(user_id=victim))
        forgetting.start()
        forgetting.join(0.5)  # (it now waits for the snapshot under way)
        release.set()
        saver.join(30)
        forgetting.join(30)
        assert not saver.is_alive() and not forgetting.is_alive()
        held_ids = {name: ids & rids for name, ids in _snapshot_files(directory).items()}
        assert held_ids and not any(held_ids.values()), f"snapshot files still hold the victim's vectors: {held_ids}"
    with open_memory(directory) as again:
        assert again.async_memory.vectors.rebuilt_reason is None
        assert again.get_all(user_id=victim)["results"] == []
