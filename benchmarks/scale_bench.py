"""Scale benchmark: ingestion, scoped search, the approximate index, RSS and cold open, per size.

Each size runs in its own process (so RSS is the library's), on synthetic embedding-like data
(benchmarks/synth.py; embedding time excluded: the embedder is a lookup). Prints a Markdown table
and writes JSON lines for benchmarks/plot_latency.py.

    python benchmarks/scale_bench.py --sizes 10000,100000,1000000 --users 1000 --repeat 3 \
        --keep /tmp/memlayer-stores --json benchmarks/results/scale.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth import Synth, SynthEmbedder  # noqa: E402

from memlayer import Memory  # noqa: E402


def ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000
    return {"p50": float(np.median(arr)), "p95": float(np.percentile(arr, 95))}


def proc_status() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1e6  # GB
    return out


TAIL = 2000  # the last rows go through add(), 10 per call, each call's rows to its first row's user


def owners(size: int, users: int) -> np.ndarray:
    owner = np.random.default_rng(1).integers(0, users, size)
    for s in range(size - tail_of(size), size, 10):
        owner[s:s + 10] = owner[s]
    return owner


def tail_of(size: int) -> int:
    return min(TAIL, size // 10)


def records(synth: Synth, owner: np.ndarray, start: int, stop: int):
    for i in range(start, stop):
        yield {"text": synth.text(i), "user_id": f"user-{owner[i]}", "agent_id": "assistant"}


def build(args: argparse.Namespace) -> dict[str, Any]:
    size, users = args.one, args.users
    synth = Synth()
    emb = SynthEmbedder(synth)
    owner = owners(size, users)
    out: dict[str, Any] = {"size": size, "users": users}
    path = args.path
    vi = {"provider": "faiss", "config": {"approximate_after": args.approximate_after}}
    with Memory(path, embedder=emb, graph=False, vector_index=vi) as m:
        tail = tail_of(size)
        res = m.bulk_add(records(synth, owner, 0, size - tail), batch_size=args.batch, progress=True)
        out["bulk_add_per_s"] = (size - tail) / res["seconds"]
        t = time.perf_counter()  # add(): 10 messages per call, per user, at full size
        for s in range(size - tail, size, 10):
            m.add([synth.text(i) for i in range(s, min(size, s + 10))], user_id=f"user-{owner[s]}",
                  agent_id="assistant", infer=False)
        out["add_per_s"] = tail / (time.perf_counter() - t)
        index = m.async_memory.vectors.index
        t = time.perf_counter()
        index.wait_ready()
        out["ann_wait_s"] = time.perf_counter() - t
        out["ann"] = index.approximate
        out["ingest_status"] = proc_status()
        t = time.perf_counter()
    out["close_s"] = time.perf_counter() - t
    return out


def search(args: argparse.Namespace) -> dict[str, Any]:
    """A fresh process: cold open, scoped searches, the approximate index, RSS; then raw FAISS."""
    size, users, nq = args.one, args.users, args.queries
    synth = Synth()
    emb = SynthEmbedder(synth)
    emb.pin(size, size + nq)
    owner = owners(size, users)
    rng = np.random.default_rng(2)
    qs = [(size + j, int(rng.integers(0, users))) for j in range(nq)]
    out: dict[str, Any] = {}
    t = time.perf_counter()
    m = Memory(args.path, embedder=emb, graph=False, vector_index={"provider": "faiss", "config": {
        "approximate_after": args.approximate_after}})
    out["cold_open_s"] = time.perf_counter() - t
    out["rebuilt"] = m.async_memory.vectors.rebuilt_reason
    t = time.perf_counter()
    m.search(synth.query(qs[0][0]), user_id=f"user-{qs[0][1]}", limit=10)
    out["first_search_s"] = time.perf_counter() - t
    out["open_status"] = proc_status()
    for qid, u in qs:  # warm-up: the OS page cache holds what the timed passes read (cold open is above)
        m.search(synth.query(qid), user_id=f"user-{u}", limit=10, config="vector")
    by_user: dict[int, np.ndarray] = {}
    probe = m.get_all(user_id=f"user-{owner[size // 2]}", limit=1000)["results"]
    assert all(int(r["memory"].split(" ", 1)[0][1:]) in np.flatnonzero(owner == owner[size // 2]) for r in probe)
    for preset in ("vector", "default"):
        lat, hits, wanted = [], 0, 0
        for qid, u in qs:
            t = time.perf_counter()
            res = m.search(synth.query(qid), user_id=f"user-{u}", limit=10, config=preset)["results"]
            lat.append(time.perf_counter() - t)
            if preset == "vector":  # row i is memory rid i + 1 (inserted in order, no duplicates)
                rows = by_user.setdefault(u, np.flatnonzero(owner == u))
                stored = m.async_memory.vectors.index.reconstruct_batch(rows + 1)
                truth = rows[np.argsort(-(stored @ emb.pinned[qid]))[:10]]
                hits += len({int(r["memory"].split(" ", 1)[0][1:]) for r in res} & set(truth.tolist()))
                wanted += len(truth)
        out[f"search_{preset}"] = ms(lat)
        if preset == "vector":
            out["scoped_recall_at_10"] = hits / max(1, wanted)
    out["user_agent"] = user_agent(m, synth, qs)
    am = m.async_memory
    lat = []

    async def direct() -> None:  # the async core awaited on a loop: no cross-thread hop of the sync face
        for qid, u in qs:
            t = time.perf_counter()
            await am.search(synth.query(qid), user_id=f"user-{u}", limit=10, config="vector")
            lat.append(time.perf_counter() - t)

    asyncio.run(direct())
    out["search_vector_async"] = ms(lat)
    out["agent_wide"] = agent_wide(m, synth, qs)
    out["parts_vector"] = parts(m, synth, emb, qs)
    out["index"] = index_level(m, emb, qs, rng)
    out["search_status"] = proc_status()
    m.close()
    out["raw_faiss"] = raw_faiss(synth, emb, owner, qs, size)
    return out


def scoped(m: Memory, synth: Synth, qs: list[tuple[int, int]], **scope: str | None) -> dict[str, Any]:
    """p50/p95 of `vector` and `default` searches of a scope given by ``scope`` (``user_id=None``: each query's user)."""
    out: dict[str, Any] = {}
    for preset in ("vector", "default"):
        lat = []
        for qid, u in qs:
            ids = {k: v if v is not None else f"user-{u}" for k, v in scope.items()}
            t = time.perf_counter()
            m.search(synth.query(qid), limit=10, config=preset, **ids)
            lat.append(time.perf_counter() - t)
        out[preset] = ms(lat)
    return out


def agent_wide(m: Memory, synth: Synth, qs: list[tuple[int, int]], n: int = 30) -> dict[str, Any]:
    """Searches over the agent's whole scope (every memory of the store): never materialised."""
    return scoped(m, synth, qs[:n], agent_id="assistant")


def user_agent(m: Memory, synth: Synth, qs: list[tuple[int, int]]) -> dict[str, Any]:
    """Searches of one user's memories with the agent that every memory of the store has (a combined scope)."""
    return scoped(m, synth, qs, user_id=None, agent_id="assistant")


def parts(m: Memory, synth: Synth, emb: SynthEmbedder, qs: list[tuple[int, int]]) -> dict[str, Any]:
    """Where a vector-preset search spends its time (the same calls memlayer.ops.search makes)."""
    from memlayer.search.context import ScopeOrder
    from memlayer.search.lexical import terms
    from memlayer.storage import Selection
    from memlayer.types import Scope

    am = m.async_memory
    t_scope, t_dense, t_lex, t_rows = [], [], [], []
    for qid, u in qs:
        selection = Selection(Scope(user_id=f"user-{u}"))
        t = time.perf_counter()
        upto = getattr(am.store, "scope_rows_upto", None)  # (an older memlayer, for before/after runs)
        order = ScopeOrder.from_rows(upto(selection, [], 20_000) if upto else am.store.scope_rows(selection, []))
        t_scope.append(time.perf_counter() - t)
        t = time.perf_counter()
        _, ids = am.vectors.search(emb.pinned[qid], 100, order.rids)
        t_dense.append(time.perf_counter() - t)
        t = time.perf_counter()
        am.store.lexical(selection, terms(synth.query(qid)), 100, *([len(order)] if upto else []))
        t_lex.append(time.perf_counter() - t)
        t = time.perf_counter()
        am.store.rows([int(i) for i in ids[:10]])
        t_rows.append(time.perf_counter() - t)
    return {"scope_rows": ms(t_scope), "dense": ms(t_dense), "lexical": ms(t_lex), "fetch_rows": ms(t_rows)}


def index_level(m: Memory, emb: SynthEmbedder, qs: list[tuple[int, int]], rng: np.random.Generator) -> dict[str, Any]:
    """The vector index alone on large sets: approximate (when built) vs exact, recall@10 and latency."""
    index = m.async_memory.vectors.index
    ids = index.ids()
    out: dict[str, Any] = {}
    for label, frac in (("global", None), ("50%", 0.5), ("20%", 0.2), ("5%", 0.05)):
        allowed = None if frac is None else np.sort(rng.choice(ids, int(frac * len(ids)), replace=False))
        lat, elat, hits = [], [], 0
        for qid, _ in qs[:100]:
            q = emb.pinned[qid]
            t = time.perf_counter()
            got = index.search(q, 10, allowed)[1]
            lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            store = index._store
            want = (store.scan(q, 10) if allowed is None else store.score_ids(q, allowed, 10))[1]
            elat.append(time.perf_counter() - t)
            hits += len(set(got.tolist()) & set(want.tolist()))
        out[label] = {"search": ms(lat), "exact": ms(elat), "recall_at_10": hits / (10 * len(lat))}
    return out


def raw_faiss(synth: Synth, emb: SynthEmbedder, owner: np.ndarray, qs: list[tuple[int, int]], size: int) -> dict[str, Any]:
    flat = faiss.IndexFlatIP(synth.dims)
    for s in range(0, size, 65536):
        flat.add(synth.vectors(s, min(size, s + 65536)))
    ids = np.arange(size, dtype=np.int64)
    lat, sel_lat = [], []
    for qid, u in qs:
        q = emb.pinned[qid].reshape(1, -1)
        t = time.perf_counter()
        flat.search(q, 10)
        lat.append(time.perf_counter() - t)
        scope = np.ascontiguousarray(ids[owner == u])
        t = time.perf_counter()
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(len(scope), faiss.swig_ptr(scope)))
        flat.search(q, 10, params=params)
        sel_lat.append(time.perf_counter() - t)
    return {"flat_global": ms(lat), "flat_scoped": ms(sel_lat)}


def run_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    if args.keep:
        path = os.path.join(args.keep, str(size))
        os.makedirs(path, exist_ok=True)
    else:
        path = tempfile.mkdtemp(prefix=f"memlayer-scale-{size}-", dir=args.tmp)
    built = os.path.join(path, "build.json")
    common = [sys.executable, __file__, "--one", str(size), "--users", str(args.users), "--path", path,
              "--queries", str(args.queries), "--batch", str(args.batch), "--approximate-after",
              str(args.approximate_after)]
    try:
        result: dict[str, Any] = {}
        if os.path.exists(built):  # --keep: built by an earlier run
            with open(built) as fh:
                result.update(json.load(fh))
        else:
            result.update(_phase(common, "build", size))
            if args.keep:
                with open(built, "w") as fh:
                    json.dump(result, fh)
        runs = [_phase(common, "search", size) for _ in range(args.repeat)]
        result.update(median_of(runs))
        result["search_runs"] = len(runs)
        result["store_bytes"] = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
        return result
    finally:
        if not args.keep:
            shutil.rmtree(path, ignore_errors=True)


def _phase(common: list[str], phase: str, size: int) -> dict[str, Any]:
    proc = subprocess.run([*common, "--phase", phase], stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{phase} for {size} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def median_of(runs: list[Any]) -> Any:
    """The median of every number across runs (each run a fresh process), keeping the structure."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return float(np.median(runs))
    return first


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| memories | bulk_add/s | add/s (10 msgs/call) | search p50 / p95, vector | ratio to raw FAISS scoped "
            "| search p50 / p95, default (hybrid) | recall@10 scoped | raw FAISS flat scoped p50 | raw FAISS flat "
            "global p50 | cold open | RSS after 300 searches |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        v, d, raw = r["search_vector"], r["search_default"], r["raw_faiss"]
        lines.append(
            f"| {r['size']:,} | {r['bulk_add_per_s']:,.0f} | {r['add_per_s']:,.0f} | {v['p50']:.2f} / {v['p95']:.2f} ms "
            f"| {v['p50'] / raw['flat_scoped']['p50']:.2f}x | {d['p50']:.2f} / {d['p95']:.2f} ms "
            f"| {r['scoped_recall_at_10']:.3f} | {raw['flat_scoped']['p50']:.2f} ms | {raw['flat_global']['p50']:.2f} ms "
            f"| {r['cold_open_s']:.2f} s | {r['search_status']['VmRSS']:.2f} GB |")
    for key, label in (("agent_wide", "agent-wide scope (every memory)"), ("user_agent", "a user with the shared agent")):
        lines += ["", f"| memories | {label} p50 / p95, vector | default |", "|---|---|---|"]
        for r in rows:
            a = r.get(key) or {}
            if a:
                lines.append(f"| {r['size']:,} | {a['vector']['p50']:.2f} / {a['vector']['p95']:.2f} ms "
                             f"| {a['default']['p50']:.2f} / {a['default']['p95']:.2f} ms |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--batch", type=int, default=5000, help="records per bulk_add transaction")
    ap.add_argument("--approximate-after", type=int, default=200_000)
    ap.add_argument("--json", help="append one JSON line per size here")
    ap.add_argument("--tmp", default=None, help="where the stores are built (default: the system temp dir)")
    ap.add_argument("--keep", help="build the stores under this directory and keep them (later runs reuse them)")
    ap.add_argument("--repeat", type=int, default=3, help="search runs per size (fresh processes); medians reported")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(build(args) if args.phase == "build" else search(args)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        r = run_size(size, args)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "a") as fh:
                fh.write(json.dumps(r) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
