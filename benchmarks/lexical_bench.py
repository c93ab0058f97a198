"""The lexical retriever's designs side by side on one store built by scale_bench.py (issue 19).

Builds, in a scratch database beside the store, the two full-text layouts it replaced, and times the same
scoped queries (a random user's, the query words of benchmarks/synth.py) on each:

* ``table-wide bm25``: the index of the text alone, keyed by row id; ``bm25()`` over the whole table joined to
  the user's memories (the retriever before issue 19);
* ``scope tokens``: the text and the scope as tokens, keyed by row id; per query term, FTS5's match of the
  term AND the user's token, term frequencies by ``highlight()`` (issue 19's first design);
* ``key ranges``: the store's own index, keyed by user: the same per-term matches inside the user's key range,
  and memlayer's whole retriever (``Store.lexical`` given the selection's row ids, as a search gives them).

    python benchmarks/lexical_bench.py --path /tmp/memlayer-stores/1000000 --size 1000000
    python benchmarks/lexical_bench.py --path /tmp/memlayer-stores/1000000 --size 1000000 --scoring

``--scoring``: only the whole retriever, its BM25 of a scope's matches computed match by match (below
``lexical.ARRAY_ROWS`` matches, as memlayer does) and always in arrays, alternating, three rounds (no scratch).

Wall and CPU milliseconds per query (median of ``--queries``); the scratch database is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import Synth  # noqa: E402

from memlayer.search.lexical import terms  # noqa: E402
from memlayer.storage.base import Selection  # noqa: E402
from memlayer.storage.sqlite import SQLiteStore, lexical  # noqa: E402
from memlayer.storage.sqlite.lexical import phrase, user_range  # noqa: E402
from memlayer.types import Scope  # noqa: E402


def build(scratch: sqlite3.Connection) -> None:
    scratch.execute("CREATE VIRTUAL TABLE byrid USING fts5(text, content='', tokenize='porter unicode61')")
    scratch.execute("CREATE VIRTUAL TABLE bytoken USING fts5(text, scope, tokenize='porter unicode61')")
    scratch.execute("BEGIN")
    scratch.execute("INSERT INTO byrid(rowid, text) SELECT rid, text FROM s.memories")
    scratch.execute("INSERT INTO bytoken(rowid, text, scope) SELECT rid, text, 'u' || hex(user_id) || '0' FROM s.memories")
    scratch.execute("COMMIT")


def timed(label: str, run: Callable[[list[str], str], object], queries: list[tuple[list[str], str]]) -> None:
    for words, user in queries[:30]:
        run(words, user)
    wall, cpu = [], []
    for words, user in queries:
        t, c = time.perf_counter(), time.thread_time()
        run(words, user)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    print(f"| {label} | {np.median(wall) * 1000:.3f} | {np.median(cpu) * 1000:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True, help="a store directory built by scale_bench.py (--keep)")
    ap.add_argument("--size", type=int, required=True, help="the number of memories it was built with")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--scoring", action="store_true", help="only the retriever: match by match against arrays")
    args = ap.parse_args()
    synth = Synth()
    rng = np.random.default_rng(2)
    queries = [(terms(synth.query(args.size + j)), f"user-{int(rng.integers(0, args.users))}")
               for j in range(args.queries)]
    store = SQLiteStore(os.path.join(args.path, "memlayer.db"))
    rows = {u: store.select_rids(Selection(Scope(u))) for _, u in queries}
    if args.scoring:
        scoring(store, queries, rows)
        store.close()
        return
    with tempfile.TemporaryDirectory(dir=args.path) as tmp:
        scratch = sqlite3.connect(os.path.join(tmp, "scratch.db"), isolation_level=None)
        scratch.execute(f"ATTACH 'file:{os.path.join(args.path, 'memlayer.db')}?mode=ro' AS s")
        t = time.perf_counter()
        build(scratch)
        print(f"(scratch indexes built in {time.perf_counter() - t:.0f} s; load average {os.getloadavg()})\n")
        print("| design | wall ms p50 | CPU ms p50 |\n|---|---:|---:|")

        def table_wide(words: list[str], user: str) -> object:
            return scratch.execute(
                "SELECT f.rowid, bm25(byrid) AS s FROM byrid f JOIN s.memories m ON m.rid = f.rowid "
                "WHERE byrid MATCH ? AND m.user_id = ? AND m.valid_to IS NULL ORDER BY s LIMIT 100",
                (" OR ".join(phrase(w) for w in words), user)).fetchall()

        def scope_tokens(words: list[str], user: str) -> object:
            token = "u" + user.encode().hex().upper() + "0"
            parts = " UNION ALL ".join(
                f"SELECT {i}, rowid, highlight(bytoken, 0, char(1), '') FROM bytoken WHERE bytoken MATCH ?"
                for i in range(len(words)))
            return scratch.execute(parts, [f"scope : {phrase(token)} AND text : {phrase(w)}" for w in words]).fetchall()

        conn = store._db.writer  # the store's own index, queried as the scope-token layout above is

        def key_ranges(words: list[str], user: str) -> object:
            span = user_range(conn, user)
            assert span is not None
            parts = " UNION ALL ".join(
                f"SELECT {i}, rowid, highlight(memories_fts, 0, char(1), '') FROM memories_fts "
                "WHERE memories_fts MATCH ? AND rowid BETWEEN ? AND ?" for i in range(len(words)))
            return conn.execute(parts, [a for w in words for a in (f"text : {phrase(w)}", *span)]).fetchall()

        def retriever(words: list[str], user: str) -> object:
            return store.lexical(Selection(Scope(user)), words, 100, None, rows[user])

        timed("table-wide bm25() joined to the scope (before)", table_wide, queries)
        timed("scope tokens: per-term match AND the user's token, highlight()", scope_tokens, queries)
        timed("key ranges: per-term match inside the user's range, highlight()", key_ranges, queries)
        timed("key ranges, the whole retriever (Store.lexical: lengths, BM25, snapshot)", retriever, queries)
        scratch.close()
    store.close()


def scoring(store: SQLiteStore, queries: list[tuple[list[str], str]], rows: dict[str, np.ndarray]) -> None:
    """The whole retriever with a scope's matches scored match by match (memlayer's way below ARRAY_ROWS) and
    in arrays, alternating."""
    def retriever(words: list[str], user: str) -> object:
        return store.lexical(Selection(Scope(user)), words, 100, None, rows[user])

    print("| BM25 of the matches | wall ms p50 | CPU ms p50 |\n|---|---:|---:|")
    default = lexical.ARRAY_ROWS
    for _ in range(3):
        lexical.ARRAY_ROWS = 0
        timed("in arrays", retriever, queries)
        lexical.ARRAY_ROWS = default
        timed(f"match by match below {default} matches", retriever, queries)


if __name__ == "__main__":
    main()
