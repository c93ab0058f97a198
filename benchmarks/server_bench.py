"""Server benchmark: what the HTTP hop costs. Requests/s and p50/p95 of search and add over HTTP (1 and N
uvicorn workers) beside the same calls on the in-process ``AsyncMemory``, on one store, in one run.

The store is built with ``bulk_add`` and the cheap ``hash`` embedder (the server uses the same one through
``--config``), one memory per synthetic text (benchmarks/synth.py), spread over ``--users`` users.
"single" is one caller, one call at a time (the latency of a call); "loaded" is ``--concurrency`` callers
for ``--seconds`` (throughput, and the latency each caller sees meanwhile). The load generator runs on the
same machine as the server and shares its cores.

    python benchmarks/server_bench.py --size 100000 --users 1000 --workers 1,2 --seconds 15 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from synth import Synth  # noqa: E402

from memlayer import AsyncMemory  # noqa: E402
from tests.server.harness import ServerProcess, create_key  # noqa: E402

DIMS = 384
CONFIG = {"embedder": {"provider": "hash", "config": {"dims": DIMS}}}
Call = Callable[[int], Awaitable[Any]]


def build(path: Path, size: int, users: int) -> float:
    """The store: ``size`` memories via bulk_add; seconds taken."""
    synth = Synth(dims=DIMS)

    async def run() -> float:
        started = time.perf_counter()
        async with AsyncMemory(str(path), embedder=CONFIG["embedder"], graph=False) as m:
            for lo in range(0, size, 20_000):
                hi = min(size, lo + 20_000)
                await m.bulk_add([{"text": t, "user_id": f"u{i % users}"} for i, t in
                                  zip(range(lo, hi), synth.texts(lo, hi), strict=True)], batch_size=5000, progress=False)
        return time.perf_counter() - started

    return asyncio.run(run())


def pct(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


async def measure(call: Call, *, single: int, concurrency: int, seconds: float) -> dict[str, float]:
    """One caller for ``single`` calls, then ``concurrency`` callers for ``seconds``."""
    lat: list[float] = []
    for i in range(single):
        t = time.perf_counter()
        await call(i)
        lat.append(time.perf_counter() - t)
    p50, p95 = pct(lat)
    loaded: list[float] = []
    until = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def caller() -> None:
        while time.perf_counter() < until:
            t = time.perf_counter()
            await call(next(counter) + single)
            loaded.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    lp50, lp95 = pct(loaded)
    return {"p50": p50, "p95": p95, "rps": len(loaded) / elapsed, "loaded_p50": lp50, "loaded_p95": lp95}


def calls(do: Callable[..., Awaitable[Any]], synth: Synth, size: int, users: int, tag: str) -> dict[str, Call]:
    rng = random.Random(0)
    picks = [rng.randrange(size) for _ in range(100_000)]
    return {
        "search (vector)": lambda i: do("search", synth.query(picks[i % len(picks)]), f"u{picks[i % len(picks)] % users}",
                                        "vector"),
        "search (default)": lambda i: do("search", synth.query(picks[i % len(picks)]),
                                         f"u{picks[i % len(picks)] % users}", None),
        "add (infer=False)": lambda i: do("add", f"{tag} added {i} {rng.random()}", f"u{i % users}", None),
    }


async def in_process(path: Path, synth: Synth, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    async with AsyncMemory(str(path), embedder=CONFIG["embedder"], graph=False) as m:
        async def do(op: str, text: str, user: str, config: str | None) -> Any:
            if op == "search":
                return await m.search(text, user_id=user, config=config)
            return await m.add(text, user_id=user, infer=False)

        return {name: await measure(call, single=args.single, concurrency=args.concurrency, seconds=args.seconds)
                for name, call in calls(do, synth, args.size, args.users, "inproc").items()}


async def over_http(url: str, key: str, synth: Synth, args: argparse.Namespace, tag: str) -> dict[str, dict[str, float]]:
    limits = httpx.Limits(max_connections=args.concurrency + 4, max_keepalive_connections=args.concurrency + 4)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                 limits=limits) as http:
        async def do(op: str, text: str, user: str, config: str | None) -> Any:
            if op == "search":
                r = await http.post("/v1/search", json={"query": text, "user_id": user, "config": config})
            else:
                r = await http.post("/v1/memories", json={"messages": text, "user_id": user, "infer": False})
            r.raise_for_status()
            return r

        return {name: await measure(call, single=args.single, concurrency=args.concurrency, seconds=args.seconds)
                for name, call in calls(do, synth, args.size, args.users, tag).items()}


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    ops = list(next(iter(results.values())))
    head = "| operation | " + " | ".join(f"{where}: one caller p50 / p95 | {where}: req/s (p50 / p95 under load)"
                                         for where in results) + " |"
    lines = [head, "|---|" + "---|---|" * len(results)]
    for op in ops:
        cells = []
        for where in results:
            r = results[where][op]
            cells += [f"{r['p50']:.2f} / {r['p95']:.2f} ms",
                      f"{r['rps']:,.0f} ({r['loaded_p50']:.1f} / {r['loaded_p95']:.1f} ms)"]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="server worker counts to measure")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each loaded phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--single", type=int, default=300, help="calls of the one-caller phase")
    parser.add_argument("--keep", help="build (or reuse) the store in this directory")
    parser.add_argument("--json", help="append the results as one JSON line to this file")
    args = parser.parse_args()
    synth = Synth(dims=DIMS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or tmp) / f"store-{args.size}"
        if not (path / "memlayer.db").exists():
            print(f"building {args.size:,} memories ...", file=sys.stderr)
            print(f"built in {build(path, args.size, args.users):.1f} s", file=sys.stderr)
        results = {"in-process": asyncio.run(in_process(path, synth, args))}
        key = create_key(path, "bench")
        for n in (int(w) for w in args.workers.split(",")):
            config = {**CONFIG, "graph": False}
            with ServerProcess(path, config=config, args=("--workers", str(n))) as proc:
                label = f"HTTP, {n} worker{'s' if n > 1 else ''}"
                results[label] = asyncio.run(over_http(proc.url, key, synth, args, f"w{n}"))
            print(f"measured {label}", file=sys.stderr)
    print(f"{args.size:,} memories, {args.users:,} users, {args.concurrency} concurrent callers for "
          f"{args.seconds:g} s per loaded phase\n")
    print(table(results))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"args": vars(args), "results": results}) + "\n")


if __name__ == "__main__":
    main()
