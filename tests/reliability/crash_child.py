"""Child process for the kill -9 tests: writes to a store and reports every acknowledged operation.

    python crash_child.py STORE MODE SEED LIVE_JSON

MODE is ``raw`` (add(infer=False), no graph), ``double-memory`` / ``double-oxigraph`` (infer=True with
the extractor double, graph="memory" / the default on-disk graph) or ``pattern-memory`` /
``pattern-oxigraph`` (infer=True with the offline pattern extractor). LIVE_JSON lists the current
memories as ``[[id, user, text], ...]`` (targets for update/delete/search). Output lines (flushed):

    READY                        the store is open (recovery done)
    BEGIN <op> <json args>       an operation starts
    ACK <op> <json result>       it returned (an add reports all its results: ADD/UPDATE/DELETE/NONE)
    MISS <id>                    an acknowledged memory was not found by search (a failure)
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder

DENSE = {"dense_weight": 1.0, "lexical_weight": 0.0, "graph_weight": 0.0}  # presence, not ranking


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def options(mode: str) -> dict[str, Any]:
    if mode == "raw":
        return {"graph": False}
    kind, graph = mode.split("-")
    opts: dict[str, Any] = {"graph": "memory" if graph == "memory" else True}
    if kind == "double":
        from tests.reliability.extractors import RelationExtractor

        opts["extractor"] = RelationExtractor()
    else:
        opts["extractor"] = "pattern"
    return opts


def text_for(mode: str, n: int, rng: random.Random) -> str:
    if mode.startswith("pattern"):
        return rng.choice([
            f"My name is Person{n}.", f"I live in City{n}.", f"I work at Company{n}.",
            f"My favourite color is color{n}.", f"I have a dog named Dog{n}.",
        ])
    return f"fact {n} token{n}x about item{n}"


def main() -> None:
    store, mode, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    with open(sys.argv[4], encoding="utf-8") as fh:
        acked: list[tuple[str, str, str]] = [tuple(x) for x in json.load(fh)]  # (id, user, text)
    mem = Memory(store, embedder=HashingEmbedder(64), snapshot_min=3, **options(mode))
    if mode != "raw":  # rdflib compiles its SPARQL machinery on first use (~0.5 s): do it before READY
        with Memory(":memory:", embedder=HashingEmbedder(64), **{**options(mode), "graph": "memory"}) as warm:
            warm.add(text_for(mode, 0, rng), user_id="warm-up")
    say("READY")
    n = seed * 1000
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.12 and acked:
            mid, user, _ = acked.pop(rng.randrange(len(acked)))
            say("BEGIN", "delete", json.dumps({"id": mid}))
            mem.delete(mid)
            say("ACK", "delete", json.dumps({"id": mid}))
        elif roll < 0.24 and acked:
            i = rng.randrange(len(acked))
            mid, user, _ = acked[i]
            text = f"updated {n} token{n}x"
            say("BEGIN", "update", json.dumps({"id": mid, "text": text}))
            mem.update(mid, text)
            acked[i] = (mid, user, text)
            say("ACK", "update", json.dumps({"id": mid, "text": text}))
        elif roll < 0.3 and acked:
            mid, user, text = rng.choice(acked)
            if mid not in {r["id"] for r in mem.search(text, user_id=user, limit=5, config=DENSE)["results"]}:
                say("MISS", mid)
        else:
            user = f"u{n % 3}"
            text = text_for(mode, n, rng)
            infer = mode != "raw"
            say("BEGIN", "add", json.dumps({"user": user, "text": text, "infer": infer}))
            results = mem.add(text, user_id=user, infer=infer)["results"]
            say("ACK", "add", json.dumps({"user": user, "results": results}))
            for r in results:
                if r["event"] in ("ADD", "UPDATE", "DELETE"):
                    acked = [a for a in acked if a[0] != r["id"]]
                if r["event"] in ("ADD", "UPDATE"):
                    acked.append((r["id"], user, r["memory"]))


if __name__ == "__main__":
    main()
