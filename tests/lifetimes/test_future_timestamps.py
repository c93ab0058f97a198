"""A write's timestamp is when it was said: never later than the clock (beyond a small skew), so "current" and
``as_of=now`` always agree on what is valid."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memlayer import AsyncMemory
from memlayer.clock import ManualClock
from memlayer.errors import ConfigError, MemlayerError
from memlayer.types import CLOCK_SKEW_S


def texts(answer: dict) -> list[str]:
    return [r["memory"] for r in answer["results"]]


def test_a_future_timestamp_is_refused_and_writes_nothing(memory, clock: ManualClock) -> None:
    later = clock.now() + timedelta(days=30)
    with pytest.raises(ConfigError, match="in the future .*expires_at or ttl"):
        memory.add("future plan fact", user_id="u", infer=False, timestamp=later)
    with pytest.raises(ConfigError, match="in the future"):
        memory.add("I moved to Lisbon.", user_id="u", timestamp=later.isoformat())  # inferred: the same
    assert memory.get_all(user_id="u", include_expired=True)["results"] == []


def test_a_timestamp_within_the_clock_skew_is_now(memory, clock: ManualClock) -> None:
    now = clock.now()
    skewed = now + timedelta(seconds=CLOCK_SKEW_S - 1)
    mid = memory.add("future plan fact", user_id="u", infer=False, timestamp=skewed)["results"][0]["id"]
    assert memory.get(mid)["valid_from"] == now.isoformat()
    current, at_now = memory.get_all(user_id="u"), memory.get_all(user_id="u", as_of=now)
    assert texts(current) == texts(at_now) == ["future plan fact"]
    assert texts(memory.search("plan", user_id="u")) == texts(memory.search("plan", user_id="u", as_of=now))
    assert memory.history(mid)[0]["created_at"] == now.isoformat()


def test_past_timestamps_are_kept_as_given(memory, clock: ManualClock) -> None:
    past = clock.now() - timedelta(days=400)
    mid = memory.add("old fact", user_id="u", infer=False, timestamp=past)["results"][0]["id"]
    assert memory.get(mid)["valid_from"] == past.isoformat()


def test_bulk_add_refuses_a_future_record_naming_it(memory, clock: ManualClock) -> None:
    records = [{"text": "ok", "user_id": "u", "timestamp": clock.now() - timedelta(days=1)},
               {"text": "later", "user_id": "u", "timestamp": clock.now() + timedelta(hours=1)}]
    with pytest.raises(MemlayerError, match="record 1: timestamp .* is in the future"):
        memory.bulk_add(records, progress=False)
    assert memory.get_all(user_id="u", include_expired=True)["results"] == []  # the batch wrote nothing


async def test_the_async_face_refuses_it_too(tmp_path, hash_embedder, clock: ManualClock) -> None:
    m = AsyncMemory(str(tmp_path / "a"), embedder=hash_embedder, graph=False, clock=clock)
    try:
        with pytest.raises(ConfigError, match="in the future"):
            await m.add("x", user_id="u", infer=False, timestamp=clock.now() + timedelta(days=1))
        assert (await m.get_all(user_id="u", include_expired=True))["results"] == []
    finally:
        await m.close()
