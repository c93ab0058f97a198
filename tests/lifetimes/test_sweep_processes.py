"""Several processes sweeping one store at once: each expired memory is forgotten exactly once, with exactly
one history entry, whoever gets it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.clock import ManualClock
from memlayer.embeddings.hashing import HashingEmbedder
from tests.reliability.helpers import child_env

HERE = Path(__file__).resolve().parent
NOW = "2025-07-01T00:00:00+00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.requires_server("postgresql"))])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None: a SQLite store in the Memory's directory; else a PostgreSQL store (a schema of its own)."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


def test_concurrent_sweepers_forget_each_memory_once(tmp_path, store_url) -> None:
    clock = ManualClock("2025-06-01T00:00:00Z")
    store = str(tmp_path / "store")
    shared = {} if store_url is None else {"store": store_url}
    with Memory(store, embedder=HashingEmbedder(64), graph=False, clock=clock,
                retention={"sweep_interval": None}, **shared) as m:
        m.bulk_add([{"text": f"lapsing {i}", "user_id": f"u{i % 7}", "ttl": "1d"} for i in range(400)]
                   + [{"text": f"staying {i}", "user_id": "u0"} for i in range(20)], progress=False)
        ids = [r["id"] for u in range(7) for r in m.get_all(user_id=f"u{u}")["results"]
               if r["memory"].startswith("lapsing")]
    assert len(ids) == 400
    # on PostgreSQL each process is a host of its own (its own directory, one shared database)
    places = [store if store_url is None else str(tmp_path / f"host{i}") for i in range(3)]
    children = [subprocess.Popen([sys.executable, str(HERE / "sweep_child.py"), place, NOW, "25", *([store_url] if store_url else [])],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=child_env()) for place in places]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "READY"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = []
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert sum(r["forgotten"] for r in reports) == 400
    with Memory(store, embedder=HashingEmbedder(64), graph=False, clock=ManualClock(NOW),
                retention={"sweep_interval": None}, **shared) as m:
        assert all(m.get(i) is None for i in ids)
        assert all([h["event"] for h in m.history(i)] == ["ADD", "DELETE"] for i in ids)
        assert len(m.get_all(user_id="u0")["results"]) == 20
        assert m.health()["ok"]
