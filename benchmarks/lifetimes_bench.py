"""Lifetimes benchmark: what decay and reinforcement in ranking do to retrieval, and what recall tracking costs.

1. Quality on synthetic drifting facts. Each user states facts over a year, verbatim (``add(infer=False)``,
   as an add-only store or an extractor that missed the link keeps them): some topics change value 2-4 times
   ("My favourite coffee shop is Ritual now." ... "... is Blue Bottle now."), each value is said again 0-2
   times while it holds (a re-statement refreshes that memory), a few facts never change ("I was born in Porto."), and chit-chat fills the rest. The questions
   are asked a day after the year: "current" ones want the latest value of a changing topic, "stable" ones an
   old fact that never changed, while a newer near miss about someone else ("My new colleague was born in
   Lyon.") competes with it. Hit@1 and MRR@10 for each search config, on the same stores.
2. Cost (embedding excluded: the hash embedder): search latency with recall tracking on and off and the extra
   reads of the decay terms, and what counting one search's recalls costs by itself.

    python benchmarks/lifetimes_bench.py                        # local embedder, 40 users, the grid below
    python benchmarks/lifetimes_bench.py --users 10 --embedder hash --out benchmarks/results/lifetimes.md
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPICS: list[tuple[str, str, list[str]]] = [
    ("My favourite coffee shop is {} now.", "What is my favourite coffee shop?",
     ["Blue Bottle", "Ritual", "Sightglass", "Stumptown", "Verve", "Intelligentsia", "Philz", "La Colombe"]),
    ("I am reading {} these days.", "What book am I reading?",
     ["Dune", "Middlemarch", "The Overstory", "Piranesi", "Station Eleven", "Klara and the Sun", "Circe"]),
    ("My team lead is {} at the moment.", "Who is my team lead?",
     ["Priya", "Marcus", "Elena", "Tomasz", "Aiko", "Dmitri", "Fatima", "Jonas"]),
    ("I drive a {} now.", "What car do I drive?",
     ["Toyota Corolla", "Tesla Model 3", "VW Golf", "Honda Civic", "Volvo XC40", "Mazda 3", "Kia Niro"]),
    ("My gym is {} now.", "Which gym do I go to?",
     ["Equinox", "Planet Fitness", "Gold's Gym", "Crunch", "24 Hour Fitness", "Anytime Fitness"]),
    ("I am working on the {} project right now.", "Which project am I working on?",
     ["Atlas", "Borealis", "Cobalt", "Dynamo", "Ember", "Falcon", "Granite", "Helios"]),
    ("I am watching {} lately.", "What series am I watching?",
     ["Severance", "The Bear", "Shogun", "Slow Horses", "Andor", "Succession", "Fargo"]),
    ("My phone is a {} now.", "What phone do I have?",
     ["Pixel 8", "iPhone 15", "Galaxy S24", "Fairphone 5", "OnePlus 12", "Nothing Phone 2"]),
    ("My running shoes are {} now.", "Which running shoes do I use?",
     ["Hoka Clifton", "Asics Novablast", "Nike Pegasus", "Saucony Ride", "Brooks Ghost", "On Cloudmonster"]),
    ("I am learning {} these days.", "Which language am I learning?",
     ["Spanish", "Japanese", "German", "Portuguese", "Korean", "Italian", "Mandarin", "Dutch"]),
]
STABLE: list[tuple[str, str, list[str], str]] = [  # (fact, question, values, a later near miss about someone else)
    ("I was born in {}.", "Where was I born?", ["Porto", "Lyon", "Kraków", "Osaka", "Austin", "Leeds", "Turin"],
     "My new colleague was born in {}."),
    ("My sister is called {}.", "What is my sister's name?", ["Ana", "Mia", "Chloe", "Ines", "Noor", "Lena"],
     "My neighbour's sister is called {}."),
    ("I am allergic to {}.", "What am I allergic to?", ["peanuts", "shellfish", "penicillin", "pollen", "latex"],
     "My roommate is allergic to {}."),
    ("My blood type is {}.", "What is my blood type?", ["A positive", "O negative", "B positive", "AB positive"],
     "My father's blood type is {}."),
]
CHATTER = [
    "The weather was lovely on the walk today.", "Work was busy this afternoon.", "I had pasta for dinner.",
    "Traffic was terrible this morning.", "I called my parents in the evening.", "The meeting ran late again.",
    "I finally cleaned the kitchen.", "The train was delayed by ten minutes.", "I tried a new recipe tonight.",
    "My neighbour's dog barked all night.", "I went for a short run after work.", "I paid the electricity bill.",
]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
YEAR = timedelta(days=365)


@dataclass
class Question:
    user: str
    text: str
    gold: str
    kind: str  # "current" or "stable"


@dataclass
class Score:
    hits: dict[str, list[float]] = field(default_factory=dict)
    rr: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, ranked: list[str], gold: str) -> None:
        rank = ranked.index(gold) + 1 if gold in ranked else None
        self.hits.setdefault(kind, []).append(1.0 if rank == 1 else 0.0)
        self.rr.setdefault(kind, []).append(1.0 / rank if rank else 0.0)

    def row(self) -> list[float]:
        out = []
        for kind in ("current", "stable"):
            out += [100 * statistics.fmean(self.hits[kind]), 100 * statistics.fmean(self.rr[kind])]
        every = [v for k in self.hits for v in self.hits[k]]
        return out + [100 * statistics.fmean(every)]


def build(m: Any, users: int, seed: int) -> list[Question]:
    """Fill ``m`` with the users' year of statements; returns the questions asked after it."""
    rng = random.Random(seed)
    questions: list[Question] = []
    for u in range(users):
        user = f"user{u}"
        events: list[tuple[datetime, str, str | None, bool]] = []  # (when, text, tag, said again)
        for t, (template, question, values) in enumerate(rng.sample(TOPICS, 6)):
            changes = rng.randint(2, 4)
            picks = rng.sample(values, changes)
            times = sorted(START + YEAR * rng.random() for _ in range(changes))
            ends = [*times[1:], START + YEAR]
            for i, (when, value) in enumerate(zip(times, picks, strict=True)):
                events.append((when, template.format(value), f"{t}:{i}", False))
                for _ in range(rng.randint(0, 2)):  # said again while it held (the same memory, refreshed)
                    events.append((when + (ends[i] - when) * rng.random(), template.format(value), f"{t}:{i}", True))
            questions.append(Question(user, question, f"{t}:{changes - 1}", "current"))
        for s, (template, question, values, near) in enumerate(rng.sample(STABLE, 2)):
            mine, other = rng.sample(values, 2)
            events.append((START + timedelta(days=rng.randint(0, 30)), template.format(mine), f"s{s}", False))
            events.append((START + YEAR * (0.5 + 0.5 * rng.random()), near.format(other), None, False))
            questions.append(Question(user, question, f"s{s}", "stable"))
        for _ in range(40):
            events.append((START + YEAR * rng.random(), rng.choice(CHATTER), None, False))
        tags: dict[str, str] = {}
        for when, text, tag, again in sorted(events, key=lambda e: e[0]):
            meta = {"tag": tag} if tag else {}
            out = m.add(text, user_id=user, infer=False, timestamp=when, metadata=meta)
            if tag and not again:
                tags[tag] = out["results"][0]["id"]
        for q in questions:
            if q.user == user:
                q.gold = tags[q.gold]
    return questions


CONFIGS: dict[str, Any] = {
    "default": "default",
    **{f"recency {w} / {h}d": {"preset": "default", "recency_weight": w, "recency_half_life": f"{h}d"}
       for h in (7, 30, 90) for w in (0.1, 0.3, 0.5, 1.0)},
    **{f"reinforcement {w}": {"preset": "default", "reinforcement_weight": w} for w in (0.1, 0.3, 0.5)},
    **{f"recency {w} / {h}d + reinforcement {r}": {"preset": "default", "recency_weight": w,
                                                    "recency_half_life": f"{h}d", "reinforcement_weight": r}
       for w, h, r in ((0.1, 30, 0.3), (0.1, 30, 0.5), (0.2, 14, 0.3), (0.3, 7, 0.3), (0.5, 7, 0.3))},
    "lifetimes (preset)": "lifetimes",
}


def quality(args: argparse.Namespace, embedder: Any) -> str:
    from memlayer import Memory
    from memlayer.clock import ManualClock

    clock = ManualClock(START + YEAR + timedelta(days=1))  # the questions' day (a timestamp is never later than now)
    with Memory(":memory:", embedder=embedder, graph=False, clock=clock,
                retention={"track_recalls": False, "sweep_interval": None}) as m:
        t0 = time.perf_counter()
        questions = build(m, args.users, args.seed)
        built = time.perf_counter() - t0
        scores = {name: Score() for name in CONFIGS}
        for q in questions:
            for name, cfg in CONFIGS.items():
                ranked = [r["id"] for r in m.search(q.text, user_id=q.user, limit=10, config=cfg)["results"]]
                scores[name].add(q.kind, ranked, q.gold)
        count = m.async_memory.store.count()
    lines = [f"{args.users} users, {count} memories ({built:.0f} s to build), "
             f"{sum(q.kind == 'current' for q in questions)} 'current' and "
             f"{sum(q.kind == 'stable' for q in questions)} 'stable' questions; embedder `{args.embedder}`.", "",
             "| config | current hit@1 | current MRR@10 | stable hit@1 | stable MRR@10 | all hit@1 |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, score in scores.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in score.row()) + " |")
    return "\n".join(lines)


def cost(args: argparse.Namespace) -> str:
    """Search latency (sync face) on a store of ``--cost-size`` memories, 100 users."""
    import numpy as np

    from memlayer import Memory
    from memlayer.embeddings.hashing import HashingEmbedder

    embedder = HashingEmbedder(dims=384)

    rng = random.Random(args.seed)
    words = [w for t, _, vs in TOPICS for w in (t.split() + vs)]
    rows = [{"text": " ".join(rng.choice(words) for _ in range(12)), "user_id": f"u{i % 100}"}
            for i in range(args.cost_size)]
    lines = ["| recall tracking | config | search p50 ms | p95 ms | write transactions per 1,000 searches |",
             "|---|---|---:|---:|---:|"]
    for tracking in (False, True):
        with Memory(":memory:", embedder=embedder, graph=False,
                    retention={"track_recalls": tracking, "sweep_interval": None}) as m:
            m.bulk_add(rows, progress=False)
            for cfg in ("vector", "default", "lifetimes"):
                store = m.async_memory.store
                head = _transactions(store)
                times = []
                for i in range(1000):
                    t0 = time.perf_counter()
                    m.search(rng.choice(words), user_id=f"u{i % 100}", limit=10, config=cfg)
                    times.append(time.perf_counter() - t0)
                m.async_memory.engine.recalls.wait()
                writes = _transactions(store) - head
                arr = np.asarray(times) * 1000
                lines.append(f"| {'on' if tracking else 'off'} | `{cfg}` | {np.percentile(arr, 50):.2f} | "
                             f"{np.percentile(arr, 95):.2f} | {writes} |")
            if tracking:
                buffer = m.async_memory.engine.recalls
                ids = [r["id"] for r in m.get_all(user_id="u0", limit=10)["results"]]
                t0 = time.perf_counter()
                for _ in range(10_000):
                    buffer.note(ids)
                note_us = (time.perf_counter() - t0) / 10_000 * 1e6
                buffer.wait()
                flushes = []
                for _ in range(20):
                    for u in range(100):
                        buffer._pending.update({r["id"]: 1 for r in m.get_all(user_id=f"u{u}", limit=10)["results"]})
                    t0 = time.perf_counter()
                    buffer.flush()
                    flushes.append(time.perf_counter() - t0)
    lines += ["", f"Counting one search's 10 recalls: {note_us:.1f} µs (a dict update under a lock; the write, "
              f"when due, runs on the engine's helper thread). Writing 1,000 pending recalls: "
              f"{float(np.median(flushes)) * 1000:.1f} ms (median of 20; one transaction)."]
    return "\n".join(lines)


def _transactions(store: Any) -> int:
    """Write transactions so far (counted by wrapping the store's transaction())."""
    if not hasattr(store, "_bench_tx"):
        store._bench_tx = 0
        real = store.transaction

        def counted() -> Any:
            store._bench_tx += 1
            return real()

        store.transaction = counted
    return int(store._bench_tx)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--embedder", default="local", help="'local' (all-MiniLM-L6-v2) or 'hash'")
    p.add_argument("--cost-size", type=int, default=10_000)
    p.add_argument("--skip", choices=["quality", "cost"], default=None)
    p.add_argument("--out", default=None, help="also write the markdown here")
    args = p.parse_args(argv)
    from benchmarks.locomo import make_embedder

    embedder = make_embedder(args.embedder)
    parts = [f"`python benchmarks/lifetimes_bench.py {' '.join(argv if argv is not None else sys.argv[1:])}`", ""]
    if args.skip != "quality":
        parts += ["Ranking quality (drifting facts):", "", quality(args, embedder), ""]
    if args.skip != "cost":
        parts += [f"Search cost, {args.cost_size:,} memories, 100 users, 1,000 searches per row (hash embedder):",
                  "", cost(args), ""]
    text = "\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
