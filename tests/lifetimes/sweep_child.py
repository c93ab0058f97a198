"""A process that sweeps a shared store when told: ``python sweep_child.py DIRECTORY NOW BATCH [STORE_URL]``.

Prints READY once open, sweeps on the first line of stdin, prints the report as JSON."""

from __future__ import annotations

import json
import sys

from memlayer import Memory
from memlayer.clock import ManualClock
from memlayer.embeddings.hashing import HashingEmbedder


def main() -> None:
    directory, now, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shared = {"store": sys.argv[4]} if len(sys.argv) > 4 else {}
    with Memory(directory, embedder=HashingEmbedder(64), graph=False, clock=ManualClock(now),
                retention={"grace_period": 0, "sweep_interval": None, "sweep_batch": batch}, **shared) as m:
        print("READY", flush=True)
        sys.stdin.readline()
        print(json.dumps(m.sweep()), flush=True)


if __name__ == "__main__":
    main()
