"""Sweep benchmark: forgetting expired memories and enforcing budgets in a store of 1M memories.

A SQLite store on disk is filled directly through the store's own transaction verbs (the write path's
embedding and checks are not what is measured here): ``--size`` memories over ``--users`` users, 64-d
random vectors, a tenth of them expiring (half of those long enough ago to be past the grace period), then
opened as a ``Memory`` (the vector index catches up from the store). Measured, each on the same store:

* a sweep with nothing due (what the throttled sweep inside ``add()`` costs once an interval);
* the query a search's scope read gains from the expiry condition (the covering scope index holds it);
* forgetting the memories past the grace period (rows, vectors, full-text entries, history), batch by batch;
* a sweep right after (idempotent: nothing left);
* budgets: a store-wide cap below every user's count, so every scope closes its least valuable memories; then
  a manual sweep (counts every scope) and an automatic one (skips the count while no cap changed).

    python benchmarks/sweep_bench.py --size 1000000 --users 10000 --out benchmarks/results/sweep.md
    python benchmarks/sweep_bench.py --size 20000 --users 200           # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMS = 64
NOW = 1_750_000_000.0  # the benchmark's clock: 2025-06-15
DAY = 86_400.0


class Embedder:
    dims = DIMS

    def embed(self, texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
        return rng.standard_normal((len(texts), DIMS)).astype(np.float32)


def fill(path: str, size: int, users: int, batch: int = 20_000) -> dict[str, int]:
    """Rows straight into the store: (text, vector, scope, times, expiry)."""
    from memlayer.storage.base import HistoryEntry, NewMemory
    from memlayer.storage.sqlite import SQLiteStore
    from memlayer.types import Scope

    rng = np.random.default_rng(20)
    store = SQLiteStore(os.path.join(path, "memlayer.db"))
    store.set_meta("dims", str(DIMS))
    counts = {"due": 0, "in_grace": 0, "future": 0}
    words = np.array(["tea", "coffee", "paris", "lisbon", "run", "swim", "book", "film", "code", "garden", "music", "train", "dog", "cat"])
    try:
        for start in range(0, size, batch):
            n = min(batch, size - start)
            vectors = rng.standard_normal((n, DIMS)).astype(np.float32)
            owner = rng.integers(0, users, n)
            created = NOW - rng.uniform(30, 400, n) * DAY
            kind = rng.random(n)  # < 0.05: past the grace period; < 0.10: expired lately; else never or later
            rows, history = [], []
            for i in range(n):
                expires = None
                if kind[i] < 0.05:
                    expires, key = NOW - rng.uniform(31, 60) * DAY, "due"
                elif kind[i] < 0.07:
                    expires, key = NOW - rng.uniform(1, 29) * DAY, "in_grace"
                elif kind[i] < 0.10:
                    expires, key = NOW + rng.uniform(1, 60) * DAY, "future"
                if expires is not None:
                    counts[key] += 1
                text = " ".join(words[rng.integers(0, len(words), 8)])
                mid = str(uuid.uuid4())
                scope = Scope(f"user{owner[i]}")
                rows.append(NewMemory(mid, scope, text, f"h{start + i}", vectors[i], float(created[i]),
                                      expires_at=None if expires is None else float(expires)))
                history.append(HistoryEntry(mid, "ADD", None, text, float(created[i]), scope))
            with store.transaction() as tx:
                tx.insert_memories(rows)
                tx.add_history(history)
    finally:
        store.close()
    return counts


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def run(args: argparse.Namespace) -> str:
    from memlayer import Memory
    from memlayer.clock import ManualClock
    from memlayer.storage.base import Selection
    from memlayer.types import Scope

    path = tempfile.mkdtemp(prefix="memlayer-sweep-", dir=args.dir)
    lines: list[str] = []
    try:
        counts, fill_s = timed(fill, path, args.size, args.users)
        lines.append(f"Filled {args.size:,} memories for {args.users:,} users in {fill_s:.0f} s: {counts['due']:,} "
                     f"expired past the 30-day grace period, {counts['in_grace']:,} expired within it, "
                     f"{counts['future']:,} expiring later.")
        clock = ManualClock(datetime.fromtimestamp(NOW, timezone.utc))
        retention = {"grace_period": "30d", "sweep_interval": None, "sweep_batch": args.batch}
        m, open_s = timed(Memory, path, embedder=Embedder(), graph=False, clock=clock, retention=retention)
        engine = m.async_memory.engine
        store = engine.store
        lines.append(f"Opened in {open_s:.1f} s (the vector index caught up from the store); sweep batch "
                     f"{args.batch:,} memories per transaction. Load average at the start: "
                     f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}.")
        lines += ["", "| step | time | what it did |", "|---|---:|---|"]

        # the expiry condition on a search's scope read
        users = [Scope(f"user{u}") for u in np.random.default_rng(3).integers(0, args.users, 200)]
        timings: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(5):  # interleaved rounds: a busy machine slows both alike
            for label, now in (("without", None), ("with", clock.now())):
                t0 = time.perf_counter()
                for s in users:
                    store.scope_rows(Selection(s, now=now), [])
                timings[label].append((time.perf_counter() - t0) / len(users) * 1000)
        for label, now in (("without", None), ("with", clock.now())):
            lines.append(f"| a scope's rows {label} the expiry condition (median of 5 rounds of 200 users) | "
                         f"{float(np.median(timings[label])):.3f} ms | "
                         f"{len(store.select_rids(Selection(users[0], now=now)))} rows for the first user |")

        from memlayer.ops.sweep import purge

        # nothing due: the same sweep a moment before the due memories' grace began
        early = ManualClock(datetime.fromtimestamp(NOW - 90 * DAY, timezone.utc))
        engine.clock = early
        report, idle_s = timed(m.sweep)
        lines.append(f"| sweep with nothing due (no caps) | {idle_s * 1000:.1f} ms | forgot {report['forgotten']} |")
        engine.clock = clock
        (forgotten, complete), purge_s = timed(purge, engine, NOW)
        _, catch_s = timed(engine.vectors.catch_up)
        lines.append(f"| forget the memories past the grace period | {purge_s:.1f} s | {forgotten:,} memories "
                     f"({forgotten / purge_s:,.0f}/s), rows + vectors log + full-text + history |")
        lines.append(f"| the vector index catches up with those deletions | {catch_s:.2f} s | |")
        report, again_s = timed(m.sweep)
        lines.append(f"| sweep again right after | {again_s * 1000:.1f} ms | forgot {report['forgotten']}, closed "
                     f"{report['closed']} |")
        counts, counts_s = timed(store.scope_counts, NOW, 0)
        lines.append(f"| count current memories per scope (the budget check) | {counts_s * 1000:.0f} ms | "
                     f"{len(counts):,} scopes, largest {max(counts.values()):,} |")
        cap = int(np.percentile(list(counts.values()), 10))
        m.close()
        retention["max_memories"] = cap
        m = Memory(path, embedder=Embedder(), graph=False, clock=clock, retention=retention)
        report, budget_s = timed(m.sweep)
        lines.append(f"| budgets: a cap of {cap} current memories per scope | {budget_s:.1f} s | closed "
                     f"{report['closed']:,} (each with a history entry) |")
        report, again_s = timed(m.sweep)
        lines.append(f"| sweep again right after (`Memory.sweep()` counts every scope again) | "
                     f"{again_s * 1000:.0f} ms | closed {report['closed']} |")
        from memlayer.ops.sweep import sweep

        report, auto_s = timed(sweep, m.async_memory.engine, limit=args.batch, automatic=True)
        lines.append(f"| an automatic sweep (inside `add()`) right after: the caps are unchanged, no count | "
                     f"{auto_s * 1000:.1f} ms | closed {report['closed']} |")
        m.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1000, help="retention.sweep_batch")
    p.add_argument("--dir", default=None, help="where to build the store (a temporary directory, removed after)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    text = (f"`python benchmarks/sweep_bench.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n\n"
            + run(args) + "\n")
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
