"""The server's gate and rate limiter, in process: bounded concurrency, a bounded queue, timeouts that never
cut an operation off, and the drain at shutdown."""

from __future__ import annotations

import asyncio

import pytest

from memlayer.server.errors import ApiError
from memlayer.server.limits import Gate, RateLimiter


async def test_a_full_queue_answers_503_overloaded() -> None:
    gate = Gate(max_inflight=1, max_waiting=0, timeout_s=5)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(gate.run(slow))
    await asyncio.sleep(0.01)
    with pytest.raises(ApiError) as refused:
        await gate.run(slow)
    assert (refused.value.status, refused.value.code) == (503, "overloaded")
    assert refused.value.headers["Retry-After"] == "1"
    release.set()
    assert await first == "done"


async def test_a_timeout_answers_503_and_the_operation_still_finishes() -> None:
    gate = Gate(max_inflight=2, max_waiting=10, timeout_s=0.05)
    finished: list[str] = []

    async def write() -> None:
        await asyncio.sleep(0.3)
        finished.append("committed")

    with pytest.raises(ApiError) as slow:
        await gate.run(write)
    assert (slow.value.status, slow.value.code) == (503, "timeout")
    assert gate.running == 1 and finished == []
    assert await gate.drain(5) == 0  # shutdown waits for it
    assert finished == ["committed"] and gate.running == 0


async def test_waiting_for_a_slot_counts_toward_the_timeout() -> None:
    gate = Gate(max_inflight=1, max_waiting=10, timeout_s=0.1)
    hold = asyncio.Event()
    first = asyncio.create_task(gate.run(hold.wait))
    await asyncio.sleep(0.01)
    with pytest.raises(ApiError, match="did not finish"):
        await gate.run(lambda: asyncio.sleep(0))  # never got a slot within the timeout
    with pytest.raises(ApiError, match="did not finish"):
        await first  # the holder timed out too (and keeps running)
    hold.set()
    assert await gate.drain(5) == 0


async def test_errors_pass_through_and_free_the_slot() -> None:
    gate = Gate(max_inflight=1, max_waiting=0, timeout_s=5)

    async def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await gate.run(broken)
    assert await gate.run(lambda: asyncio.sleep(0, result=42)) == 42


def test_rate_limiter_buckets_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("memlayer.server.limits.time.monotonic", lambda: now[0])
    limiter = RateLimiter(rate=2.0, burst=3)
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(ApiError) as limited:
        limiter.check("a")
    assert limited.value.status == 429 and limited.value.headers["Retry-After"] == "1"
    limiter.check("b")  # another key has its own bucket
    now[0] += 0.5  # one token back at 2/s
    limiter.check("a")
    with pytest.raises(ApiError):
        limiter.check("a")
