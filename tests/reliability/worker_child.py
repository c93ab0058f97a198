"""Child process for the concurrency tests: writes, updates, deletes and searches one shared store.

    python worker_child.py STORE NAME OPS SEED GRAPH

Prints ``READY`` once the store is open, waits for a line on stdin (the start signal), then, per
operation, ``ADD <id> <text>`` / ``UPD <id> <text>`` / ``DEL <id>`` once acknowledged, and
``BAD <reason>`` for any inconsistency a search saw. Errors go to stderr and exit non-zero.
"""

from __future__ import annotations

import random
import sys

from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.sync import Memory
from tests.reliability.consistency import check_results, digest


def main() -> None:
    store, name, ops, seed, graph = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    rng = random.Random(seed)
    options = {} if graph == "none" else {"extractor": _double()}
    mem = Memory(store, embedder=HashingEmbedder(64), graph=False if graph == "none" else graph,
                 snapshot_min=20, **options)
    print("READY", flush=True)
    sys.stdin.readline()
    mine: list[tuple[str, str]] = []
    for i in range(ops):
        roll = rng.random()
        if roll < 0.1 and mine:
            mid, _ = mine.pop(rng.randrange(len(mine)))
            mem.delete(mid)
            print("DEL", mid, flush=True)
        elif roll < 0.2 and mine:
            j = rng.randrange(len(mine))
            text = f"{name} revised {i} word{rng.randrange(50)}"
            mem.update(mine[j][0], text, metadata={"writer": name, "digest": digest(text)})
            mine[j] = (mine[j][0], text)
            print("UPD", mine[j][0], text, flush=True)
        elif roll < 0.45:
            query = f"word{rng.randrange(50)} revised note"
            for problem in check_results(mem, mem.search(query, user_id="shared", limit=20)["results"]):
                print("BAD", problem, flush=True)
        else:
            text = f"{name} note {i} word{rng.randrange(50)}"
            out = mem.add(text, user_id="shared", metadata={"writer": name, "digest": digest(text)},
                          infer=graph != "none")
            mid = out["results"][0]["id"]
            mine.append((mid, text))
            print("ADD", mid, text, flush=True)
    mem.close()


def _double() -> object:
    from tests.reliability.extractors import RelationExtractor

    return RelationExtractor()


if __name__ == "__main__":
    main()
