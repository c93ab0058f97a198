"""Threads and processes hammering one PostgreSQL store: nothing acknowledged is lost, no error (deadlock,
serialization failure, pool exhaustion) reaches a caller, no search sees a half-written memory, and every
host's FAISS index ends equal to the store."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from tests.postgres.hosts import audit_vectors, spawn
from tests.reliability.consistency import check_results
from tests.reliability.test_concurrency import Ledger, _thread

THREADS, THREAD_OPS, PROCESSES, PROCESS_OPS = 6, 30, 2, 50


def test_threads_and_processes_hammering_one_database(tmp_path: Path, postgres_url: str) -> None:
    ledger = Ledger()
    children = [spawn("writer.py", str(tmp_path / f"proc{p}"), postgres_url, "false", "work", str(100 + p),
                      str(PROCESS_OPS), stdin=subprocess.PIPE) for p in range(PROCESSES)]
    with Memory(str(tmp_path / "main"), store=postgres_url, embedder=HashingEmbedder(64), graph=False,
                snapshot_min=20) as mem:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "READY\n"
        start = threading.Barrier(THREADS + 1)
        threads = [threading.Thread(target=_thread, args=(mem, f"t{n}", n, ledger, start, False, THREAD_OPS))
                   for n in range(THREADS)]
        for t in threads:
            t.start()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        start.wait()
        for t in threads:
            t.join(300)
        for child in children:
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err[-3000:]
            for line in out.splitlines():
                kind, _, rest = line.partition(" ")
                if kind == "BAD":
                    ledger.problems.append(rest)
                elif kind in ("ADD", "UPD", "DEL"):
                    mid, _, text = rest.partition(" ")
                    ledger.record(kind, mid, text)
        assert ledger.problems == [], ledger.problems[:10]
        for mid, text in ledger.final.items():
            got = mem.get(mid)
            assert (got is None) if text is None else (got is not None and got["memory"] == text), mid
        everything = mem.get_all(user_id="shared", limit=10_000)["results"]
        assert {r["id"] for r in everything} == {m for m, t in ledger.final.items() if t is not None}
        assert check_results(mem, everything) == []
        vectors = mem.async_memory.vectors
        vectors.catch_up()
        audit_vectors(mem.async_memory.store, [int(i) for i in vectors.index.ids()], vectors.index)
    assert ledger.ops >= THREADS * THREAD_OPS
