"""Decay and reinforcement in ranking: settings as data in SearchConfig, off by default."""

from __future__ import annotations

import pytest

from memlayer import Memory, SearchConfig
from memlayer.clock import ManualClock
from memlayer.errors import ConfigError

RECENCY = {"preset": "vector", "recency_weight": 0.5, "recency_half_life": "7d"}
REINFORCED = {"preset": "vector", "reinforcement_weight": 0.5}


@pytest.fixture
def m(tmp_path, hash_embedder):
    clock = ManualClock("2025-01-01T00:00:00Z")
    mem = Memory(str(tmp_path), embedder=hash_embedder, graph=False, clock=clock, retention={"sweep_interval": None})
    mem.clock = clock  # type: ignore[attr-defined]
    yield mem
    mem.close()


def twins(m) -> tuple[str, str]:
    """Two memories as relevant as each other (same text; metadata keeps them apart), a month apart."""
    m.clock.set("2025-02-01")  # (a timestamp is never later than the clock)
    old = m.add("My favourite cafe is on Main Street", user_id="u", infer=False, metadata={"n": 1},
                timestamp="2025-01-01")["results"][0]["id"]
    new = m.add("My favourite cafe is on Main Street", user_id="u", infer=False, metadata={"n": 2},
                timestamp="2025-02-01")["results"][0]["id"]
    return old, new


def ranked(m, **kw) -> list[str]:
    return [r["id"] for r in m.search("favourite cafe", user_id="u", **kw)["results"]]


def test_recency_prefers_the_fresher_of_equals_as_of_the_time_searched(m) -> None:
    old, new = twins(m)
    m.clock.set("2025-02-02")
    assert ranked(m, config=RECENCY) == [new, old]
    scores = [r["score"] for r in m.search("favourite cafe", user_id="u", config=RECENCY)["results"]]
    assert scores[0] - scores[1] == pytest.approx(0.5 * (0.5 ** (1 / 7) - 0.5 ** (32 / 7)), abs=1e-5)
    assert ranked(m, config=RECENCY, as_of="2025-01-15") == [old]  # then only the old one existed


def test_a_recall_or_restatement_refreshes_recency_and_reinforces(m) -> None:
    old, new = twins(m)
    m.clock.set("2025-03-01")
    m.add("My favourite cafe is on Main Street", user_id="u", infer=False, metadata={"n": 1})  # said again: fresh
    assert ranked(m, config=RECENCY) == [old, new]
    assert ranked(m, config=REINFORCED)[0] == old  # re-stated once
    m.search("favourite cafe", user_id="u", limit=1, config={"preset": "vector", "recency_weight": 0})
    m.sweep()  # the recall counts are written
    assert m.async_memory.store.get(ranked(m, config="vector", limit=1)[0]).recalls >= 1


def test_off_by_default_and_validated() -> None:
    for name in ("vector", "hybrid", "default"):
        assert not SearchConfig.preset(name).uses_lifetimes
    assert SearchConfig.coerce({"recency_half_life": "12h"}).recency_half_life == 43200
    with pytest.raises(ConfigError, match="recency_weight"):
        SearchConfig.coerce({"recency_weight": -1})
    with pytest.raises(ConfigError, match="recency_half_life"):
        SearchConfig.coerce({"recency_half_life": "never"})
