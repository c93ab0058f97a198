"""Searches beside writes: scoped search latency while the same process writes (SQLite).

One process, one store on disk built here (``bulk_add`` of synthetic memories, benchmarks/synth.py; the
embedder is a lookup, so embedding is excluded). Three rows, each over the same scoped queries (sync face):

* ``alone``: searches only, recall counting off;
* ``recalls``: searches only, recall counting on (the counts are written in batches on the engine's helper
  thread, ``retention.recall_flush_size`` memories at a time);
* ``writer``: searches while a second thread keeps calling ``add()`` (10 memories a call, ``infer=False``) for
  other users; its adds per second are reported beside the searches.

    python benchmarks/contention_bench.py --size 100000 --queries 600 --out benchmarks/results/contention.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import Synth, SynthEmbedder  # noqa: E402

from memlayer import Memory  # noqa: E402


def build(path: str, synth: Synth, emb: SynthEmbedder, size: int, users: int) -> None:
    owner = np.random.default_rng(1).integers(0, users, size)
    records = ({"text": synth.text(i), "user_id": f"user-{owner[i]}"} for i in range(size))
    with Memory(path, embedder=emb, graph=False, retention={"track_recalls": False}) as m:
        m.bulk_add(records, batch_size=5000)


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000
    return {"p50": float(np.median(a)), "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max())}


def run(path: str, synth: Synth, emb: SynthEmbedder, size: int, users: int, queries: int, mode: str,
        preset: str) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    qs = [(size + j, f"user-{int(rng.integers(0, users))}") for j in range(queries)]
    retention = {"track_recalls": mode == "recalls", "sweep_interval": None}
    stop = threading.Event()
    written = [0]
    start_row = size + queries + 1_000_000 * (1 + ["alone", "recalls", "writer"].index(mode))

    with Memory(path, embedder=emb, graph=False, retention=retention) as m:
        for text_row, user in qs[:100]:  # warm: the index loaded, pages cached
            m.search(synth.query(text_row), user_id=user, limit=10, config=preset)

        def writer() -> None:
            row = start_row
            while not stop.is_set():
                m.add([synth.text(i) for i in range(row, row + 10)], user_id=f"writer-{row % 97}", infer=False)
                row += 10
                written[0] += 10

        thread = threading.Thread(target=writer, daemon=True) if mode == "writer" else None
        if thread is not None:
            thread.start()
            time.sleep(0.5)  # the writer under way before the first timed search
        lat: list[float] = []
        t0 = time.perf_counter()
        for text_row, user in qs:
            t = time.perf_counter()
            m.search(synth.query(text_row), user_id=user, limit=10, config=preset)
            lat.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - t0
        stop.set()
        if thread is not None:
            thread.join()
    out: dict[str, Any] = {"mode": mode, **percentiles(lat), "searches_per_s": queries / elapsed}
    if mode == "writer":
        out["adds_per_s"] = written[0] / elapsed
    return out


def table(rows: list[dict[str, Any]], header: str) -> str:
    lines = [header, "", "| mode | p50 ms | p95 ms | p99 ms | max ms | searches/s | memories added/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        added = f"{r['adds_per_s']:.0f}" if "adds_per_s" in r else "—"
        lines.append(f"| {r['mode']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
                     f"{r['searches_per_s']:.0f} | {added} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--queries", type=int, default=600)
    p.add_argument("--preset", default="default")
    p.add_argument("--modes", default="alone,recalls,writer")
    p.add_argument("--path", default=None, help="a store built by an earlier run (default: built here, removed)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    synth = Synth()
    emb = SynthEmbedder(synth)
    emb.pin(args.size, args.size + args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or tmp
        if not os.path.exists(os.path.join(path, "memlayer.db")):
            build(path, synth, emb, args.size, args.users)
        rows = [run(path, synth, emb, args.size, args.users, args.queries, mode, args.preset)
                for mode in args.modes.split(",")]
    header = (f"{args.size:,} memories, {args.users} users, {args.queries} scoped `{args.preset}` searches per row; "
              f"load average {os.getloadavg()[0]:.1f}\n\n`python benchmarks/contention_bench.py "
              f"{' '.join(argv if argv is not None else sys.argv[1:])}`")
    text = table(rows, header)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
