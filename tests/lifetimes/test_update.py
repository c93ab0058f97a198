"""update() changes current memories only: a closed or expired memory is refused as reads of current memories
leave it out (a NotFoundError saying why and what to do), and nothing of it changes, its past included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from memlayer import AsyncMemory, Memory
from memlayer.errors import ConfigError, NotCurrentError, NotFoundError


def one(m: Memory, text: str, **kw: Any) -> str:
    return str(m.add(text, user_id="u", infer=False, **kw)["results"][0]["id"])


def unchanged(m: Memory, mid: str, before: dict[str, Any], events: int) -> None:
    assert m.get(mid) == before and len(m.history(mid)) == events


def test_a_closed_memory_cannot_be_updated(memory) -> None:
    paris = memory.add("I live in Paris", user_id="u")["results"][0]["id"]
    berlin = next(r["id"] for r in memory.add("I live in Berlin", user_id="u")["results"] if r["event"] == "ADD")
    before = memory.get(paris)
    assert before["valid_to"] is not None and before["superseded_by"] == berlin
    for change in ({"text": "User lives in Rome"}, {"ttl": "1d"}, {"expires_at": "never"}):
        with pytest.raises(NotCurrentError, match=f"memory '{paris}' was closed at .*; only a current memory can "
                                                  f"be updated: update '{berlin}', the memory that replaced it"):
            memory.update(paris, **change)
        unchanged(memory, paris, before, 2)
    budgeted = memory.add("I like tea", user_id="w", infer=False)["results"][0]["id"]
    memory.set_retention(user_id="w", max_memories=1)
    memory.add("I like coffee", user_id="w", infer=False)  # the cap closes the older one (ties go to the older)
    assert memory.get(budgeted)["valid_to"] is not None and memory.get(budgeted)["superseded_by"] is None
    with pytest.raises(NotFoundError, match="only a current memory can be updated: add\\(\\) the fact again"):
        memory.update(budgeted, "I like green tea")
    memory.delete(paris)  # forgetting is not a change: it takes any memory
    assert memory.get(paris) is None


def test_an_expired_memory_cannot_be_updated_nor_revived(memory, clock) -> None:
    mid = one(memory, "Call the plumber", ttl="1h")
    clock.advance(hours=2)
    before = memory.get(mid)
    for change in ({"text": "Call the plumber again"}, {"ttl": "7d"}, {"expires_at": "never"},
                   {"text": "Call the plumber again", "expires_at": "2025-07-01"}):
        with pytest.raises(NotCurrentError, match=f"memory '{mid}' expired at 2025-06-02T10:00:00\\+00:00 .*only a "
                                                  "current memory can be updated: add\\(\\) the fact again"):
            memory.update(mid, **change)
        unchanged(memory, mid, before, 1)
    assert memory.get_all(user_id="u")["results"] == []  # still lapsed: not revived
    assert [r["id"] for r in memory.get_all(user_id="u", as_of="2025-06-02T11:00:00Z")["results"]] == []
    assert memory.refresh(mid)["results"][0]["refreshed"] is False  # as refresh leaves it alone
    again = memory.add("Call the plumber", user_id="u", infer=False, ttl="7d")["results"][0]
    assert again["event"] == "ADD" and again["id"] != mid  # what the error advises: a new memory


def test_a_memory_lapsing_at_this_very_moment_is_expired(memory, clock) -> None:
    mid = one(memory, "lapses on the hour", ttl="1h")
    clock.advance(minutes=59)
    memory.update(mid, "lapses on the hour, still")  # current until its expiry
    clock.advance(minutes=1)
    with pytest.raises(NotCurrentError):  # expiry is exclusive, as in reads
        memory.update(mid, ttl="1d")


async def test_the_async_face_refuses_alike(tmp_path, hash_embedder, clock) -> None:
    m = AsyncMemory(str(tmp_path / "a"), embedder=hash_embedder, graph=False, clock=clock,
                    retention={"sweep_interval": None})
    try:
        mid = (await m.add("Call the plumber", user_id="u", infer=False, ttl="1h"))["results"][0]["id"]
        clock.advance(hours=2)
        with pytest.raises(NotCurrentError, match="expired at"):
            await m.update(mid, ttl="1d")
        assert (await m.get(mid))["expires_at"] == "2025-06-02T10:00:00+00:00"
    finally:
        await m.close()


def test_an_expiry_not_after_now_is_refused_as_add_refuses_it(memory, clock) -> None:
    mid = one(memory, "I am in Lisbon", ttl="1d")
    before = memory.get(mid)
    with pytest.raises(ConfigError, match="expires_at \\(2025-06-01T00:00:00\\+00:00\\) is not after now "
                                          "\\(2025-06-02T09:00:00\\+00:00\\); give a later expires_at or a ttl"):
        memory.update(mid, "I was in Lisbon", expires_at="2025-06-01")
    with pytest.raises(ConfigError, match="is not after now"):  # lapsing at once is lapsing already
        memory.update(mid, expires_at=clock.now())
    with pytest.raises(ConfigError, match="not after the memory's time"):  # add's wording, the same family
        one(memory, "born expired", expires_at="2025-06-01")
    unchanged(memory, mid, before, 1)
    memory.update(mid, expires_at=clock.now() + timedelta(seconds=1))
    assert memory.get(mid)["expires_at"] == "2025-06-02T09:00:01+00:00"


async def test_the_async_face_refuses_a_past_expiry_alike(tmp_path, hash_embedder, clock) -> None:
    m = AsyncMemory(str(tmp_path / "a"), embedder=hash_embedder, graph=False, clock=clock,
                    retention={"sweep_interval": None})
    try:
        mid = (await m.add("I am in Lisbon", user_id="u", infer=False))["results"][0]["id"]
        with pytest.raises(ConfigError, match="is not after now"):
            await m.update(mid, expires_at="2020-01-01")
        assert (await m.get(mid))["expires_at"] is None
    finally:
        await m.close()
