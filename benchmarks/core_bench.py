"""Core benchmark: add throughput (infer=False) and scoped-search latency, beside raw FAISS.

Embedding time is excluded: a fixed embedder returns precomputed random unit vectors, so the
figures measure memlayer itself (SQLite + FAISS + Python), not a model.

    python benchmarks/core_bench.py --sizes 100000 --users 1000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import faiss
import numpy as np

from memlayer import Memory

DIMS = 384


class PrecomputedEmbedder:
    """Texts "m<i>" map to row i of a fixed random matrix; anything else to a hashed row."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.dims = vectors.shape[1]

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [int(t[1:]) if t.startswith("m") and t[1:].isdigit() else hash(t) % len(self.vectors) for t in texts]
        return self.vectors[rows]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run(size: int, users: int, queries: int, batch: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((size + queries, DIMS), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    emb = PrecomputedEmbedder(vecs)
    owner = rng.integers(0, users, size)
    out: dict[str, float] = {"size": size, "users": users}
    with tempfile.TemporaryDirectory() as tmp, Memory(tmp, embedder=emb, graph=False) as m:
        by_user: dict[int, list[int]] = {}
        for i, u in enumerate(owner):
            by_user.setdefault(int(u), []).append(i)
        t0 = time.perf_counter()
        for u, rows in by_user.items():
            for s in range(0, len(rows), batch):
                m.add([f"m{i}" for i in rows[s:s + batch]], user_id=f"user-{u}", infer=False)
        add_s = time.perf_counter() - t0
        out["add_per_s"] = size / add_s
        qs = [(int(rng.integers(0, users)), f"m{size + j}") for j in range(queries)]
        for preset in ("vector", "default"):
            lat = []
            for u, q in qs:
                t = time.perf_counter()
                m.search(q, user_id=f"user-{u}", limit=10, config=preset)
                lat.append((time.perf_counter() - t) * 1000)
            out[f"search_{preset}_p50_ms"] = statistics.median(lat)
            out[f"search_{preset}_p95_ms"] = pct(lat, 95)
    index = faiss.IndexFlatIP(DIMS)
    index.add(vecs[:size])
    lat, sel_lat = [], []
    ids = np.arange(size, dtype=np.int64)
    for u, q in qs:
        qv = vecs[int(q[1:])].reshape(1, -1)
        t = time.perf_counter()
        index.search(qv, 10)
        lat.append((time.perf_counter() - t) * 1000)
        scope = np.ascontiguousarray(ids[owner == u])
        t = time.perf_counter()
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(len(scope), faiss.swig_ptr(scope)))
        index.search(qv, 10, params=params)
        sel_lat.append((time.perf_counter() - t) * 1000)
    out["faiss_flat_p50_ms"] = statistics.median(lat)
    out["faiss_flat_scoped_p50_ms"] = statistics.median(sel_lat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000", help="comma-separated memory counts")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--batch", type=int, default=500, help="messages per add() call")
    args = ap.parse_args()
    print("| memories | users | add/s (infer=False) | search p50 vector | p95 | search p50 default | p95 "
          "| raw FAISS flat p50 (global) | raw FAISS flat p50 (scope selector) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = run(size, args.users, args.queries, args.batch)
        print(f"| {size:,} | {args.users:,} | {r['add_per_s']:,.0f} | {r['search_vector_p50_ms']:.3f} ms "
              f"| {r['search_vector_p95_ms']:.3f} ms | {r['search_default_p50_ms']:.3f} ms "
              f"| {r['search_default_p95_ms']:.3f} ms | {r['faiss_flat_p50_ms']:.3f} ms "
              f"| {r['faiss_flat_scoped_p50_ms']:.3f} ms |", flush=True)


if __name__ == "__main__":
    main()
