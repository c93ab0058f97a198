"""Crash safety: a writer process is killed with SIGKILL at random moments, round after round.

After every kill the store is reopened and checked against a model built from what the child
acknowledged: every acknowledged memory is present (exactly the acknowledged text), searchable,
nothing unacknowledged appeared except the one in-flight operation (applied entirely or not at all),
and SQLite, the FAISS index and the graph agree (see helpers.audit).
"""

from __future__ import annotations

import json
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.crash_child import options as child_options
from tests.reliability.helpers import (
    DENSE,
    GRAPHS,
    HAS_OXIGRAPH,
    HAS_PATTERNS,
    audit,
    graph_memory_ids,
    open_memory,
    spawn,
    sql,
)

_pat = pytest.mark.skipif(not HAS_PATTERNS, reason="the pattern extractor is not available")


@dataclass
class Model:
    live: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (user, text)
    expired: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    infer_ids: set[str] = field(default_factory=set)

    def add_results(self, user: str, results: list[dict[str, Any]], infer: bool) -> None:
        for r in results:
            if r["event"] in ("ADD", "UPDATE"):
                self.live[r["id"]] = (user, r["memory"])
                if infer and r["event"] == "ADD":
                    self.infer_ids.add(r["id"])
            elif r["event"] == "DELETE":
                self.live.pop(r["id"], None)
                self.expired.add(r["id"])

    def apply(self, op: str, args: dict[str, Any], infer: bool) -> None:
        if op == "add":
            self.add_results(args["user"], args["results"], infer)
        elif op == "update":
            self.live[args["id"]] = (self.live[args["id"]][0], args["text"])
        elif op == "delete":
            self.live.pop(args["id"], None)
            self.deleted.add(args["id"])


def _resolve_in_flight(mem: Any, model: Model, op: str, args: dict[str, Any], infer: bool) -> bool:
    """Was the operation that was running at the kill committed? Fold it into the model if so."""
    if op == "add":
        rows = sql(mem, "SELECT id FROM messages WHERE user_id = ? AND content = ?", (args["user"], args["text"]))
        if not rows:
            return False
        events = sql(mem, "SELECT memory_id, event, new_memory, message_ids FROM history ORDER BY seq")
        results = [{"id": m, "event": e, "memory": t} for m, e, t, src in events if rows[0][0] in json.loads(src)]
        model.add_results(args["user"], results, infer)
        return True
    if op == "update":
        row = mem.get(args["id"])
        if row is not None and row["memory"] == args["text"]:
            model.apply(op, args, infer)
            return True
        return False
    if op == "delete" and mem.get(args["id"]) is None:
        model.apply(op, args, infer)
        return True
    return False


def _check(directory: Path, mode: str, model: Model, recent: list[str], rng: random.Random) -> None:
    with open_memory(directory, **child_options(mode)) as mem:
        audit(mem)
        current = {r[0]: (r[1], r[2]) for r in sql(mem, "SELECT id, user_id, text FROM memories WHERE valid_to IS NULL")}
        assert current == model.live, "current memories differ from what was acknowledged"
        closed = {r[0] for r in sql(mem, "SELECT id FROM memories WHERE valid_to IS NOT NULL")}
        assert closed == model.expired
        sample = [i for i in recent if i in model.live] + rng.sample(sorted(model.live), min(8, len(model.live)))
        for mid in sample:
            user, text = model.live[mid]
            found = mem.search(text, user_id=user, limit=5, config=DENSE)["results"]
            assert mid in {r["id"] for r in found}, f"{mid} ({text!r}) unsearchable: {[(r['memory'], r['score']) for r in found]}"
        if mode != "raw":
            missing = (model.infer_ids & set(model.live)) - graph_memory_ids(mem)
            assert not missing, f"relations of acknowledged memories missing from the graph: {missing}"


def _run(tmp_path: Path, modes: list[str], rounds: int, seed: int) -> str:
    """``rounds`` kill -9 rounds on one store, the child's mode cycling through ``modes``."""
    rng = random.Random(seed)
    directory = tmp_path / "store"
    model = Model()
    live_file = tmp_path / "live.json"
    acks = in_flight_commits = early_kills = 0
    for round_no in range(rounds):
        mode = modes[round_no % len(modes)]
        infer = mode != "raw"
        live_file.write_text(json.dumps([[i, u, t] for i, (u, t) in model.live.items()]))
        child = spawn("crash_child.py", str(directory), mode, str(seed * 100 + round_no), str(live_file))
        assert child.stdout is not None
        if rng.random() < 0.2:  # sometimes during start-up: opening, recovery, snapshot rebuilds
            time.sleep(rng.uniform(0.2, 1.5))
            early_kills += 1
        else:
            line = child.stdout.readline()
            assert line == "READY\n", f"child failed to start: {line!r} {child.stderr.read() if child.stderr else ''}"
            time.sleep(rng.uniform(0.0, 0.6 if infer else 0.3))
        child.send_signal(signal.SIGKILL)
        out = child.stdout.read()  # through the same buffer readline() used: nothing is skipped
        err = child.stderr.read() if child.stderr else ""
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, f"child exited by itself ({child.returncode}):\n{err[-3000:]}"
        pending: tuple[str, dict[str, Any]] | None = None
        recent: list[str] = []
        for raw in out.splitlines(keepends=True):
            if not raw.endswith("\n"):
                break  # the line the kill cut short
            kind, _, rest = raw.strip().partition(" ")
            assert kind != "MISS", f"an acknowledged memory was not found by search: {rest}"
            if kind == "BEGIN":
                op, _, payload = rest.partition(" ")
                pending = (op, json.loads(payload))
            elif kind == "ACK":
                op, _, payload = rest.partition(" ")
                args = json.loads(payload)
                model.apply(op, args, infer and mode.startswith("double"))
                recent += [r["id"] for r in args.get("results", [])] or [args.get("id", "")]
                pending, acks = None, acks + 1
        if pending is not None:
            with open_memory(directory, graph=False) as peek:
                in_flight_commits += _resolve_in_flight(peek, model, *pending, mode.startswith("double"))
        _check(directory, mode, model, recent, rng)
    leftovers = [f.name for f in directory.iterdir() if f.name.endswith((".faiss.tmp", ".tmp")) or
                 (f.name.startswith(".vectors-") and f.name.endswith(".json"))]
    assert len(leftovers) <= 1, f"temporary files of killed writers pile up: {leftovers}"
    summary = (f"{'/'.join(modes)}: {rounds} kill -9 rounds survived ({early_kills} during start-up), {acks} "
               f"acknowledged operations, {in_flight_commits} in-flight operations found committed, "
               f"{len(model.live)} live memories")
    print("\n" + summary)
    return summary


def test_kill9_verbatim_adds(tmp_path: Path) -> None:
    _run(tmp_path, ["raw"], rounds=25, seed=1)


@_pat
def test_kill9_infer_with_the_default_graph(tmp_path: Path) -> None:
    """infer=True, the pattern extractor and the extractor double taking turns, with the default graph
    (on-disk Oxigraph when installed: its watermark and idempotent replay of the SQLite outbox)."""
    _run(tmp_path, ["pattern-oxigraph", "double-oxigraph"] if HAS_OXIGRAPH else ["pattern-memory"], rounds=25, seed=2)


@_pat
@pytest.mark.slow
def test_kill9_infer_with_memory_graph(tmp_path: Path) -> None:
    """graph="memory" is rebuilt from the outbox at every open (rdflib's memory store: ~35 ms per entry)."""
    _run(tmp_path, ["pattern-memory", "double-memory"], rounds=8, seed=3)


FORGET_CHILD = """
import os, sys
from memlayer.ops import forget
from memlayer.projections.graph import GraphProjection
from memlayer.projections.vectors import VectorProjection
from tests.reliability.extractors import RelationExtractor
from tests.reliability.helpers import open_memory

die = lambda *a, **k: os._exit(9)
mem = open_memory(sys.argv[1], graph=sys.argv[3] == "oxigraph" or "memory", extractor=RelationExtractor())
if sys.argv[2] == "graph":
    GraphProjection.forgotten = die
elif sys.argv[2] == "snapshot":
    VectorProjection.snapshot = die
else:
    forget._checkpoint = die
mem.delete_all(user_id="victim")
"""


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("point", ["graph", "snapshot", "checkpoint"])
def test_kill9_in_the_middle_of_a_forget(tmp_path: Path, point: str, graph: str) -> None:
    """A forget that committed in SQLite but died before the graph, the vector snapshot or the WAL
    checkpoint caught up: the next open finishes the job (and its close leaves no bytes behind)."""
    import subprocess
    import sys

    from tests.reliability.extractors import RelationExtractor
    from tests.reliability.helpers import child_env
    from tests.reliability.test_forget import assert_no_trace

    directory = tmp_path / "store"
    with open_memory(directory, graph=True if graph == "oxigraph" else graph, extractor=RelationExtractor(),
                     snapshot_min=1) as mem:
        for i in range(5):
            mem.add(f"I like qzvsecretmarker{i}", user_id="victim")
        mem.add("I like tea", user_id="bystander")
        rids = [r[0] for r in sql(mem, "SELECT rid FROM memories WHERE user_id = 'victim'")]
    done = subprocess.run([sys.executable, "-c", FORGET_CHILD, str(directory), point, graph], env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr[-3000:]
    with open_memory(directory, graph=True if graph == "oxigraph" else graph, extractor=RelationExtractor()) as mem:
        assert mem.get_all(user_id="victim")["results"] == []
        assert "qzvsecretmarker" not in mem.graph.export("nquads") and "victim" not in mem.graph.export("nquads")
        assert mem.search("qzvsecretmarker1", user_id="victim")["relations"] == []
        assert mem.search("tea", user_id="bystander")["relations"]
        audit(mem)
    assert_no_trace(directory, "victim", "qzvsecretmarker", rids)


def test_temporary_files_of_killed_writers_are_cleaned_up(tmp_path: Path) -> None:
    """A writer killed while writing a vector snapshot leaves a temporary file; the next snapshot removes
    those of dead processes (never those of live ones, which may be writing right now)."""
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(dead.stdout), os.getppid()
    directory = tmp_path / "store"
    with open_memory(directory) as mem:
        mem.add("hello", user_id="u", infer=False)
    stale = [f"vectors-7-{dead_pid}.faiss.tmp", f".vectors-{dead_pid}-x1y2.json"]
    alive = [f"vectors-7-{live_pid}.faiss.tmp", f".vectors-{live_pid}-x1y2.json", "vectors-7-notapid.faiss.tmp"]
    for name in stale + alive:
        (directory / name).write_bytes(b"partial")
    with open_memory(directory) as mem:
        mem.add("world", user_id="u", infer=False)
    names = {f.name for f in directory.iterdir()}
    assert not names & set(stale), "temporary files of a dead writer were left behind"
    assert set(alive) <= names, "a live process's temporary file was removed"
