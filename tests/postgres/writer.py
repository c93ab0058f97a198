"""A writer process on a shared PostgreSQL store, for the kill -9 and hammering tests.

    python tests/postgres/writer.py DIRECTORY URL GRAPH_JSON MODE SEED ARG

MODE ``crash``: ARG is a JSON file listing the live memories ``[[id, user, text], ...]``; writes forever
(infer=False without a graph; with one, infer=True and the relation-extractor double), printing
``READY``, then ``BEGIN <op> <json>`` / ``ACK <op> <json>`` around each operation and ``MISS <id>`` when an
acknowledged memory is not found by a search (as tests/reliability/crash_child.py does).

MODE ``work``: ARG is a number of operations; prints ``READY``, waits for a line on stdin, then adds,
updates, deletes and searches memories of the user ``shared`` (with a graph: infer=True, one relation per
add), printing ``ADD <id> <text>`` / ``UPD <id> <text>`` / ``DEL <id>`` once acknowledged and
``BAD <reason>`` for a half-written result.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from tests.postgres.child import open_memory
from tests.reliability.consistency import check_results, digest

DENSE = {"dense_weight": 1.0, "lexical_weight": 0.0, "graph_weight": 0.0}


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def crash(mem: Any, seed: int, live_file: str, infer: bool) -> None:
    rng = random.Random(seed)
    with open(live_file, encoding="utf-8") as fh:
        acked: list[tuple[str, str, str]] = [tuple(x) for x in json.load(fh)]  # (id, user, text)
    say("READY")
    n = seed * 1000
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.12 and acked:
            mid, _, _ = acked.pop(rng.randrange(len(acked)))
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
            user, text = f"u{n % 3}", f"I like item{n} with token{n}x"
            say("BEGIN", "add", json.dumps({"user": user, "text": text}))
            results = mem.add(text, user_id=user, infer=infer)["results"]
            say("ACK", "add", json.dumps({"user": user, "results": results}))
            for r in results:
                acked = [a for a in acked if a[0] != r["id"]]
                if r["event"] in ("ADD", "UPDATE"):
                    acked.append((r["id"], user, r["memory"]))


def work(mem: Any, name: str, seed: int, ops: int, infer: bool) -> None:
    rng = random.Random(seed)
    say("READY")
    sys.stdin.readline()
    mine: list[tuple[str, str]] = []
    for i in range(ops):
        roll = rng.random()
        if roll < 0.1 and mine:
            mid, _ = mine.pop(rng.randrange(len(mine)))
            mem.delete(mid)
            say("DEL", mid)
        elif roll < 0.2 and mine:
            j = rng.randrange(len(mine))
            text = f"{name} revised {i} word{rng.randrange(50)}"
            mem.update(mine[j][0], text, metadata={"writer": name, "digest": digest(text)})
            mine[j] = (mine[j][0], text)
            say("UPD", mine[j][0], text)
        elif roll < 0.45:
            for problem in check_results(mem, mem.search(f"word{rng.randrange(50)} note", user_id="shared",
                                                         limit=20)["results"]):
                say("BAD", problem)
        else:
            text = f"{name} note {i} word{rng.randrange(50)} thing{name}x{i}"
            out = mem.add(text, user_id="shared", metadata={"writer": name, "digest": digest(text)}, infer=infer)
            mine.append((out["results"][0]["id"], text))
            say("ADD", mine[-1][0], text)


def main() -> None:
    directory, url, graph, mode, seed, arg = sys.argv[1:7]
    graph_spec = json.loads(graph)
    mem = open_memory(directory, url, graph_spec, snapshot_min=3 if mode == "crash" else 20)
    if graph_spec is not False:  # rdflib compiles its SPARQL machinery on first use (~1 s): do it before READY
        from memlayer.embeddings.hashing import HashingEmbedder
        from memlayer.sync import Memory
        from tests.reliability.extractors import RelationExtractor

        with Memory(":memory:", embedder=HashingEmbedder(64), graph="memory", extractor=RelationExtractor()) as warm:
            warm.add("I like warming", user_id="warm-up")
    if mode == "crash":
        crash(mem, int(seed), arg, infer=graph_spec is not False)
    else:
        work(mem, f"proc{seed}", int(seed), int(arg), infer=graph_spec is not False)
        mem.close()


if __name__ == "__main__":
    main()
