"""Concurrency: 8 threads and 2 processes writing, updating, deleting and searching one store.

Nothing acknowledged is lost, no "database is locked" (or any other error) reaches the caller, and a
search never returns a half-written memory (metadata not matching its text, or no history).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from tests.reliability.consistency import check_results, digest
from tests.reliability.helpers import DENSE, GRAPHS, audit, open_memory, spawn

THREADS, THREAD_OPS, PROCESSES, PROCESS_OPS = 8, 40, 2, 60


class Ledger:
    """What every writer had acknowledged: id -> final text (None once deleted)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.final: dict[str, str | None] = {}
        self.problems: list[str] = []
        self.ops = 0

    def record(self, kind: str, mid: str, text: str | None = None) -> None:
        with self.lock:
            self.ops += 1
            self.final[mid] = None if kind == "DEL" else text


def _thread(mem: Memory, name: str, seed: int, ledger: Ledger, start: threading.Barrier, infer: bool, ops: int) -> None:
    rng = random.Random(seed)
    mine: list[tuple[str, str]] = []
    start.wait()
    try:
        for i in range(ops):
            roll = rng.random()
            if roll < 0.1 and mine:
                mid, _ = mine.pop(rng.randrange(len(mine)))
                mem.delete(mid)
                ledger.record("DEL", mid)
            elif roll < 0.2 and mine:
                j = rng.randrange(len(mine))
                text = f"{name} revised {i} word{rng.randrange(50)}"
                mem.update(mine[j][0], text, metadata={"writer": name, "digest": digest(text)})
                mine[j] = (mine[j][0], text)
                ledger.record("UPD", mine[j][0], text)
            elif roll < 0.45:
                found = mem.search(f"word{rng.randrange(50)} note", user_id="shared", limit=20)["results"]
                with ledger.lock:
                    ledger.problems += check_results(mem, found)
                    ledger.ops += 1
            else:
                text = f"{name} note {i} word{rng.randrange(50)}"
                out = mem.add(text, user_id="shared", metadata={"writer": name, "digest": digest(text)}, infer=infer)
                mine.append((out["results"][0]["id"], text))
                ledger.record("ADD", mine[-1][0], text)
    except Exception as exc:  # every error is a failure here, "database is locked" first of all
        with ledger.lock:
            ledger.problems.append(f"{name}: {type(exc).__name__}: {exc}")


def _run(directory: Path, graph: Any, thread_ops: int, process_ops: int) -> Ledger:
    ledger = Ledger()
    graph_arg = "none" if graph is False else str(graph)
    children = [spawn("worker_child.py", str(directory), f"proc{p}", str(process_ops), str(100 + p), graph_arg,
                      stdin=-1) for p in range(PROCESSES)]
    options: dict[str, Any] = {}
    if graph is not False:
        from tests.reliability.extractors import RelationExtractor

        options["extractor"] = RelationExtractor()
    with open_memory(directory, graph=graph, snapshot_min=20, **options) as mem:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "READY\n"
        start = threading.Barrier(THREADS)
        threads = [threading.Thread(target=_thread, args=(mem, f"thread{t}", t, ledger, start, graph is not False,
                                                          thread_ops)) for t in range(THREADS)]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        for child in children:
            out, err = child.communicate(timeout=240)
            assert child.returncode == 0, f"worker process failed:\n{err[-4000:]}"
            for line in out.splitlines():
                kind, _, rest = line.partition(" ")
                if kind == "BAD":
                    ledger.problems.append(rest)
                elif kind in ("ADD", "UPD", "DEL"):
                    mid, _, text = rest.partition(" ")
                    ledger.record(kind, mid, text)
                elif kind == "READY":
                    continue
        assert not ledger.problems, "\n".join(ledger.problems[:20])
        _verify(mem, ledger)
    with open_memory(directory, graph=graph) as again:
        _verify(again, ledger)
    return ledger


def _verify(mem: Memory, ledger: Ledger) -> None:
    audit(mem)
    current = {r["id"]: r["memory"] for r in mem.get_all(user_id="shared", limit=100_000)["results"]}
    expected = {mid: text for mid, text in ledger.final.items() if text is not None}
    assert current == expected, "memories lost, resurrected or with a stale text"
    assert not check_results(mem, mem.get_all(user_id="shared", limit=100_000)["results"])
    for mid, text in list(expected.items())[:40]:
        assert mid in {r["id"] for r in mem.search(text, user_id="shared", limit=5, config=DENSE)["results"]}


def test_threads_and_processes_share_one_store(tmp_path: Path) -> None:
    ledger = _run(tmp_path / "store", graph=False, thread_ops=THREAD_OPS, process_ops=PROCESS_OPS)
    print(f"\nconcurrency: {THREADS} threads + {PROCESSES} processes, {ledger.ops} operations, "
          f"{sum(t is not None for t in ledger.final.values())} memories kept, 0 errors")


@pytest.mark.parametrize("graph", GRAPHS[:1])
def test_threads_and_processes_with_infer_and_graph(tmp_path: Path, graph: str) -> None:
    ledger = _run(tmp_path / "store", graph=graph, thread_ops=15, process_ops=25)
    print(f"\nconcurrency (infer=True, graph={graph}): {ledger.ops} operations, 0 errors")


def test_racing_updates_of_one_memory(tmp_path: Path) -> None:
    """Threads re-embedding the same memories at once: the index must end with SQLite's vector, not with
    whichever thread's vector happened to be applied last."""
    with open_memory(tmp_path / "store") as mem:
        ids = [mem.add(f"seed text {i}", user_id="u", infer=False)["results"][0]["id"] for i in range(3)]
        errors: list[str] = []
        start = threading.Barrier(6)

        def hammer(t: int) -> None:
            rng = random.Random(t)
            start.wait()
            try:
                for n in range(30):
                    mid = rng.choice(ids)
                    text = f"thread {t} text {n} topic{rng.randrange(100)}"
                    mem.update(mid, text, metadata={"writer": f"t{t}", "digest": digest(text)})
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=hammer, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        audit(mem)
        for mid in ids:
            row = mem.get(mid)
            assert row is not None
            assert mem.search(row["memory"], user_id="u", limit=1)["results"][0]["id"] == mid
