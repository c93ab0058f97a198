"""Conformance of the lifetime verbs (expiry, reinforcement, sweeping reads): every backend passes these
unchanged (see conftest.BACKENDS). The store never reads a clock: each test passes the time."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from memlayer.filters import parse_filters
from memlayer.storage.base import HistoryEntry, NewMemory, Selection, Store
from memlayer.types import Scope

from .test_conformance import ALICE, ALICE_BOT, BOB, T0, texts, vec

H = 3600.0


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def put(store: Store, scope: Scope, text: str, *, when: float = T0, expires: float | None = None,
        ttl: float | None = None, metadata: dict | None = None, attribute: str | None = None) -> str:
    mid = str(uuid.uuid4())
    with store.transaction() as tx:
        tx.insert_memories([NewMemory(mid, scope, text, f"h-{text}", vec(len(text)), when, dict(metadata or {}),
                                      attribute, expires_at=expires, ttl=ttl)])
        tx.add_history([HistoryEntry(mid, "ADD", None, text, when, scope)])
    return mid


def test_expired_memories_leave_the_current_selection_given_now(store: Store) -> None:
    put(store, ALICE, "lasting tea")
    put(store, ALICE, "lisbon this week tea", expires=T0 + 10 * H)
    closed = put(store, ALICE, "closed tea", expires=T0 + 50 * H)
    with store.transaction() as tx:
        tx.close(closed, T0 + 5 * H, None)
    before, after = Selection(ALICE, now=at(T0 + 9 * H)), Selection(ALICE, now=at(T0 + 10 * H))
    assert texts(store, before) == {"lasting tea", "lisbon this week tea"}
    assert texts(store, after) == {"lasting tea"}  # expiry is exclusive: at expires_at it has lapsed
    assert texts(store, Selection(ALICE)) == {"lasting tea", "lisbon this week tea"}  # no now: expiry unchecked
    assert texts(store, Selection(ALICE, include_expired=True, now=at(T0 + 99 * H))) == {
        "lasting tea", "lisbon this week tea", "closed tea"}
    # as_of T: opened by T, not closed by T, not expired by T
    assert texts(store, Selection(ALICE, as_of=at(T0 + 4 * H))) == {"lasting tea", "lisbon this week tea", "closed tea"}
    assert texts(store, Selection(ALICE, as_of=at(T0 + 6 * H))) == {"lasting tea", "lisbon this week tea"}
    assert texts(store, Selection(ALICE, as_of=at(T0 + 11 * H))) == {"lasting tea"}
    # every reader of a selection agrees
    assert [m.memory for m in store.list_memories(after, 10)] == ["lasting tea"]
    assert store.count(after) == 1 and store.count(before) == 2 and store.count() == 3
    assert store.scope_rows(after, []).rids.tolist() == store.select_rids(after).tolist()
    assert [store.rows([r])[r].memory for r, _ in store.lexical(after, ["tea"], 10)] == ["lasting tea"]
    assert texts(store, Selection(ALICE, parse_filters({"user_id": "alice"}), now=at(T0 + 10 * H))) == {"lasting tea"}


def test_duplicate_and_slot_checks_skip_expired_memories_given_at(store: Store) -> None:
    put(store, ALICE, "in Lisbon", expires=T0 + H, attribute="location")
    assert len(store.current_by_hash([ALICE], ["h-in Lisbon"])[ALICE]["h-in Lisbon"]) == 1
    assert store.current_by_hash([ALICE], ["h-in Lisbon"], at=T0 + H) == {}
    assert store.current_by_hash([ALICE], ["h-in Lisbon"], at=T0 + H - 1)[ALICE]
    assert [m.memory for m in store.current_by_attribute(ALICE, ["location"], at=T0)] == ["in Lisbon"]
    assert store.current_by_attribute(ALICE, ["location"], at=T0 + 2 * H) == []
    with store.transaction() as tx:
        assert tx.current_by_hash([ALICE], ["h-in Lisbon"], at=T0 + 2 * H) == {}
        assert tx.current_by_attribute(ALICE, ["location"], at=T0 + 2 * H) == []
        assert len(tx.current_by_attribute(ALICE, ["location"])) == 1


def test_ttl_and_expiry_are_kept_and_changed_without_touching_the_row(store: Store) -> None:
    mid = put(store, ALICE, "with a ttl", expires=T0 + 2 * H, ttl=2 * H)
    row = store.get(mid)
    assert row is not None and (row.ttl, row.expires_ts) == (2 * H, T0 + 2 * H) and row.expires_at == at(T0 + 2 * H).isoformat()
    head, updated = store.log_head("vectors"), row.updated_ts
    with store.transaction() as tx:
        tx.set_expiry(mid, T0 + 9 * H, None)
    row = store.get(mid)
    assert row is not None and (row.ttl, row.expires_ts, row.updated_ts) == (None, T0 + 9 * H, updated)
    with store.transaction() as tx:
        tx.set_expiry(mid, None, None)
        tx.set_expiry("gone", T0, None)  # an absent id is not an error
    row = store.get(mid)
    assert row is not None and row.expires_ts is None and row.expires_at is None
    assert store.log_head("vectors") == head  # nothing for the vector index to do


def test_reinforce_counts_recalls_and_restatements(store: Store) -> None:
    a, b = put(store, ALICE, "a"), put(store, ALICE, "b")
    fresh = store.get(a)
    assert fresh is not None and (fresh.recalls, fresh.restated, fresh.seen_ts, fresh.reinforced) == (0, 0, None, 0)
    gone = put(store, ALICE, "gone")  # the newest row, deleted: its row id is never given to another memory
    rids = store.rids_of([a, b, gone])
    with store.transaction() as tx:
        assert tx.delete(gone) is not None
    after = put(store, ALICE, "after")
    assert store.rids_of([after])[after] > rids[gone]
    with store.transaction() as tx:  # counts by row id, in any order; rows that are gone are skipped
        tx.reinforce({rids[b]: 1, rids[gone]: 5, rids[a]: 2, 10**12: 1}, T0 + H, kind="recall")
        tx.reinforce({rids[a]: 1}, T0 + 3 * H, kind="restate")
        tx.reinforce({rids[a]: 1}, T0 + 2 * H, kind="recall")  # an older time never moves seen_at back
        tx.reinforce({rids[b]: 0}, T0 + 9 * H, kind="recall")  # nothing to count: nothing changes
    ra, rb, rafter = store.get(a), store.get(b), store.get(after)
    assert ra is not None and rb is not None and rafter is not None
    assert (ra.recalls, ra.restated, ra.seen_ts, ra.reinforced) == (3, 1, T0 + 3 * H, 4)
    assert (rb.recalls, rb.restated, rb.seen_ts) == (1, 0, T0 + H)
    assert (rafter.recalls, rafter.seen_ts) == (0, None)
    assert ra.updated_ts == T0 and ra.fresh_ts == T0 + 3 * H


def test_expired_lists_due_memories_earliest_first(store: Store) -> None:
    late = put(store, BOB, "late", expires=T0 + 5 * H)
    early = put(store, ALICE, "early", expires=T0 + H)
    closed = put(store, ALICE_BOT, "closed", expires=T0 + 2 * H)
    put(store, ALICE, "never")
    put(store, ALICE, "later", expires=T0 + 50 * H)
    with store.transaction() as tx:
        tx.close(closed, T0, None)
        assert [m.id for m in tx.expired(T0 + 5 * H, 10)] == [early, closed, late]
        assert [m.id for m in tx.expired(T0 + 5 * H, 2)] == [early, closed]
        assert tx.expired(T0, 10) == []
        tx.delete(early)
        assert [m.id for m in tx.expired(T0 + 5 * H, 10)] == [closed, late]


def test_expired_within_a_selection_keeps_to_its_scope_and_filters(store: Store) -> None:
    mine = put(store, ALICE, "mine", expires=T0 + H, metadata={"kind": "lg"})
    plain = put(store, ALICE, "plain", expires=T0 + H)
    bots = put(store, ALICE_BOT, "bot's", expires=T0 + 2 * H, metadata={"kind": "lg"})
    put(store, BOB, "bob's", expires=T0 + H, metadata={"kind": "lg"})
    alice = Selection(ALICE)  # a partial scope covers alice's per-agent memories
    tagged = Selection(ALICE, parse_filters({"kind": "lg"}))
    with store.transaction() as tx:
        assert [m.id for m in tx.expired(T0 + 5 * H, 10, alice)] == [mine, plain, bots]
        assert [m.id for m in tx.expired(T0 + 5 * H, 10, tagged)] == [mine, bots]
        assert [m.id for m in tx.expired(T0 + 5 * H, 10, Selection(ALICE, exact=True))] == [mine, plain]
        assert [m.id for m in tx.expired(T0 + H, 10, tagged)] == [mine]  # still the time bound
        # a selection's own time bounds do not hide what is due
        assert len(tx.expired(T0 + 5 * H, 10, Selection(ALICE, now=at(T0 + 9 * H)))) == 3


def test_lifetime_columns_filter_like_the_other_time_columns(store: Store) -> None:
    put(store, ALICE, "lasting")
    put(store, ALICE, "soon", expires=T0 + H)
    put(store, ALICE, "later", expires=T0 + 9 * H)
    closed = put(store, ALICE, "closed", expires=T0 + 9 * H)
    with store.transaction() as tx:
        tx.close(closed, T0 + 2 * H, None)

    def pick(flt: dict) -> set[str]:
        return texts(store, Selection(ALICE, parse_filters(flt), include_expired=True))

    assert pick({"expires_at": None}) == {"lasting"}
    assert pick({"expires_at": {"ne": None}}) == {"soon", "later", "closed"}
    assert pick({"expires_at": {"lt": T0 + 5 * H}}) == {"soon"}
    assert pick({"valid_to": None}) == {"lasting", "soon", "later"}  # not closed, expired or not
    assert pick({"valid_to": {"gte": at(T0 + H).isoformat()}}) == {"closed"}
    assert pick({"valid_from": {"lte": T0}}) == {"lasting", "soon", "later", "closed"}


def test_counts_and_lists_inside_a_transaction_see_its_own_writes(store: Store) -> None:
    put(store, ALICE, "one")
    with store.transaction() as tx:
        tx.insert_memories([NewMemory("two", ALICE, "two", "h-two", vec(2), T0 + 1)])
        sel = Selection(ALICE, exact=True, now=at(T0 + 2))
        assert tx.count(sel) == 2 and [m.memory for m in tx.list_memories(sel, 10)] == ["two", "one"]
        assert [m.memory for m in tx.list_memories(sel, 1)] == ["two"]


def test_scope_counts_are_per_exact_scope_of_current_memories(store: Store) -> None:
    for i in range(3):
        put(store, ALICE, f"a{i}")
    put(store, ALICE, "expired", expires=T0 + H)
    gone = put(store, ALICE, "closed")
    with store.transaction() as tx:
        tx.close(gone, T0, None)
    put(store, ALICE_BOT, "ab0")
    put(store, ALICE_BOT, "ab1")
    put(store, BOB, "b0")
    assert store.scope_counts(T0 + 2 * H, 0) == {ALICE: 3, ALICE_BOT: 2, BOB: 1}
    assert store.scope_counts(T0 + 2 * H, 2) == {ALICE: 3}
    assert store.scope_counts(T0, 3) == {ALICE: 4}  # not expired yet at T0
    assert store.scope_counts(T0, 4) == {}
    assert store.scope_counts(T0 + 2 * H, 0, ALICE) == {ALICE: 3, ALICE_BOT: 2}  # the scopes alice's covers
    assert store.scope_counts(T0 + 2 * H, 0, BOB) == {BOB: 1}
    assert store.scope_counts(T0 + 2 * H, 0, Scope(agent_id="bot")) == {ALICE_BOT: 2}


def test_delete_many_removes_rows_keeps_history_and_logs_each(store: Store) -> None:
    a, b, c = put(store, ALICE, "a"), put(store, ALICE, "b"), put(store, BOB, "c")
    head = store.log_head("vectors")
    with store.transaction() as tx:
        assert tx.delete_many([c, "gone", a, a]) == [c, a]
        assert tx.delete_many([c]) == [] and tx.delete_many([]) == []
    assert store.get(a) is None and store.get(c) is None and store.get(b) is not None
    assert [e.op for e in store.read_log("vectors", head)] == ["del", "del"]
    assert [e.event for e in store.history(a)] == ["ADD"]  # history outlives the row
    assert store.lexical(Selection(BOB), ["c"], 10) == []  # out of the full-text index too
    many = [put(store, BOB, f"bulk {i}") for i in range(1200)]  # more than one statement's worth
    with store.transaction() as tx:
        assert tx.delete_many(many) == many
    assert store.count(Selection(BOB, include_expired=True)) == 0
