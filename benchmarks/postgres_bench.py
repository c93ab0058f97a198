"""PostgreSQL beside SQLite on the same machine, in the same run: ingestion, scoped search, a new process
catching up, and the cost of one write in one process being found by a search in another.

Synthetic embedding-like data (benchmarks/synth.py; embedding excluded: the embedder is a lookup), 1,000
users, every memory of the agent "assistant" (as scale_bench.py). PostgreSQL 15 is started by
tests/servers (initdb in a temporary directory, fsync on, loopback TCP with a password, as a client sees
it); nothing is tuned. Prints a Markdown table and, with --json, writes the figures.

    python benchmarks/postgres_bench.py --size 100000 --users 1000 --queries 300 --json /tmp/pg_bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests.servers
from synth import Synth, SynthEmbedder  # noqa: E402

from memlayer import Memory  # noqa: E402
from tests.servers import PostgresServer  # noqa: E402

TAIL = 2000  # the last rows go through add(), 10 messages per call, each call's rows to its first row's user
WRITER = """
import sys
sys.path.insert(0, sys.argv[3])
from synth import Synth, SynthEmbedder
from memlayer import Memory
synth = Synth()
m = Memory(sys.argv[1], store=sys.argv[2], embedder=SynthEmbedder(synth), graph=False)
print("READY", flush=True)
for line in sys.stdin:
    row, user = line.split()
    m.add(synth.text(int(row)), user_id=user, agent_id="assistant", infer=False)
    print("ACK", flush=True)
"""


def ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000
    return {"p50": round(float(np.median(arr)), 3), "p95": round(float(np.percentile(arr, 95)), 3)}


def owners(size: int, users: int) -> np.ndarray:
    owner = np.random.default_rng(1).integers(0, users, size)
    for s in range(size - TAIL, size, 10):
        owner[s:s + 10] = owner[s]
    return owner


def fill(m: Memory, synth: Synth, owner: np.ndarray, size: int) -> dict[str, float]:
    out: dict[str, float] = {}
    records = ({"text": synth.text(i), "user_id": f"user-{owner[i]}", "agent_id": "assistant"}
               for i in range(size - TAIL))
    res = m.bulk_add(records, batch_size=2000)
    out["bulk_add_per_s"] = round((size - TAIL) / res["seconds"])
    t = time.perf_counter()
    for s in range(size - TAIL, size, 10):
        m.add([synth.text(i) for i in range(s, s + 10)], user_id=f"user-{owner[s]}", agent_id="assistant",
              infer=False)
    elapsed = time.perf_counter() - t
    out["add_rows_per_s"] = round(TAIL / elapsed)
    out["add_calls_per_s"] = round(TAIL / 10 / elapsed, 1)
    return out


def searches(m: Memory, synth: Synth, emb: SynthEmbedder, qs: list[tuple[int, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for qid, u in qs:  # warm-up (page cache, prepared statements)
        m.search(synth.query(qid), user_id=f"user-{u}", limit=10, config="vector")
    for preset in ("vector", "default"):
        lat = []
        for qid, u in qs:
            t = time.perf_counter()
            m.search(synth.query(qid), user_id=f"user-{u}", limit=10, config=preset)
            lat.append(time.perf_counter() - t)
        out[f"search_{preset}_ms"] = ms(lat)
    from memlayer.search.lexical import terms
    from memlayer.storage import Selection
    from memlayer.types import Scope

    store, lat, wide = m.async_memory.store, [], []
    for qid, u in qs:
        t = time.perf_counter()
        store.lexical(Selection(Scope(user_id=f"user-{u}")), terms(synth.query(qid)), 100)
        lat.append(time.perf_counter() - t)
    for qid, _ in qs[:30]:  # one scope holding every memory: the agent-wide search
        t = time.perf_counter()
        store.lexical(Selection(Scope(agent_id="assistant")), terms(synth.query(qid)), 100)
        wide.append(time.perf_counter() - t)
    out["lexical_user_ms"] = ms(lat)
    out["lexical_agent_wide_ms"] = ms(wide)
    return out


def open_timed(path: str, store: str | None, emb: SynthEmbedder) -> tuple[Memory, float, str | None]:
    t = time.perf_counter()
    m = Memory(path, store=store, embedder=emb, graph=False)
    return m, time.perf_counter() - t, m.async_memory.vectors.rebuilt_reason


def cross_process(url: str, synth: Synth, emb: SynthEmbedder, owner: np.ndarray, size: int, work: str,
                  n: int) -> dict[str, Any]:
    """A second process adds a row; this one searches for it at once. Reports the writer's add round trip,
    this process's search right after it (catching up one log entry first) and a search with nothing new."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, os.path.join(work, "writer"), url, HERE],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None and child.stdout.readline().strip() == "READY"
    emb.pin(size + 1000, size + 1000 + n)
    m = Memory(os.path.join(work, "reader"), store=url, embedder=emb, graph=False)
    write, fresh, steady, found = [], [], [], 0
    for k in range(n):
        row, user = size + 1000 + k, f"user-{owner[k]}"
        t = time.perf_counter()
        child.stdin.write(f"{row} {user}\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ACK"
        write.append(time.perf_counter() - t)
        query = synth.text(row)
        t = time.perf_counter()
        hits = m.search(query, user_id=user, limit=1, config="vector")["results"]
        fresh.append(time.perf_counter() - t)
        found += bool(hits) and hits[0]["memory"] == query
        t = time.perf_counter()
        m.search(query, user_id=user, limit=1, config="vector")
        steady.append(time.perf_counter() - t)
    child.stdin.close()
    child.wait(60)
    m.close()
    return {"writer_add_ms": ms(write), "search_after_remote_write_ms": ms(fresh),
            "search_nothing_new_ms": ms(steady), "found_at_once": f"{found}/{n}"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    size, users = args.size, args.users
    synth = Synth()
    emb = SynthEmbedder(synth)
    owner = owners(size, users)
    rng = np.random.default_rng(2)
    qs = [(size + j, int(rng.integers(0, users))) for j in range(args.queries)]
    emb.pin(size, size + args.queries)
    results: dict[str, Any] = {"size": size, "users": users, "queries": args.queries}
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as work:
        url = pg.create_database("bench") + "?schema=bench"
        results["server"] = pg.version
        for backend, store in (("sqlite", None), ("postgresql", url)):
            path = os.path.join(work, backend)
            out: dict[str, Any] = {}
            with Memory(path, store=store, embedder=emb, graph=False) as m:
                out.update(fill(m, synth, owner, size))
                if store is not None:
                    m.async_memory.store.query("ANALYZE memories")
            m, out["reopen_s"], out["reopen_rebuilt"] = open_timed(path, store, emb)
            out.update(searches(m, synth, emb, qs))
            if store is not None:
                from memlayer.search.lexical import terms
                from memlayer.storage import Selection
                from memlayer.storage.postgres import sql
                from memlayer.types import Scope

                for label, scope in (("plan_user", Scope(user_id=f"user-{qs[0][1]}")),
                                     ("plan_agent_wide", Scope(agent_id="assistant"))):
                    text, params = sql.lexical(Selection(scope), terms(synth.query(qs[0][0])), 100)  # type: ignore[misc]
                    out[label] = [r[0] for r in m.async_memory.store.query("EXPLAIN ANALYZE " + text, params)]
            m.close()
            results[backend] = out
        fresh = os.path.join(work, "new-host")
        m, results["postgresql"]["new_process_catch_up_s"], reason = open_timed(fresh, url, emb)
        results["postgresql"]["new_process_rebuilt"] = reason
        m.close()
        results["postgresql"]["cross_process"] = cross_process(url, synth, emb, owner, size, work, args.writes)
    return results


def table(r: dict[str, Any]) -> str:
    s, p = r["sqlite"], r["postgresql"]
    rows = [
        ("bulk_add (rows/s)", s["bulk_add_per_s"], p["bulk_add_per_s"]),
        ("add(), 10 messages per call (rows/s)", s["add_rows_per_s"], p["add_rows_per_s"]),
        ("search p50 / p95, `vector` (ms)", _pp(s["search_vector_ms"]), _pp(p["search_vector_ms"])),
        ("search p50 / p95, `default` (ms)", _pp(s["search_default_ms"]), _pp(p["search_default_ms"])),
        ("lexical step, a user's scope p50 (ms)", s["lexical_user_ms"]["p50"], p["lexical_user_ms"]["p50"]),
        (f"lexical step, one scope of all {r['size']:,} p50 (ms)", s["lexical_agent_wide_ms"]["p50"],
         p["lexical_agent_wide_ms"]["p50"]),
        ("reopen with its snapshot (s)", round(s["reopen_s"], 2), round(p["reopen_s"], 2)),
        ("a new process (empty directory) catching up (s)", "-", round(p["new_process_catch_up_s"], 2)),
    ]
    cp = p["cross_process"]
    lines = [f"| {r['size']:,} memories, {r['users']:,} users | SQLite | PostgreSQL {r['server'].split()[0]} |",
             "|---|---:|---:|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append(f"\nCross-process write-to-search (PostgreSQL, {cp['found_at_once']} found by the very next search): "
                 f"the writer's add() {_pp(cp['writer_add_ms'])} ms; the reader's next search "
                 f"{_pp(cp['search_after_remote_write_ms'])} ms, against {_pp(cp['search_nothing_new_ms'])} ms "
                 "with nothing new (p50 / p95).")
    return "\n".join(lines)


def _pp(d: dict[str, float]) -> str:
    return f"{d['p50']:.2f} / {d['p95']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = run(args)
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
