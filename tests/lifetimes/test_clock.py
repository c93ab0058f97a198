"""The injectable clock: every "now" of an operation comes from it, so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memlayer import Memory
from memlayer.clock import ManualClock, SystemClock, resolve_clock
from memlayer.errors import ConfigError

START = "2025-06-02T09:00:00+00:00"


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(START)
    assert clock.now() == clock.now() == datetime(2025, 6, 2, 9, tzinfo=timezone.utc)
    assert clock.advance(days=1, hours=2) == datetime(2025, 6, 3, 11, tzinfo=timezone.utc)
    assert clock.advance(30).minute == 0 and clock.now().second == 30
    assert clock.set("2024-01-01") == datetime(2024, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match="timedelta parts"):
        clock.advance(fortnights=1)


def test_resolve_clock_accepts_objects_and_callables() -> None:
    assert isinstance(resolve_clock(None), SystemClock) and isinstance(resolve_clock("system"), SystemClock)
    manual = ManualClock(START)
    assert resolve_clock(manual) is manual
    assert resolve_clock(lambda: 1_700_000_000).now() == datetime.fromtimestamp(1_700_000_000, timezone.utc)

    class Naive:
        def now(self) -> datetime:
            return datetime(2025, 1, 1, 12)

    assert resolve_clock(Naive()).now() == datetime(2025, 1, 1, 12, tzinfo=timezone.utc)  # naive reads as UTC
    with pytest.raises(ConfigError, match="clock must be"):
        resolve_clock(42)
    system = SystemClock().now()
    assert system.tzinfo is not None and abs(system - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_operations_take_their_time_from_the_clock(tmp_path, hash_embedder) -> None:
    clock = ManualClock(START)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, clock=clock) as m:
        mid = m.add("I like tea", user_id="u", infer=False)["results"][0]["id"]
        assert m.get(mid)["created_at"] == START
        clock.advance(days=2)
        m.update(mid, "I like green tea")
        assert m.get(mid)["updated_at"] == "2025-06-04T09:00:00+00:00"
        m.bulk_add([{"text": "bulk row", "user_id": "u"}], progress=False)
        bulk = next(r for r in m.get_all(user_id="u")["results"] if r["memory"] == "bulk row")
        assert bulk["created_at"] == "2025-06-04T09:00:00+00:00"
        clock.advance(hours=1)
        m.delete(mid)
        assert [(h["event"], h["created_at"]) for h in m.history(mid)] == [
            ("ADD", START), ("UPDATE", "2025-06-04T09:00:00+00:00"), ("DELETE", "2025-06-04T10:00:00+00:00")]
