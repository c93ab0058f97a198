"""Forget means gone from disk: no byte of forgotten text stays in any file of the Oxigraph directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.graph import disk
from memlayer.graph.rdf import RDFGraphStore
from tests.graph.helpers import ALICE, BOB, put, triples

pytest.importorskip("oxrdflib", reason="the oxigraph store needs memlayer[graph]")
PIN = "PIN-ZQX739182"


def occurrences(directory: Path, needle: str = PIN) -> dict[str, int]:
    """Every file under ``directory`` (and its siblings of a rewrite) holding ``needle``, with counts."""
    found: dict[str, int] = {}
    for root in [directory, *directory.parent.glob(directory.name + ".*")]:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            count = path.read_bytes().count(needle.encode())
            if count:
                found[str(path.relative_to(directory.parent))] = count
    return found


def fill(store: RDFGraphStore) -> None:
    for i in range(40):  # enough to reach SST files, not only the WAL
        put(store, ALICE, f"Alice {i}", "KNOWS", f"Friend {i}", memory_id=f"a{i}", text=f"alice {i} says {PIN}")
    put(store, BOB, "Bob", "WORKS_AT", "Initech", memory_id="b1", text="bob says hello")


def test_delete_scope_then_close_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    store = RDFGraphStore(path, store="oxigraph")
    fill(store)
    store.close()
    assert occurrences(path)  # the text really is on disk before the forget
    store = RDFGraphStore(path, store="oxigraph")
    store.delete_scope(ALICE)
    store.close()
    assert occurrences(path) == {}
    with RDFGraphStore(path, store="oxigraph") as again:
        assert again.recreated is None
        assert triples(again.search(BOB, "Bob")) == {("Bob", "WORKS_AT", "Initech")}
        assert again.search(ALICE, "Alice 1") == [] and again.counts()["memories"] == 1
    assert occurrences(path) == {} and sorted(p.name for p in tmp_path.iterdir()) == ["graph"]


def test_forget_memory_then_close_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph") as store:
        put(store, ALICE, "Alice", "LIVES_IN", "Oslo", memory_id="m1", text=f"I live in Oslo, {PIN}")
        put(store, ALICE, "Alice", "LIKES", "Tea", memory_id="m2", text="I like tea")
        store.forget_memory(ALICE, "m1")
    assert occurrences(path) == {}
    with RDFGraphStore(path, store="oxigraph") as again:
        assert triples(again.search(ALICE, "Alice")) == {("Alice", "LIKES", "Tea")}


def test_compact_now_and_compact_on_close_off(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    store = RDFGraphStore(path, store="oxigraph", compact_on_close=False)
    fill(store)
    store.delete_scope(ALICE)
    store.close()
    assert occurrences(path)  # left for the next open, which rewrites first
    store = RDFGraphStore(path, store="oxigraph")
    assert occurrences(path) == {}
    fill(store)
    store.delete_scope(ALICE)
    store.compact()  # while open; the store keeps working on the rewritten directory
    assert occurrences(path) == {}
    assert triples(store.search(BOB, "Bob")) == {("Bob", "WORKS_AT", "Initech")}
    put(store, BOB, "Bob", "LIKES", "Tea", memory_id="b2")
    store.close()
    with RDFGraphStore(path, store="oxigraph") as again:
        assert len(again.search(BOB, "Bob")) == 2


def test_a_process_killed_after_a_forget_is_cleaned_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph") as store:
        fill(store)
    child = textwrap.dedent(f"""
        import os
        from memlayer.graph.rdf import RDFGraphStore
        from memlayer.types import Scope
        store = RDFGraphStore({str(path)!r}, store="oxigraph")
        store.delete_scope(Scope(user_id="alice"))
        os._exit(0)  # killed: no close()
    """)
    subprocess.run([sys.executable, "-c", child], check=True, timeout=120)
    assert occurrences(path) and (path / disk.PENDING).exists()
    with RDFGraphStore(path, store="oxigraph") as again:
        assert occurrences(path) == {}
        assert triples(again.search(BOB, "Bob")) == {("Bob", "WORKS_AT", "Initech")}


@pytest.mark.parametrize("left", ["new-unfinished", "swapped-halfway", "old-left", "only-old"])
def test_an_interrupted_rewrite_is_finished_or_undone(tmp_path: Path, left: str) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph") as store:
        put(store, BOB, "Bob", "WORKS_AT", "Initech", memory_id="b1")
    other = tmp_path / "other"
    with RDFGraphStore(other, store="oxigraph") as store:  # a complete copy of other data
        put(store, BOB, "Bob", "LIKES", "Tea", memory_id="b2")
    new, old = disk.sibling(path, ".new"), disk.sibling(path, ".old")
    expected = {("Bob", "WORKS_AT", "Initech")}
    if left == "new-unfinished":  # the copy was being built: it is thrown away
        other.rename(new)
    elif left == "swapped-halfway":  # the original was renamed, the finished copy not yet: the copy wins
        path.rename(old)
        other.rename(new)
        expected = {("Bob", "LIKES", "Tea")}
    elif left == "old-left":  # the swap was done, the original not yet removed
        other.rename(old)
    else:  # only the original, renamed: it is put back
        path.rename(old)
    with RDFGraphStore(path, store="oxigraph") as again:
        assert triples(again.search(BOB, "Bob")) == expected
    assert not new.exists() and not old.exists()


def test_memory_delete_all_and_delete_leave_no_trace_in_the_graph_files(tmp_path: Path, hash_embedder) -> None:
    with Memory(str(tmp_path), embedder=hash_embedder) as m:
        assert m.graph is not None and m.graph.store.kind == "oxigraph"
        m.add(f"I live in Oslo. My code is {PIN}.", user_id="alice")
        kept = m.add(f"I work at Initech. {PIN} again.", user_id="bob")["results"][0]["id"]
        m.add("I like tea.", user_id="bob")
    graph_dir = tmp_path / "graph"
    assert occurrences(graph_dir)
    with Memory(str(tmp_path), embedder=hash_embedder) as m:
        m.delete_all(user_id="alice")
        m.delete(kept)
    assert occurrences(graph_dir) == {}
    with Memory(str(tmp_path), embedder=hash_embedder) as m:
        assert m.search("tea", user_id="bob")["results"]
