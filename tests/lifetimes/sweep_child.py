"""A process that sweeps a shared store when told: ``python sweep_child.py STORE NOW BATCH``.

Prints READY once open, sweeps on the first line of stdin, prints the report as JSON."""

from __future__ import annotations

import json
import sys

from memlayer import Memory
from memlayer.clock import ManualClock
from memlayer.embeddings.hashing import HashingEmbedder


def main() -> None:
    store, now, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Memory(store, embedder=HashingEmbedder(64), graph=False, clock=ManualClock(now),
                retention={"grace_period": 0, "sweep_interval": None, "sweep_batch": batch}) as m:
        print("READY", flush=True)
        sys.stdin.readline()
        print(json.dumps(m.sweep()), flush=True)


if __name__ == "__main__":
    main()
