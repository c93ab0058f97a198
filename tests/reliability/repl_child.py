"""Child process that holds a store open and runs commands read from stdin (one JSON object per line).

    python repl_child.py STORE GRAPH

Prints ``READY`` once open, or ``ERROR <ExceptionType> <message>`` and exits 3 when opening fails.
Commands: ``{"op": "add"|"search"|"get_all"|"delete"|"delete_all", "kwargs": {...}}`` print the
method's JSON result; ``{"op": "export"}`` prints the graph's N-Quads as a JSON string; ``{"op": "quit"}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.sync import Memory


def main() -> None:
    store, graph = sys.argv[1], sys.argv[2]
    from tests.reliability.extractors import RelationExtractor

    graph_arg: Any = {"true": True, "false": False}.get(graph, graph)
    try:
        mem = Memory(store, embedder=HashingEmbedder(64), graph=graph_arg, extractor=RelationExtractor())
    except Exception as exc:
        print("ERROR", type(exc).__name__, str(exc).replace("\n", " "), flush=True)
        sys.exit(3)
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        if cmd["op"] == "export":
            result: Any = mem.graph.export("nquads") if mem.graph is not None else ""
        else:
            result = getattr(mem, cmd["op"])(**cmd.get("kwargs", {}))
        print(json.dumps(result), flush=True)
    mem.close()


if __name__ == "__main__":
    main()
