"""Searches while the vector index is snapshotted: scoped search latency while the same process writes its
vector index snapshot (what a catch-up starts once a quarter of the index is new, and close, forget and rebuild
do), beside the same searches alone.

Uses a store that ``scale_bench.py --phase build`` made (``--path``; the embedder is a lookup, so embedding is
excluded). One process: a thread runs scoped searches back to back; after a quiet stretch the main thread calls
``vectors.snapshot(force=True)``. Each round reports the snapshot's duration and the searches' latency while it
ran and while none did.

    python benchmarks/snapshot_bench.py --path /tmp/s/1m --size 1000000 --users 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import Synth, SynthEmbedder  # noqa: E402

from memlayer import Memory  # noqa: E402


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000 if values else np.zeros(1)
    return {"n": len(values), "p50": float(np.median(a)), "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def round_(m: Memory, synth: Synth, qs: list[tuple[int, str]], preset: str, quiet_s: float) -> dict[str, Any]:
    """One snapshot beside a thread of searches: (latencies alone, latencies during the snapshot, its duration)."""
    stop = threading.Event()
    marks: list[tuple[float, float]] = []  # (start, end) of every search

    def searcher() -> None:
        i = 0
        while not stop.is_set():
            text_row, user = qs[i % len(qs)]
            t = time.perf_counter()
            m.search(synth.query(text_row), user_id=user, limit=10, config=preset)
            marks.append((t, time.perf_counter()))
            i += 1

    thread = threading.Thread(target=searcher)
    thread.start()
    time.sleep(quiet_s)
    t0 = time.perf_counter()
    m.async_memory.vectors.snapshot(force=True)
    t1 = time.perf_counter()
    time.sleep(0.2)
    stop.set()
    thread.join()
    alone = [e - s for s, e in marks if e < t0]
    during = [e - s for s, e in marks if e > t0 and s < t1]  # overlapping the snapshot
    return {"snapshot_s": t1 - t0, "alone": percentiles(alone), "during": percentiles(during)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--path", required=True, help="a store built by scale_bench.py --phase build")
    p.add_argument("--size", type=int, required=True, help="the memories it holds (as given to scale_bench.py)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--approximate-after", type=int, default=200_000)
    p.add_argument("--preset", default="vector")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quiet", type=float, default=2.0, help="seconds of searches alone before each snapshot")
    args = p.parse_args(argv)
    synth = Synth()
    emb = SynthEmbedder(synth)
    emb.pin(args.size, args.size + args.queries)
    rng = np.random.default_rng(2)
    qs = [(args.size + j, f"user-{int(rng.integers(0, args.users))}") for j in range(args.queries)]
    with Memory(args.path, embedder=emb, graph=False, retention={"track_recalls": False, "sweep_interval": None},
                vector_index={"provider": "faiss", "config": {"approximate_after": args.approximate_after}}) as m:
        for text_row, user in qs:  # warm: pages cached
            m.search(synth.query(text_row), user_id=user, limit=10, config=args.preset)
        rows = [round_(m, synth, qs, args.preset, args.quiet) for _ in range(args.rounds)]
    print(f"{args.size:,} memories; scoped `{args.preset}` searches on a thread; load average "
          f"{os.getloadavg()[0]:.1f}\n\n`python benchmarks/snapshot_bench.py "
          f"{' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    print("| round | snapshot s | alone: p50 / p99 / max ms | during it: searches | p50 / p99 / max ms |")
    print("|---|---:|---|---:|---|")
    for i, r in enumerate(rows, 1):
        a, d = r["alone"], r["during"]
        print(f"| {i} | {r['snapshot_s']:.2f} | {a['p50']:.2f} / {a['p99']:.2f} / {a['max']:.1f} | {d['n']} | "
              f"{d['p50']:.2f} / {d['p99']:.2f} / {d['max']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
