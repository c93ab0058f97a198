"""Sweeping: expired memories are forgotten after the grace period with a history entry saying why; the sweep
runs on demand and throttled inside add(); it is idempotent and a failure leaves nothing half-done."""

from __future__ import annotations

import pytest

from memlayer.errors import ConfigError, MemlayerError, StoreError
from memlayer.retention import LAST_SWEEP_KEY

from .test_expiry import one


def test_forgotten_after_the_grace_period_with_a_reason(make_memory, clock) -> None:
    m = make_memory(retention={"grace_period": "2d"})
    lapsing = one(m, "I am in Lisbon this week", ttl="1d")
    kept = one(m, "I like tea")
    clock.advance(days=2)  # lapsed a day ago: still inside the grace period
    assert m.sweep()["forgotten"] == 0 and m.get(lapsing) is not None
    assert [r["id"] for r in m.search("Lisbon", user_id="u", include_expired=True)["results"]][0] == lapsing
    clock.advance(days=1)
    report = m.sweep()
    assert (report["forgotten"], report["closed"], report["complete"]) == (1, 0, True)
    assert report["at"] == "2025-06-05T09:00:00+00:00"
    assert m.get(lapsing) is None and m.get(kept) is not None
    assert [r["id"] for r in m.search("Lisbon tea", user_id="u", include_expired=True)["results"]] == [kept]
    history = m.history(lapsing)
    assert [h["event"] for h in history] == ["ADD", "DELETE"]
    assert history[1]["reason"] == ("expired at 2025-06-03T09:00:00+00:00; forgotten after the grace period of 2 days")
    assert history[1]["old_memory"] == "I am in Lisbon this week" and history[1]["user_id"] == "u"
    assert m.async_memory.vectors.health()["ok"]
    assert m.sweep()["forgotten"] == 0 and len(m.history(lapsing)) == 2  # again: nothing left to do


def test_sweeps_run_inside_add_at_most_every_interval(make_memory, clock) -> None:
    m = make_memory(retention={"grace_period": 0, "sweep_interval": "1h"})
    store = m.async_memory.store
    first = one(m, "first", ttl="10m")
    assert store.get_meta(LAST_SWEEP_KEY) == repr(clock.now().timestamp())  # the first add swept (nothing to do)
    clock.advance(minutes=30)
    one(m, "second")
    assert m.get(first) is not None  # lapsed, but the next sweep is not due for another 30 minutes
    clock.advance(minutes=31)
    one(m, "third")
    assert m.get(first) is None and m.history(first)[-1]["reason"].startswith("expired at")
    # another process that swept meanwhile (its time in the store) pushes this one's next sweep back
    store.set_meta(LAST_SWEEP_KEY, repr(clock.advance(minutes=59).timestamp()))
    early = one(m, "early", ttl="1m")
    clock.advance(minutes=2)
    one(m, "fourth")
    assert m.get(early) is not None
    clock.advance(hours=1)
    m.bulk_add([{"text": "bulk", "user_id": "u"}], progress=False)  # bulk_add sweeps the same way
    assert m.get(early) is None


def test_an_automatic_sweep_is_bounded_and_the_next_one_goes_on(make_memory, clock) -> None:
    m = make_memory(retention={"grace_period": 0, "sweep_interval": "1h", "sweep_batch": 3})
    m.bulk_add([{"text": f"lapsing {i}", "user_id": "u", "ttl": 60} for i in range(7)], progress=False)
    clock.advance(hours=2)
    one(m, "trigger 1")  # forgets 3; not complete: the next add sweeps again at once
    assert len(m.get_all(user_id="u", include_expired=True)["results"]) == 8 - 3
    one(m, "trigger 2")
    one(m, "trigger 3")
    assert [r["memory"] for r in m.get_all(user_id="u", include_expired=True)["results"]] == [
        "trigger 3", "trigger 2", "trigger 1"]
    assert m.sweep()["forgotten"] == 0


def test_an_automatic_sweep_merges_one_slice_of_the_text_index_and_one_asked_for_all(make_memory, clock,
                                                                                       monkeypatch) -> None:
    m = make_memory(retention={"sweep_interval": "1h"})
    store = m.async_memory.store
    calls: list[int] = []

    def merge(pages: int) -> bool:  # a store with more to merge than any number of slices
        calls.append(pages)
        return len(calls) < 5

    monkeypatch.setattr(store, "merge_text_index", merge)
    clock.advance(hours=2)
    one(m, "trigger")  # the automatic sweep inside add()
    assert len(calls) == 1
    calls.clear()
    m.sweep()
    assert len(calls) == 5  # until nothing is left


def test_a_failing_sweep_writes_nothing_and_the_next_one_finishes(make_memory, clock, monkeypatch) -> None:
    m = make_memory(retention={"grace_period": 0, "sweep_batch": 2})
    due = [one(m, f"lapsing {i}", ttl=60) for i in range(3)]
    clock.advance(hours=1)
    store = m.async_memory.store
    real = store.transaction
    calls = {"n": 0}

    def flaky():  # the second batch's transaction fails after deleting its rows
        calls["n"] += 1
        cm = real()
        if calls["n"] != 2:
            return cm

        class Failing:
            def __enter__(self):
                self.tx = cm.__enter__()
                original = self.tx.add_history

                def add_history(entries):
                    original(entries)
                    raise StoreError("disk full (simulated)")

                self.tx.add_history = add_history
                return self.tx

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Failing()

    monkeypatch.setattr(store, "transaction", flaky)
    with pytest.raises(StoreError, match="simulated"):
        m.sweep()
    monkeypatch.setattr(store, "transaction", real)
    # the first batch (2 rows) committed; the failed one left its row and history untouched
    assert [m.get(i) is None for i in due] == [True, True, False]
    assert [h["event"] for h in m.history(due[2])] == ["ADD"]
    assert m.sweep()["forgotten"] == 1
    assert all(m.get(i) is None and [h["event"] for h in m.history(i)] == ["ADD", "DELETE"] for i in due)


def test_with_a_graph_the_forgotten_memory_relations_go_too(make_memory, clock) -> None:
    m = make_memory(graph="memory", retention={"grace_period": 0})
    m.add("I live in Lisbon", user_id="u", ttl="1d")
    assert [r["destination"] for r in m.search("Lisbon", user_id="u")["relations"]] == ["Lisbon"]
    clock.advance(days=2)
    assert m.sweep()["forgotten"] == 1
    assert m.search("Lisbon", user_id="u", include_expired=True)["relations"] == []


def test_relations_of_lapsed_memories_leave_search_before_the_sweep(make_memory, clock) -> None:
    m = make_memory(graph="memory")
    m.add("I live in Lisbon", user_id="u", ttl="1d")
    m.add("I work at Acme", user_id="u")
    clock.advance(days=2)
    assert [r["destination"] for r in m.search("Acme or Lisbon", user_id="u")["relations"]] == ["Acme"]
    every = m.search("Acme or Lisbon", user_id="u", include_expired=True)["relations"]
    assert sorted(r["destination"] for r in every) == ["Acme", "Lisbon"]
    then = m.search("Acme or Lisbon", user_id="u", as_of="2025-06-02T12:00:00Z")["relations"]
    assert sorted(r["destination"] for r in then) == ["Acme", "Lisbon"]


def test_a_scoped_sweep_keeps_to_its_scope_filters_and_grace(make_memory, clock) -> None:
    m = make_memory(retention={"grace_period": "30d"})
    mine = m.add("tagged", user_id="u", agent_id="lg", infer=False, ttl="1h", metadata={"lg": True})
    mine_id = mine["results"][0]["id"]
    plain = one(m, "plain", ttl="1h")
    other = m.add("other user", user_id="v", infer=False, ttl="1h")["results"][0]["id"]
    clock.advance(hours=2)
    store = m.async_memory.store
    assert store.get_meta(LAST_SWEEP_KEY) is None
    # inside the store's 30-day grace period: nothing goes, unless the sweep names its own grace period
    assert m.sweep(user_id="u")["forgotten"] == 0
    report = m.sweep(user_id="u", filters={"lg": True}, grace_period=0)
    assert (report["forgotten"], report["complete"]) == (1, True)
    assert m.get(mine_id) is None and m.get(plain) is not None and m.get(other) is not None
    assert m.history(mine_id)[-1]["reason"] == "expired at 2025-06-02T10:00:00+00:00; forgotten by a sweep"
    assert m.sweep(user_id="u", grace_period="1h")["forgotten"] == 1 and m.get(other) is not None
    assert store.get_meta(LAST_SWEEP_KEY) is None  # a partial sweep does not throttle the automatic ones
    assert m.sweep(grace_period=0)["forgotten"] == 1 and m.get(other) is None
    assert store.get_meta(LAST_SWEEP_KEY) is None
    with pytest.raises(MemlayerError, match="needs a user_id"):
        m.sweep(filters={"lg": True})
    with pytest.raises(ConfigError, match="grace_period"):
        m.sweep(user_id="u", grace_period=-1)


def test_a_scoped_sweep_enforces_only_the_budgets_inside_its_scope(make_memory, clock) -> None:
    m = make_memory(retention={"max_memories": 1})
    for user in ("u", "v"):
        m.bulk_add([{"text": f"{user} {i}", "user_id": user} for i in range(3)], progress=False)
    counts = {u: len(m.get_all(user_id=u)["results"]) for u in ("u", "v")}
    assert counts == {"u": 1, "v": 1}  # bulk_add enforced the cap already
    m.set_retention(user_id="u", max_memories="unlimited")
    m.set_retention(user_id="v", max_memories="unlimited")
    m.bulk_add([{"text": f"{user} more {i}", "user_id": user} for user in ("u", "v") for i in range(2)],
               progress=False)
    m.set_retention(user_id="u", max_memories=None)
    m.set_retention(user_id="v", max_memories=None)
    assert m.sweep(user_id="u")["closed"] == 2
    assert {u: len(m.get_all(user_id=u)["results"]) for u in ("u", "v")} == {"u": 1, "v": 3}
    assert m.sweep()["closed"] == 2
