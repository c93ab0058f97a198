"""Shared helpers for the reliability tests: opening stores, dumping them, checking their invariants."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DIMS = 64
HAS_OXIGRAPH = importlib.util.find_spec("oxrdflib") is not None
HAS_PATTERNS = importlib.util.find_spec("memlayer.extract.patterns") is not None
GRAPHS: list[Any] = ["memory", pytest.param("oxigraph", marks=pytest.mark.skipif(not HAS_OXIGRAPH, reason="needs oxrdflib"))]

# "Is it searchable?" asks the vector index alone: the default search config may let graph or lexical hits
# outrank an exact text match, which is ranking, not presence.
DENSE = {"dense_weight": 1.0, "lexical_weight": 0.0, "graph_weight": 0.0}

_GRAPH_IDS = """
SELECT DISTINCT ?id WHERE { GRAPH ?g { ?st a rdf:Statement ; prov:wasDerivedFrom ?m . ?m ml:memoryId ?id } }
"""


def open_memory(path: str | Path, graph: Any = False, **options: Any) -> Memory:
    """A Memory with the cheap deterministic embedder (what every child process uses too)."""
    return Memory(str(path), embedder=HashingEmbedder(DIMS), graph=graph, **options)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(script: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``tests/reliability/<script>`` in a fresh interpreter, stdout piped, line-buffered text."""
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=child_env(), cwd=str(ROOT), **kwargs,
    )


def sql(mem: Memory, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in mem.async_memory.store.query(query, params)]


def graph_memory_ids(mem: Memory) -> set[str]:
    graph = mem.graph
    if graph is None:
        return set()
    return {str(r["id"]) for r in graph.sparql(_GRAPH_IDS)}


def dump(mem: Memory) -> dict[str, Any]:
    """Everything a store holds, in comparable form (SQLite tables, vector ids, graph export)."""
    out: dict[str, Any] = {}
    for table in ("memories", "history", "messages", "vector_log", "graph_log"):
        rows = sql(mem, f"SELECT * FROM {table} ORDER BY 1")
        out[table] = [tuple(v.hex() if isinstance(v, bytes) else v for v in r) for r in rows]
    out["fts"] = sql(mem, "SELECT rowid, text FROM memories_fts ORDER BY rowid")
    out["vector_ids"] = sorted(int(i) for i in mem.async_memory.vectors.index.ids())
    graph = mem.graph
    out["graph"] = None if graph is None else sorted(graph.export("nquads").splitlines())
    return out


def audit(mem: Memory) -> dict[str, int]:
    """Assert the store's cross-pillar invariants; returns a few counts.

    - the FAISS index holds exactly SQLite's rows, each with SQLite's embedding;
    - SQLite and its FTS index are intact;
    - every memory has its ADD in history, and every history entry points to existing messages;
    - every memory id the graph's statements derive from is a SQLite memory.
    """
    store = mem.async_memory.store
    assert sql(mem, "PRAGMA integrity_check") == [("ok",)]
    store.query("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    rows = sql(mem, "SELECT rid, id, embedding FROM memories")
    rids = {int(r[0]) for r in rows}
    vectors = mem.async_memory.vectors
    vectors.catch_up()
    ids = [int(i) for i in vectors.index.ids()]
    assert len(ids) == len(set(ids)), "duplicate ids in the vector index"
    assert set(ids) == rids, f"orphan vectors {set(ids) - rids}, missing vectors {rids - set(ids)}"
    if rows:
        stored = np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        inner = vectors.index._index
        held = inner.reconstruct_batch(np.array([r[0] for r in rows], dtype=np.int64))
        assert np.allclose(held, stored, atol=1e-6), "the index holds a vector SQLite does not"
    no_add = sql(mem, "SELECT id FROM memories WHERE id NOT IN (SELECT memory_id FROM history WHERE event = 'ADD')")
    assert not no_add, f"memories without their ADD history: {no_add}"
    message_ids = {int(r[0]) for r in sql(mem, "SELECT id FROM messages")}
    for (ids_json,) in sql(mem, "SELECT message_ids FROM history"):
        assert {int(i) for i in json.loads(ids_json)} <= message_ids, "history points to a missing message"
    memory_ids = {str(r[1]) for r in rows}
    orphans = graph_memory_ids(mem) - memory_ids
    assert not orphans, f"graph statements derived from memories SQLite does not have: {orphans}"
    return {"memories": len(rows), "vectors": len(ids)}
