"""A kill at every single write inside a graph update: the on-disk graph ends up exactly as if the
operation had completed (it is replayed from the SQLite outbox), never half-applied.

The random-moment kill -9 rounds (test_crash.py) hit the inside of a graph write only now and then; here a
child process dies at the N-th low-level write to the Oxigraph store, for N = 0, 1, 2, ... until the
operation runs through, so every boundary between writes is tried.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.helpers import HAS_OXIGRAPH, audit, child_env, graph_memory_ids, open_memory, sql

pytestmark = pytest.mark.skipif(not HAS_OXIGRAPH, reason="needs oxrdflib (the on-disk graph)")

MOVER = """
from memlayer.types import Decision, Extraction, Relation

class Mover:
    '''"I live in X" -> ADD the text, and user LIVES_IN X (a functional relation: a move closes the old one).'''
    async def extract(self, messages, *, lookup, context):
        out = Extraction()
        for m in messages:
            if m.role == "user":
                out.decisions.append(Decision("ADD", m.content))
                out.relations.append(Relation("user", "LIVES_IN", m.content.split()[-1], "person", "city"))
        return out
"""

CHILD = MOVER + """
import os, sys
from tests.reliability.helpers import open_memory

WRITES = {"add", "remove", "extend", "bulk_extend", "update", "remove_graph", "clear", "clear_graph", "add_graph"}

class Countdown:
    def __init__(self, n):
        self.n = n
    def tick(self):
        if self.n == 0:
            os._exit(9)  # no cleanup, like kill -9
        self.n -= 1

class DieAt:
    '''Stands in for the pyoxigraph Store: a write call past the countdown ends the process.'''
    def __init__(self, inner, countdown):
        self._inner, self._countdown = inner, countdown
    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in WRITES:
            return attr
        def call(*args, **kwargs):
            self._countdown.tick()
            return attr(*args, **kwargs)
        return call

directory, op, target, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mem = open_memory(directory, graph=True, extractor=Mover())
countdown, graph = Countdown(n), mem.graph.store
graph._store._store = DieAt(graph._store._store, countdown)  # triple-by-triple writes
if graph._atomic is not None:  # one-transaction writes
    atomic = graph._atomic
    def dying(*args):
        countdown.tick()
        return atomic(*args)
    graph._atomic = dying
if op == "delete":
    mem.delete(target)
else:
    mem.add(target, user_id="u")
mem.close()
"""

_STATEMENT = re.compile(r"<[^>]*/statement/[0-9a-f]+>")
_DATETIME = re.compile(r'"([^"]+)"\^\^<http://www.w3.org/2001/XMLSchema#dateTime>')


def _mover() -> object:
    namespace: dict[str, object] = {}
    exec(MOVER, namespace)  # the same extractor the child uses
    return namespace["Mover"]()  # type: ignore[operator]


def _canonical(mem: object) -> list[str]:
    """The graph's quads, comparable across stores: statement IRIs (random) blanked, memory ids replaced by
    the memory's first text, timestamps by their rank; sorted, duplicates kept."""
    lines = mem.graph.export("nquads").splitlines()  # type: ignore[attr-defined]
    names = {i: t for i, t in sql(mem, "SELECT memory_id, new_memory FROM history WHERE event = 'ADD'")}  # type: ignore[arg-type]
    stamps = sorted({m.group(1) for line in lines for m in _DATETIME.finditer(line)})
    rank = {s: f"T{i}" for i, s in enumerate(stamps)}
    out = []
    for line in lines:
        line = _DATETIME.sub(lambda m: rank[m.group(1)], _STATEMENT.sub("<ST>", line))
        for mid, text in names.items():
            line = line.replace(mid, text.replace(" ", "_"))
        out.append(line)
    return sorted(out)


def _setup(directory: Path) -> None:
    """Paris, then Rome (closes Paris), then Oslo (closes Rome); a bystander lives in Lima."""
    with open_memory(directory, graph=True, extractor=_mover()) as mem:
        for city in ("Paris", "Rome", "Oslo"):
            mem.add(f"I live in {city}", user_id="u")
        mem.add("I live in Lima", user_id="bystander")


def _child(directory: Path, op: str, target: str, n: int) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, str(directory), op, target, str(n)],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 9), done.stderr[-3000:]
    return done.returncode


@pytest.mark.parametrize("op", ["delete", "add"])
def test_a_kill_at_any_graph_write_is_repaired_on_reopen(tmp_path: Path, op: str) -> None:
    template = tmp_path / "template"
    _setup(template)
    with open_memory(template, graph=False) as peek:
        oslo = sql(peek, "SELECT id FROM memories WHERE text = 'I live in Oslo'")[0][0]
    target = oslo if op == "delete" else "I live in Kyiv"
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert _child(reference, op, target, 10**6) == 0
    with open_memory(reference, graph=True, extractor=_mover()) as mem:
        expected = _canonical(mem)
    assert any("Paris" in line for line in expected)
    kills = 0
    for n in range(100):
        directory = tmp_path / f"kill{n}"
        shutil.copytree(template, directory)
        code = _child(directory, op, target, n)
        with open_memory(directory, graph=True, extractor=_mover()) as mem:
            audit(mem)
            assert graph_memory_ids(mem) <= {r[0] for r in sql(mem, "SELECT id FROM memories")}
            if op == "delete":
                assert oslo not in mem.graph.export("nquads"), f"kill at write {n}: the forgotten memory is in the graph"
            assert _canonical(mem) == expected, f"kill at write {n}: the graph differs from the completed operation's"
        shutil.rmtree(directory, ignore_errors=True)  # RocksDB may still be tidying its files
        if code == 0:
            break
        kills += 1
    assert kills >= 1, "the child never died inside a graph write: the hook did not take"
    assert code == 0, "the operation never ran through in 100 writes"
    print(f"\n{op}: killed at each of {kills} graph writes, every time repaired on reopen")
