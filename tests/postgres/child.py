"""A memlayer process on a shared PostgreSQL store — "a host": its own working directory and FAISS snapshots.

    python tests/postgres/child.py DIRECTORY URL GRAPH_JSON

GRAPH_JSON is ``false``, ``"memory"`` or a graph spec (``{"provider": "sparql", ...}``); with a graph the
relation-extractor double decides. Prints ``READY`` once open (or ``ERROR <type> <message>`` and exits 3),
then runs one JSON command per stdin line and prints its JSON result:

    {"op": <a Memory method>, "kwargs": {...}}
    {"op": "watermark"}      the vector index's watermark, WITHOUT catching up (what a background wake did)
    {"op": "vectors"}        the vector index caught up: {"ids": [...], "watermark": n}
    {"op": "quit"}
"""

from __future__ import annotations

import json
import sys
from typing import Any

from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.sync import Memory


def open_memory(directory: str, url: str, graph: Any, **options: Any) -> Memory:
    if graph is not False:
        from tests.reliability.extractors import RelationExtractor

        options.setdefault("extractor", RelationExtractor())
    return Memory(directory, store=url, embedder=HashingEmbedder(64), graph=graph, **options)


def run(mem: Memory, cmd: dict[str, Any]) -> Any:
    op, kwargs = cmd["op"], cmd.get("kwargs", {})
    vectors = mem.async_memory.vectors
    if op == "watermark":
        return vectors.watermark
    if op == "vectors":
        vectors.catch_up()
        return {"ids": sorted(int(i) for i in vectors.index.ids()), "watermark": vectors.watermark}
    return getattr(mem, op)(**kwargs)


def main() -> None:
    directory, url, graph = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    try:
        mem = open_memory(directory, url, graph)
    except Exception as exc:
        print("ERROR", type(exc).__name__, str(exc).replace("\n", " "), flush=True)
        sys.exit(3)
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            print(json.dumps(run(mem, cmd)), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    mem.close()


if __name__ == "__main__":
    main()
