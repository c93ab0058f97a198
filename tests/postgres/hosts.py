"""Driving memlayer processes ("hosts") on one PostgreSQL store, and checking what they hold against it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.reliability.helpers import child_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DENSE = {"dense_weight": 1.0, "lexical_weight": 0.0, "graph_weight": 0.0}  # presence, not ranking


def spawn(script: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``tests/postgres/<script>`` in a fresh interpreter (stdout piped, line-buffered text)."""
    return subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(), cwd=str(ROOT), **kwargs)


class Host:
    """A child.py process with its own directory, holding the store open."""

    def __init__(self, directory: Path, url: str, graph: Any = False) -> None:
        self.directory = directory
        self.proc = spawn("child.py", str(directory), url, json.dumps(graph), stdin=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.status = self.proc.stdout.readline().strip()
        assert self.status == "READY", f"{self.status} {self.proc.stderr.read() if self.proc.stderr else ''}"

    def __call__(self, op: str, **kwargs: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"host died: {self.proc.stderr.read() if self.proc.stderr else ''}"
        out = json.loads(line)
        assert not (isinstance(out, dict) and "error" in out), out
        return out

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
        self.proc.communicate(timeout=60)


def found(results: dict[str, Any], memory_id: str) -> bool:
    return memory_id in {r["id"] for r in results["results"]}


def audit_vectors(store: Any, ids: list[int], index: Any | None = None) -> None:
    """A vector index holds exactly the store's rows (``ids``), each with the store's embedding when the
    index itself is at hand."""
    rows = store.query("SELECT rid FROM memories")
    rids = {int(r[0]) for r in rows}
    assert len(ids) == len(set(ids)), "duplicate ids in a vector index"
    assert set(ids) == rids, f"orphan vectors {set(ids) - rids}, missing vectors {rids - set(ids)}"
    if index is not None and rids:
        order = sorted(rids)
        stored = store.embeddings(order)
        held = index._index.reconstruct_batch(np.array(order, dtype=np.int64))
        assert np.allclose(held, np.vstack([stored[r] for r in order]), atol=1e-6), "a vector differs from the store"
