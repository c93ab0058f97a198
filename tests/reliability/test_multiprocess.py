"""Several processes on one store directory: safe, or refused with a clear error; never silent corruption.

- SQLite (the system of record) and the derived FAISS index are shared safely (see test_concurrency).
- The on-disk Oxigraph graph store cannot be opened by two processes: the second gets a StoreError that
  says why, and the first one is unaffected.
- graph="memory" is rebuilt from SQLite's outbox, so it is safe across processes: each sees the others'
  relations, deletions and forgotten users.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memlayer.errors import StoreError
from tests.reliability.extractors import RelationExtractor
from tests.reliability.helpers import HAS_OXIGRAPH, audit, open_memory, spawn


class Child:
    """A repl_child.py process holding the store open."""

    def __init__(self, store: Path, graph: str, *, wait: bool = True) -> None:
        self.proc: subprocess.Popen[str] = spawn("repl_child.py", str(store), graph, stdin=subprocess.PIPE)
        self.status = self.started() if wait else ""

    def started(self) -> str:
        assert self.proc.stdout is not None
        self.status = self.proc.stdout.readline().strip()
        return self.status

    def __call__(self, op: str, **kwargs: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"child died: {self.proc.stderr.read() if self.proc.stderr else ''}"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
        self.proc.communicate(timeout=60)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.close()


@pytest.mark.skipif(not HAS_OXIGRAPH, reason="the on-disk graph store needs oxrdflib")
def test_second_process_on_the_oxigraph_store_is_refused(tmp_path: Path, children: list[Child]) -> None:
    store = tmp_path / "store"
    first = Child(store, "true")
    children.append(first)
    assert first.status == "READY"
    first("add", messages="I like zebras", user_id="u")
    second = Child(store, "true")
    children.append(second)
    assert second.status.startswith("ERROR StoreError"), second.status
    assert "another process" in second.status and "graph" in second.status
    with pytest.raises(StoreError, match="another process"):
        open_memory(store, graph=True)
    first("add", messages="I like yaks", user_id="u")  # the first holder is unaffected
    assert {r["destination"] for r in first("search", query="zebras yaks", user_id="u")["relations"]} >= {
        "zebras", "yaks"}
    first.close()
    with open_memory(store, graph=True, extractor=RelationExtractor()) as m:  # and nothing was damaged
        assert len(m.get_all(user_id="u")["results"]) == 2
        assert {r["destination"] for r in m.search("zebras yaks", user_id="u")["relations"]} >= {"zebras", "yaks"}
        audit(m)


def test_memory_graph_is_shared_across_processes(tmp_path: Path, children: list[Child]) -> None:
    store = tmp_path / "store"
    other = Child(store, "memory")
    children.append(other)
    assert other.status == "READY"
    with open_memory(store, graph="memory", extractor=RelationExtractor()) as mem:
        kept = mem.add("I like apples", user_id="u")["results"][0]["id"]
        gone = mem.add("I like pears", user_id="u")["results"][0]["id"]
        mem.add("I like qzvsecret", user_id="victim")
        seen = other("search", query="apples pears", user_id="u")
        assert {r["destination"] for r in seen["relations"]} >= {"apples", "pears"}
        other("add", messages="I like plums", user_id="u")
        assert "plums" in {r["destination"] for r in mem.search("plums", user_id="u")["relations"]}
        mem.delete(gone)
        relations = other("search", query="apples pears", user_id="u")["relations"]
        assert gone not in {m for r in relations for m in r["memory_ids"]}
        assert kept in {m for r in relations for m in r["memory_ids"]}
        other("delete_all", user_id="victim")
        assert mem.search("qzvsecret", user_id="victim")["relations"] == []
        assert "qzvsecret" not in mem.graph.export("nquads")
        assert "qzvsecret" not in other("export")
        audit(mem)


def test_processes_creating_one_store_at_once(tmp_path: Path, children: list[Child]) -> None:
    store = tmp_path / "fresh"
    for _ in range(3):  # all start before any has created the database
        children.append(Child(store, "false", wait=False))
    assert [c.started() for c in children] == ["READY"] * 3
    ids = [c("add", messages=f"note from process {i}", user_id="u", infer=False)["results"][0]["id"]
           for i, c in enumerate(children)]
    deadline = time.monotonic() + 10
    for c in children:
        while {r["id"] for r in c("get_all", user_id="u")["results"]} != set(ids):
            assert time.monotonic() < deadline
    with open_memory(store) as m:
        assert {r["id"] for r in m.get_all(user_id="u")["results"]} == set(ids)
        audit(m)
