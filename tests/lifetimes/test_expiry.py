"""Expiry: add(..., expires_at | ttl), defaults per store and scope, update(), refresh(), re-statements.
Expired memories leave search and get_all, stay for include_expired and as_of."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from memlayer import Memory
from memlayer.errors import ConfigError, MemlayerError, NotFoundError
from memlayer.storage.sqlite import SQLiteStore

from .conftest import START

DAY = 86_400


def ids(answer: dict) -> list[str]:
    return [r["id"] for r in answer["results"]]


def one(m: Memory, text: str, **kw) -> str:
    return m.add(text, user_id="u", infer=False, **kw)["results"][0]["id"]


def test_a_ttl_memory_leaves_search_and_get_all_when_it_lapses(memory, clock) -> None:
    lisbon = one(memory, "I am in Lisbon this week", ttl="5d")
    lasting = one(memory, "I like tea")
    assert memory.get(lisbon)["expires_at"] == "2025-06-07T09:00:00+00:00" and memory.get(lasting)["expires_at"] is None
    assert set(ids(memory.search("Lisbon tea", user_id="u"))) == {lisbon, lasting}
    clock.advance(days=5)  # expiry is exclusive: at expires_at it has lapsed
    assert ids(memory.search("Lisbon tea", user_id="u")) == [lasting]
    assert ids(memory.get_all(user_id="u")) == [lasting]
    # still there for the past and on request
    assert set(ids(memory.search("Lisbon", user_id="u", include_expired=True))) == {lisbon, lasting}
    assert set(ids(memory.get_all(user_id="u", include_expired=True))) == {lisbon, lasting}
    assert set(ids(memory.search("Lisbon", user_id="u", as_of="2025-06-04"))) == {lisbon, lasting}
    assert ids(memory.get_all(user_id="u", as_of="2025-06-08")) == [lasting]
    assert memory.get(lisbon)["memory"] == "I am in Lisbon this week"  # by id, like a closed memory


def test_expires_at_a_time_or_never_and_argument_errors(memory) -> None:
    at = one(memory, "until friday", expires_at="2025-06-06T18:00:00Z")
    assert memory.get(at)["expires_at"] == "2025-06-06T18:00:00+00:00"
    from_timestamp = one(memory, "said last year", timestamp="2024-06-01", ttl=timedelta(days=2))
    assert memory.get(from_timestamp)["expires_at"] == "2024-06-03T00:00:00+00:00"  # counted from the timestamp
    assert memory.get(one(memory, "forever", expires_at="never"))["expires_at"] is None
    with pytest.raises(MemlayerError, match="not both"):
        one(memory, "x", expires_at="2030-01-01", ttl=5)
    with pytest.raises(MemlayerError, match="not after the memory's time"):
        one(memory, "born expired", expires_at="2025-06-01")
    with pytest.raises(MemlayerError, match="ttl must be"):
        one(memory, "x", ttl="soonish")
    with pytest.raises(MemlayerError, match="ttl must be"):
        one(memory, "x", ttl=-3)
    with pytest.raises(TypeError, match=r"Memory\.add\(\)"):
        memory.add("x", user_id="u", tll=5)


def test_store_and_scope_defaults(make_memory, clock) -> None:
    m = make_memory(retention={"ttl": "30d"})
    assert m.get(one(m, "default thirty days"))["expires_at"] == "2025-07-02T09:00:00+00:00"
    assert m.get(one(m, "mine for a week", ttl="7d"))["expires_at"] == "2025-06-09T09:00:00+00:00"  # explicit wins
    assert m.get_retention(user_id="u") == {"ttl": 30 * DAY, "max_memories": None,
                                            "own": {"ttl": None, "max_memories": None}}
    m.set_retention(user_id="u", ttl="1d")
    got = m.add("bot scope too", user_id="u", agent_id="bot", infer=False)["results"][0]["id"]
    assert m.get(got)["expires_at"] == "2025-06-03T09:00:00+00:00"  # u's policy covers (u, bot)
    m.set_retention(user_id="u", agent_id="bot", ttl="never")  # the most specific policy wins
    got = m.add("bot forever", user_id="u", agent_id="bot", infer=False)["results"][0]["id"]
    assert m.get(got)["expires_at"] is None
    other = m.add("someone else", user_id="v", infer=False)["results"][0]["id"]
    assert m.get(other)["expires_at"] == "2025-07-02T09:00:00+00:00"
    assert m.get_retention(user_id="u", agent_id="bot")["own"] == {"ttl": "never", "max_memories": None}
    assert m.set_retention(user_id="u", ttl=None)["ttl"] == 30 * DAY  # cleared: back to the store's
    assert m.get_retention(user_id="u")["own"] == {"ttl": None, "max_memories": None}
    with pytest.raises(MemlayerError, match="at least one of"):
        m.set_retention(ttl="1d")
    # the policy is in the store itself: any other process (another connection) reads it
    m.set_retention(user_id="w", ttl="2h", max_memories=10)
    db = SQLiteStore(m.async_memory.directory + "/memlayer.db")
    try:
        assert db.meta_items("retention:") == {'retention:["u", "bot", null]': '{"ttl": "never"}',
                                               'retention:["w", null, null]': '{"ttl": 7200.0, "max_memories": 10.0}'}
    finally:
        db.close()


def test_lifetimes_past_the_year_9999_are_refused(memory) -> None:
    """A time holds at most the year 9999: a duration or expiry beyond it is a ConfigError saying so, never a
    stored expiry that no read can show."""
    mid = one(memory, "I like tea", ttl="1d")
    too_long = [lambda: one(memory, "x", ttl=1e300), lambda: one(memory, "x", ttl="500000w"),
                lambda: one(memory, "x", timestamp="2020-01-01", ttl=f"{7985 * 366}d"),  # (a timestamp is never later than now)
                lambda: memory.update(mid, ttl=1e300), lambda: memory.refresh(mid, ttl=1e300),
                lambda: memory.set_retention(user_id="u", ttl=1e300),
                lambda: memory.bulk_add([{"text": "x", "user_id": "u", "ttl": 1e300}], progress=False)]
    for call in too_long:
        with pytest.raises(ConfigError, match="year 9999"):
            call()
    assert memory.get_retention(user_id="u")["own"]["ttl"] is None
    assert ids(memory.get_all(user_id="u")) == [mid]


def test_a_stored_expiry_out_of_range_breaks_no_read(memory) -> None:
    """Rows written before the bound (expires_at 1e300) read as the last time there is, and never break the
    writes of other scopes that share their text."""
    mid = one(memory, "I like tea")
    with sqlite3.connect(memory.async_memory.directory + "/memlayer.db") as db:
        db.execute("UPDATE memories SET expires_at = 1e300, ttl = 1e300 WHERE id = ?", (mid,))
    assert memory.get(mid)["expires_at"] == "9999-12-31T23:59:59.999999+00:00"
    assert ids(memory.get_all(user_id="u")) == [mid] and ids(memory.search("tea", user_id="u")) == [mid]
    assert memory.add("I like tea", user_id="u", infer=False)["results"][0]["event"] == "NONE"  # re-stated
    other = memory.add("I like tea", user_id="v", infer=False)["results"][0]
    assert other["event"] == "ADD" and ids(memory.get_all(user_id="v")) == [other["id"]]
    memory.delete(mid)


def test_saying_it_again_refreshes_instead_of_duplicating(memory, clock) -> None:
    tea = one(memory, "I like tea", ttl="2d")
    clock.advance(days=1)
    again = memory.add("I like tea", user_id="u", infer=False)["results"][0]
    assert again == {"id": tea, "memory": "I like tea", "event": "NONE"}
    row = memory.async_memory.store.get(tea)
    assert row.restated == 1 and row.seen_ts == row.updated_ts + DAY
    assert memory.get(tea)["expires_at"] == "2025-06-05T09:00:00+00:00"  # its own TTL again, from the re-statement
    memory.add("I like tea", user_id="u", infer=False, ttl="10d")  # an explicit lifetime replaces the expiry
    assert memory.get(tea)["expires_at"] == "2025-06-13T09:00:00+00:00"
    memory.add("I like tea", user_id="u", infer=False, expires_at="never")
    assert memory.get(tea)["expires_at"] is None
    memory.add("I like tea", user_id="u", infer=False)  # a default never shortens "never"
    assert memory.get(tea)["expires_at"] is None and memory.async_memory.store.get(tea).restated == 4


def test_an_expired_fact_said_again_is_a_new_memory(memory, clock) -> None:
    old = one(memory, "I am in Lisbon", ttl="1d")
    clock.advance(days=2)
    new = memory.add("I am in Lisbon", user_id="u", infer=False)["results"][0]
    assert new["event"] == "ADD" and new["id"] != old
    assert memory.get(old)["expires_at"] == "2025-06-03T09:00:00+00:00"  # the lapsed one was not revived
    assert memory.async_memory.store.get(old).restated == 0


def test_the_extractor_never_decides_against_expired_memories(memory, clock) -> None:
    memory.add("I live in Paris", user_id="u", ttl="1d")
    clock.advance(days=2)
    moved = memory.add("I live in Berlin", user_id="u")["results"]
    assert [r["event"] for r in moved] == ["ADD"]  # the lapsed Paris fact is not shown, so not closed
    assert [r["memory"] for r in memory.get_all(user_id="u")["results"]] == ["User lives in Berlin"]


def test_update_changes_the_expiry_with_or_without_text(memory, clock) -> None:
    mid = one(memory, "I am in Lisbon", ttl="1d")
    clock.advance(hours=1)
    memory.update(mid, expires_at="2025-06-20")
    assert memory.get(mid)["expires_at"] == "2025-06-20T00:00:00+00:00" and memory.get(mid)["memory"] == "I am in Lisbon"
    memory.update(mid, "I am in Porto", ttl="3d")  # a ttl counts from now
    assert memory.get(mid)["expires_at"] == "2025-06-05T10:00:00+00:00" and memory.get(mid)["memory"] == "I am in Porto"
    memory.update(mid, expires_at="never")
    assert memory.get(mid)["expires_at"] is None
    history = memory.history(mid)
    assert [(h["event"], h.get("reason")) for h in history] == [
        ("ADD", None), ("UPDATE", "expires at 2025-06-20T00:00:00+00:00"),
        ("UPDATE", "expires at 2025-06-05T10:00:00+00:00"), ("UPDATE", "never expires")]
    assert (history[1]["old_memory"], history[1]["new_memory"]) == ("I am in Lisbon", "I am in Lisbon")
    with pytest.raises(MemlayerError, match="needs a new text, or expires_at="):
        memory.update(mid)
    with pytest.raises(MemlayerError, match="together with the text"):
        memory.update(mid, metadata={"a": 1}, ttl=5)
    with pytest.raises(NotFoundError):
        memory.update(mid, ttl=5, user_id="someone else")


def test_refresh_extends_by_the_memory_own_ttl(memory, clock) -> None:
    ttl = one(memory, "refreshed on read", ttl="1d")
    fixed = one(memory, "until a date", expires_at="2025-06-10")
    never = one(memory, "never expires")
    gone = one(memory, "lapses", ttl="1h")
    clock.advance(hours=12)
    answer = memory.refresh([ttl, fixed, never, gone])["results"]
    assert answer == [
        {"id": ttl, "refreshed": True, "expires_at": "2025-06-03T21:00:00+00:00"},
        {"id": fixed, "refreshed": False, "expires_at": "2025-06-10T00:00:00+00:00"},  # no TTL to extend by
        {"id": never, "refreshed": False, "expires_at": None},
        {"id": gone, "refreshed": False, "expires_at": "2025-06-02T10:00:00+00:00"},  # already lapsed
    ]
    # an explicit ttl works for a fixed expiry too, but never moves it earlier
    assert memory.refresh(fixed, ttl="30d")["results"][0]["expires_at"] == "2025-07-02T21:00:00+00:00"
    assert memory.refresh(fixed, ttl="1h")["results"][0]["expires_at"] == "2025-07-02T21:00:00+00:00"
    assert memory.async_memory.store.get(ttl).updated_ts == memory.async_memory.store.get(ttl).fresh_ts
    assert [h["event"] for h in memory.history(ttl)] == ["ADD"]  # a refresh is not a change of the memory
    with pytest.raises(NotFoundError):
        memory.refresh([ttl, "nope"])
    with pytest.raises(NotFoundError):
        memory.refresh(ttl, user_id="v")


def test_refresh_with_a_ttl_keeps_the_memory_own_ttl(memory, clock) -> None:
    """refresh(ttl=) moves an expiry once and touches nothing else: later refreshes and re-statements still
    extend by the memory's own TTL (or not at all, without one)."""
    week = one(memory, "on call this week", ttl="7d")
    fixed = one(memory, "until a date", expires_at="2025-06-10")
    clock.advance(hours=1)
    assert memory.refresh(week, ttl=60)["results"][0]["expires_at"] == "2025-06-09T09:00:00+00:00"  # not moved
    assert memory.refresh(fixed, ttl="30d")["results"][0]["expires_at"] == "2025-07-02T10:00:00+00:00"
    clock.advance(days=6)
    assert memory.refresh(week)["results"][0]["expires_at"] == "2025-06-15T10:00:00+00:00"  # still 7 days
    assert memory.refresh(fixed)["results"][0] == {"id": fixed, "refreshed": False,
                                                   "expires_at": "2025-07-02T10:00:00+00:00"}  # still no TTL
    memory.add("on call this week", user_id="u", infer=False)  # a re-statement extends by the own TTL too
    assert memory.get(week)["expires_at"] == "2025-06-15T10:00:00+00:00"
    assert [h["event"] for h in memory.history(week)] == ["ADD"]


def test_bulk_records_carry_their_lifetimes(memory) -> None:
    memory.bulk_add([{"text": "ttl row", "user_id": "u", "ttl": "1d"},
                     {"text": "dated row", "user_id": "u", "expires_at": "2025-07-01"},
                     {"text": "plain row", "user_id": "u"}], progress=False)
    got = {r["memory"]: r["expires_at"] for r in memory.get_all(user_id="u")["results"]}
    assert got == {"ttl row": "2025-06-03T09:00:00+00:00", "dated row": "2025-07-01T00:00:00+00:00", "plain row": None}
    with pytest.raises(MemlayerError, match="record 1: .*ttl must be"):
        memory.bulk_add([{"text": "ok", "user_id": "u"}, {"text": "bad", "user_id": "u", "ttl": "later"}],
                        progress=False)


def test_the_start_time_is_the_clock(memory) -> None:
    assert memory.get(one(memory, "now"))["created_at"] == START


def test_get_reads_only_current_memories_on_request(memory, clock) -> None:
    lapsing, closed = one(memory, "lapses", ttl="1h"), one(memory, "closed later")
    memory.set_retention(user_id="u", max_memories=1)
    one(memory, "newest")  # closes "closed later" (the budget)
    clock.advance(hours=2)
    assert memory.get(lapsing) is not None and memory.get(closed) is not None  # by default, like history
    assert memory.get(lapsing, include_expired=False) is None and memory.get(closed, include_expired=False) is None
