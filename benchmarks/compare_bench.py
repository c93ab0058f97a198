"""memlayer beside mem0 (OSS, FAISS vector store) and LangChain's InMemoryVectorStore and FAISS wrapper.

The same synthetic memories, users and precomputed embeddings (benchmarks/synth.py) for all: adds
with ``infer=False`` (no LLM), then user-scoped searches (k=10) timed and checked against the exact
top-10 of the user's own memories. mem0 and langchain-community are benchmark-only dependencies:

    python -m venv ../bench-venv && . ../bench-venv/bin/activate
    pip install -e . mem0ai langchain-community matplotlib
    MEM0_TELEMETRY=False python benchmarks/compare_bench.py --size 10000 --mem0-size 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import Synth, SynthEmbedder  # noqa: E402

os.environ.setdefault("MEM0_TELEMETRY", "False")


def ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000
    return {"p50": float(np.median(arr)), "p95": float(np.percentile(arr, 95))}


class Case:
    """One system under test: ``add(texts, user)`` a batch, ``search(query_text, user) -> row numbers``."""

    name = ""
    add: Callable[[list[str], str], None]
    search: Callable[[str, str], list[int]]

    def close(self) -> None:
        pass


def row_of(text: str) -> int:
    return int(text.split(" ", 1)[0][1:])


class Memlayer(Case):
    name = "memlayer"

    def __init__(self, emb: SynthEmbedder, tmp: str) -> None:
        from memlayer import Memory

        self.m = Memory(os.path.join(tmp, "memlayer"), embedder=emb, graph=False)
        self.add = lambda texts, user: self.m.add(texts, user_id=user, infer=False)
        self.search = lambda q, user: [row_of(r["memory"]) for r in self.m.search(
            q, user_id=user, limit=10, config="vector")["results"]]

    def close(self) -> None:
        self.m.close()


class Mem0(Case):
    name = "mem0 (FAISS store)"

    def __init__(self, emb: SynthEmbedder, tmp: str) -> None:
        from mem0 import Memory

        config = {
            "vector_store": {"provider": "faiss", "config": {
                "collection_name": "bench", "path": os.path.join(tmp, "mem0"), "embedding_model_dims": emb.dims}},
            "embedder": {"provider": "openai", "config": {"api_key": "unused", "embedding_dims": emb.dims}},
            "llm": {"provider": "openai", "config": {"api_key": "unused", "model": "gpt-4o-mini"}},
            "history_db_path": os.path.join(tmp, "mem0-history.db"),
        }
        self.m = Memory.from_config(config)

        class Embedder:  # the same precomputed vectors; mem0 calls embed(text, action)
            def embed(self, text: str, memory_action: str | None = None) -> list[float]:
                return emb.embed([text])[0].tolist()

            def embed_batch(self, texts: list[str], memory_action: str | None = None) -> list[list[float]]:
                return emb.embed(texts).tolist()

        self.m.embedding_model = Embedder()
        self.add = lambda texts, user: self.m.add([{"role": "user", "content": t} for t in texts], user_id=user,
                                                   infer=False)
        self.fill = self._fill
        self.search = lambda q, user: [row_of(r["memory"]) for r in self.m.search(
            q, filters={"user_id": user}, top_k=10, threshold=0.0)["results"]]


    def _fill(self, texts: list[str], users: list[str], vectors: np.ndarray) -> None:
        """Write rows straight into mem0's vector store as its add() would (one insert call): mem0's
        own add() runs ~25/s here, too slow for 100k; search is what this measures."""
        import hashlib
        import uuid
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).isoformat()
        payloads = [{"data": t, "hash": hashlib.md5(t.encode()).hexdigest(), "created_at": now, "updated_at": now,
                     "user_id": u} for t, u in zip(texts, users, strict=True)]
        self.m.vector_store.insert(vectors=vectors.tolist(), payloads=payloads,
                                   ids=[str(uuid.uuid4()) for _ in texts])


class LangChain(Case):
    def __init__(self, emb: SynthEmbedder, kind: str) -> None:
        from langchain_core.embeddings import Embeddings

        class Emb(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return emb.embed(texts).tolist()

            def embed_query(self, text: str) -> list[float]:
                return emb.embed([text])[0].tolist()

        self.kind, self.emb, self.store = kind, Emb(), None
        self.name = {"memory": "LangChain InMemoryVectorStore", "faiss": "LangChain FAISS (community)"}[kind]

    def add(self, texts: list[str], user: str) -> None:  # type: ignore[override]
        metas = [{"user_id": user} for _ in texts]
        if self.kind == "memory":
            from langchain_core.vectorstores import InMemoryVectorStore

            self.store = self.store or InMemoryVectorStore(self.emb)
            self.store.add_texts(texts, metadatas=metas)
        elif self.store is None:
            from langchain_community.vectorstores import FAISS

            self.store = FAISS.from_texts(texts, self.emb, metadatas=metas)
        else:
            self.store.add_texts(texts, metadatas=metas)

    def search(self, q: str, user: str) -> list[int]:  # type: ignore[override]
        vec = self.emb.embed_query(q)
        if self.kind == "memory":
            docs = self.store.similarity_search_by_vector(vec, k=10, filter=lambda d: d.metadata["user_id"] == user)
        else:  # the wrapper's default: fetch 20, then filter by metadata
            docs = self.store.similarity_search_by_vector(vec, k=10, filter={"user_id": user})
        return [row_of(d.page_content) for d in docs]


def run(
    case: Case, synth: Synth, emb: SynthEmbedder, size: int, users: int, queries: int, direct_fill: bool = False
) -> dict[str, Any]:
    owner = np.random.default_rng(1).integers(0, users, size)
    by_user: dict[int, list[int]] = {}
    for i, u in enumerate(owner):
        by_user.setdefault(int(u), []).append(i)
    # generated in row order, once (the generator works a block at a time); the embedder then only looks up
    texts = synth.texts(0, size)
    emb.pin(0, size)
    t = time.perf_counter()
    fill = getattr(case, "fill", None) if direct_fill else None
    if fill is not None:
        order = [i for rows in by_user.values() for i in rows]
        fill([texts[i] for i in order], [f"user-{owner[i]}" for i in order], np.vstack([emb.pinned[i] for i in order]))
    else:
        for u, rows in by_user.items():
            for s in range(0, len(rows), 10):  # 10 messages per add() call
                case.add([texts[i] for i in rows[s:s + 10]], f"user-{u}")
    add_s = time.perf_counter() - t
    rng = np.random.default_rng(2)
    qs = [(size + j, int(rng.integers(0, users))) for j in range(queries)]
    emb.pin(size, size + queries)
    lat, hits, wanted = [], 0, 0
    for qid, u in qs:
        t = time.perf_counter()
        got = case.search(synth.query(qid), f"user-{u}")
        lat.append(time.perf_counter() - t)
        rows = np.asarray(by_user.get(u, []))
        if len(rows):
            stored = np.vstack([emb.pinned[int(i)] for i in rows])
            truth = rows[np.argsort(-(stored @ emb.pinned[qid]))[:10]]
            hits += len(set(got) & set(truth.tolist()))
            wanted += len(truth)
    case.close()
    return {"system": case.name, "size": size, "add_per_s": None if fill else size / add_s, "search": ms(lat),
            "recall_at_10": hits / max(1, wanted)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--mem0-size", type=int, default=2_000, help="mem0's FAISS store rewrites its files per insert")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--only", help="comma-separated: memlayer,mem0,lc-memory,lc-faiss")
    ap.add_argument("--json", help="append the results here (JSON lines)")
    ap.add_argument("--direct-fill", action="store_true",
                    help="fill mem0's vector store directly (search-only comparison at sizes its add() cannot reach)")
    args = ap.parse_args()
    synth = Synth()
    emb = SynthEmbedder(synth)
    wanted = set((args.only or "memlayer,mem0,lc-memory,lc-faiss").split(","))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        plan: list[tuple[str, Callable[[], Case], int]] = [
            ("memlayer", lambda: Memlayer(emb, tmp), args.size),
            ("mem0", lambda: Mem0(emb, tmp), args.mem0_size),
            ("lc-memory", lambda: LangChain(emb, "memory"), args.size),
            ("lc-faiss", lambda: LangChain(emb, "faiss"), args.size),
            ("memlayer", lambda: Memlayer(emb, os.path.join(tmp, "small")), args.mem0_size),
        ]
        for key, make, size in plan:
            if key not in wanted:
                continue
            users = max(1, args.users * size // args.size)  # the same memories per user at every size
            r = run(make(), synth, emb, size, users, args.queries, args.direct_fill)
            r["users"] = users
            results.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    if args.json:
        with open(args.json, "a") as fh:
            for r in results:
                fh.write(json.dumps(r) + "\n")
    base = {r["size"]: r for r in results if r["system"] == "memlayer"}
    print("| system | memories | users | add/s (infer=False, 10 msgs/call) | vs memlayer | scoped search p50 | p95 "
          "| p50 vs memlayer | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ref = base.get(r["size"])
        filled = r["add_per_s"] is None  # --direct-fill: no add throughput measured
        add_ratio = "-" if filled or not ref else f"{r['add_per_s'] / ref['add_per_s']:.2f}x"
        adds = "direct fill" if filled else f"{r['add_per_s']:,.0f}"
        p50_ratio = f"{r['search']['p50'] / ref['search']['p50']:.2f}x" if ref else "-"
        print(f"| {r['system']} | {r['size']:,} | {r['users']:,} | {adds} | {add_ratio} "
              f"| {r['search']['p50']:.2f} ms | {r['search']['p95']:.2f} ms | {p50_ratio} | {r['recall_at_10']:.3f} |")


if __name__ == "__main__":
    main()
