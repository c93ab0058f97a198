"""The backend conformance suite: every Store implementation must pass it unchanged (see conftest.BACKENDS)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from memlayer.errors import StoreError
from memlayer.filters import parse_filters
from memlayer.storage.base import (
    GRAPH_EPOCH_KEY,
    TRANSCRIPT_KEY,
    HistoryEntry,
    NewMemory,
    NewMessage,
    Selection,
    Store,
)
from memlayer.types import Scope, iso

DIMS = 8
ALICE, BOB = Scope("alice"), Scope("bob")
ALICE_BOT = Scope("alice", "bot")
BOT = Scope(agent_id="bot")
T0 = 1_700_000_000.0


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    return v / np.linalg.norm(v)


def put(store: Store, scope: Scope, *texts: str, at: float = T0, metadata: dict[str, Any] | None = None,
        attribute: str | None = None) -> list[tuple[str, int]]:
    """Insert memories (one transaction); returns (id, rid) pairs."""
    rows = [NewMemory(str(uuid.uuid4()), scope, t, f"h-{t}", vec(hash(t) % 1000), at, dict(metadata or {}), attribute)
            for t in texts]
    with store.transaction() as tx:
        rids = tx.insert_memories(rows)
        tx.add_history([HistoryEntry(r.id, "ADD", None, r.text, at, scope) for r in rows])
    return [(r.id, rid) for r, rid in zip(rows, rids, strict=True)]


def texts(store: Store, selection: Selection) -> set[str]:
    rows = store.rows(store.select_rids(selection).tolist())
    return {m.memory for m in rows.values()}


# -- memories ----------------------------------------------------------------------------------------------
def test_insert_and_read_back_every_field(store: Store) -> None:
    meta = {"n": 1, "f": 1.5, "b": True, "s": "ünïcode ✓", "l": [1, "x"], "o": {"k": None}}
    (mid, rid), = put(store, ALICE_BOT, "Alice likes tea", metadata=meta, attribute="preference:tea")
    m = store.get(mid)
    assert m is not None and m.rid == rid and m.memory == "Alice likes tea" and m.metadata == meta
    assert (m.user_id, m.agent_id, m.run_id) == ("alice", "bot", None)
    assert m.attribute == "preference:tea" and m.hash == "h-Alice likes tea" and m.valid_to is None
    assert m.created_at == datetime.fromtimestamp(T0, timezone.utc).isoformat() == m.valid_from == m.updated_at
    assert store.rows([rid])[rid].id == mid and store.rids_of([mid, "nope"]) == {mid: rid}
    assert store.get("missing") is None and store.count() == 1
    got = store.embeddings([rid])[rid]
    assert got.dtype == np.float32 and np.array_equal(got, vec(hash("Alice likes tea") % 1000))


def test_reads_of_more_ids_than_one_statement_binds_return_them_all(store: Store) -> None:
    # 5,001 ids: more than one statement's value list on every backend (SQLite 900, PostgreSQL 5,000)
    pairs = put(store, ALICE, *[f"m{i}" for i in range(5_001)], attribute="kind:many")
    ids, rids = [mid for mid, _ in pairs], [rid for _, rid in pairs]
    assert store.rids_of([*ids, "nope"]) == dict(pairs)
    assert {r: m.id for r, m in store.rows(rids).items()} == {rid: mid for mid, rid in pairs}
    assert sorted(store.embeddings(rids)) == sorted(rids)
    assert len(store.current_by_attribute(ALICE, ["kind:many", "kind:none"])) == 5_001


def test_row_ids_are_increasing_and_in_order(store: Store) -> None:
    rids = [rid for _, rid in put(store, ALICE, *[f"t{i}" for i in range(700)])]
    assert rids == sorted(rids) and len(set(rids)) == 700
    more = [rid for _, rid in put(store, ALICE, "later")]
    assert more[0] > rids[-1]


def test_selections_partial_and_exact_scopes(store: Store) -> None:
    put(store, ALICE, "a1")
    put(store, ALICE_BOT, "a2")
    put(store, Scope("alice", "bot", "r1"), "a3")
    put(store, BOB, "b1")
    put(store, BOT, "bot1")
    assert texts(store, Selection(ALICE)) == {"a1", "a2", "a3"}
    assert texts(store, Selection(ALICE, exact=True)) == {"a1"}
    assert texts(store, Selection(BOT)) == {"a2", "a3", "bot1"}
    assert texts(store, Selection(BOT, exact=True)) == {"bot1"}
    assert texts(store, Selection(ALICE_BOT, exact=True)) == {"a2"}


FILTER_ROWS = [
    ("alpha", {"n": 1, "tag": "red", "tags": ["x", "y"], "flag": True, "note": "hello world"}),
    ("beta", {"n": 2, "tag": "blue", "tags": ["y"], "flag": False}),
    ("gamma", {"n": 3, "tag": "red", "tags": [], "note": "goodbye"}),
    ("delta", {"n": "3", "tag": None}),
    ("epsilon", {}),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tag": "red"}, {"alpha", "gamma"}),
        ({"tag": {"ne": "red"}}, {"beta", "delta", "epsilon"}),
        ({"n": {"gt": 1, "lt": 3}}, {"beta"}),
        ({"n": {"gte": 2}}, {"beta", "gamma"}),
        ({"n": {"lte": 1}}, {"alpha"}),
        ({"n": 3}, {"gamma"}),
        ({"n": "3"}, {"delta"}),
        ({"n": 1.0}, {"alpha"}),
        ({"tag": {"in": ["red", "blue"]}}, {"alpha", "beta", "gamma"}),
        ({"tag": {"nin": ["red"]}}, {"beta", "delta", "epsilon"}),
        ({"tag": {"in": []}}, set()),
        ({"tags": {"contains": "y"}}, {"alpha", "beta"}),
        ({"note": {"contains": "world"}}, {"alpha"}),
        ({"flag": True}, {"alpha"}),
        ({"flag": False}, {"beta"}),
        ({"tag": None}, {"delta"}),
        ({"OR": [{"tag": "blue"}, {"n": 3}]}, {"beta", "gamma"}),
        ({"NOT": {"OR": [{"tag": "red"}, {"tag": "blue"}]}}, {"delta", "epsilon"}),
        ({"missing": {"ne": 1}}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({'we"ird\'key': 1}, set()),
        ({"user_id": "alice"}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({"user_id": {"ne": "alice"}}, set()),
        ({"agent_id": None}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({"created_at": {"gte": T0}}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({"created_at": {"gt": T0}}, set()),
        ({"n": {"lt": 2**62}}, {"alpha", "beta", "gamma"}),
    ],
)
def test_filter_semantics(store: Store, filters: dict[str, Any], expected: set[str]) -> None:
    for text, meta in FILTER_ROWS:
        put(store, ALICE, text, metadata=meta)
    put(store, BOB, "alpha", metadata={"n": 1, "tag": "red"})
    assert texts(store, Selection(ALICE, parse_filters(filters))) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"agent_id": "bot\x00"}, set()),
        ({"agent_id": {"ne": "bot\x00"}}, {"bot", "bo", "none"}),
        ({"agent_id": {"in": ["bot", "bo\x00"]}}, {"bot"}),
        ({"agent_id": {"contains": "o\x00"}}, set()),
        ({"agent_id": {"gt": "bo\x00"}}, {"bot"}),
        ({"agent_id": {"gte": "bo\x00"}}, {"bot"}),
        ({"agent_id": {"lt": "bo\x00"}}, {"bo"}),
        ({"agent_id": {"lte": "bo\x00x"}}, {"bo"}),
    ],
)
def test_scope_filters_with_a_nul_character_match_no_scope_id(store: Store, filters: dict[str, Any],
                                                               expected: set[str]) -> None:
    """A scope id never holds NUL (add() refuses one), so a filter value with NUL equals none of them and
    compares with them by code point like any other string."""
    put(store, Scope("alice", "bot"), "bot")
    put(store, Scope("alice", "bo"), "bo")
    put(store, ALICE, "none")
    assert texts(store, Selection(ALICE, parse_filters(filters))) == expected


def test_metadata_with_a_nul_character_is_matched(store: Store) -> None:
    put(store, ALICE, "x", metadata={"k": "a\x00b"})
    assert texts(store, Selection(ALICE, parse_filters({"k": "a\x00b"}))) == {"x"}


def test_validity_current_as_of_and_all(store: Store) -> None:
    (old, _), = put(store, ALICE, "lives in NY", at=T0)
    (new, _), = put(store, ALICE, "lives in SF", at=T0 + 100)
    with store.transaction() as tx:
        tx.close(old, T0 + 100, new)
    closed = store.get(old)
    assert closed is not None and closed.valid_to is not None and closed.superseded_by == new
    assert texts(store, Selection(ALICE)) == {"lives in SF"}
    before = datetime.fromtimestamp(T0 + 50, timezone.utc)
    assert texts(store, Selection(ALICE, as_of=before)) == {"lives in NY"}
    assert texts(store, Selection(ALICE, include_expired=True)) == {"lives in NY", "lives in SF"}


def test_transcripts_are_selected_by_their_mark(store: Store) -> None:
    """``Selection.transcripts``: the metadata mark (``TRANSCRIPT_KEY`` true, nothing else) as written on
    insert and by a rewrite with metadata; every read of a selection honours it."""
    put(store, ALICE, "plain tea", metadata={"k": 1})
    put(store, ALICE, "not quite tea", metadata={TRANSCRIPT_KEY: 1})
    put(store, ALICE, "said tea", metadata={TRANSCRIPT_KEY: True})
    (marked, marked_rid), = put(store, ALICE, "later tea")
    with store.transaction() as tx:
        tx.rewrite(marked_rid, "later tea", "h-later tea", vec(9), T0 + 1, metadata={TRANSCRIPT_KEY: True, "k": 2})
    out, keep = Selection(ALICE, transcripts=False), Selection(ALICE, transcripts=True)
    assert texts(store, out) == {"plain tea", "not quite tea"}
    assert texts(store, keep) == {"said tea", "later tea"}
    assert len(texts(store, Selection(ALICE))) == 4
    assert texts(store, Selection(ALICE, parse_filters({"k": 2}), transcripts=True)) == {"later tea"}
    rows = store.scope_rows_upto(out, [], 10)
    assert rows is not None and len(rows.rids) == 2
    assert {r for r, _ in store.lexical(out, ["tea"], 10)} == set(store.select_rids(out).tolist())
    assert store.within(out, [marked_rid]).tolist() == []
    with store.transaction() as tx:  # metadata without the mark: no longer a transcript; text alone: unchanged
        tx.rewrite(marked_rid, "later tea", "h-later tea", vec(9), T0 + 2, metadata={"k": 3})
    assert "later tea" in texts(store, out)
    with store.transaction() as tx:
        tx.rewrite(marked_rid, "later tea!", "h-later tea!", vec(9), T0 + 3)
    assert "later tea!" in texts(store, out)


def test_list_scopes_with_counts_in_id_order(store: Store) -> None:
    (old, _), = put(store, ALICE_BOT, "lives in NY", at=T0)
    (new, _), = put(store, ALICE_BOT, "lives in SF", at=T0 + 100)
    put(store, Scope("alice", run_id="r1"), "run fact", at=T0 + 50)
    put(store, Scope("t:bob"), "b1", "b2", at=T0 + 10)
    put(store, Scope("t:bobby", "t:bot"), "b3", at=T0 + 20)
    put(store, BOT, "bot only", at=T0 + 5)
    with store.transaction() as tx:
        tx.close(old, T0 + 100, new)
    found = store.list_scopes("", 100)
    assert set(found) == {"user_id", "agent_id", "run_id"}
    iso = [datetime.fromtimestamp(T0 + d, timezone.utc).isoformat() for d in (0, 5, 50, 100)]
    assert [s.to_dict() for s in found["user_id"]] == [
        {"id": "alice", "memories": 2, "closed": 1, "expired": 0, "first_at": iso[0], "last_at": iso[3]},
        {"id": "t:bob", "memories": 2, "closed": 0, "expired": 0, "first_at": found["user_id"][1].first_at,
         "last_at": found["user_id"][1].last_at},
        {"id": "t:bobby", "memories": 1, "closed": 0, "expired": 0, "first_at": found["user_id"][2].first_at,
         "last_at": found["user_id"][2].last_at},
    ]
    assert [(s.id, s.memories, s.closed) for s in found["agent_id"]] == [("bot", 2, 1), ("t:bot", 1, 0)]
    assert found["agent_id"][0].first_at == iso[0] and found["agent_id"][0].last_at == iso[3]
    assert [(s.id, s.memories, s.first_at) for s in found["run_id"]] == [("r1", 1, iso[2])]
    prefixed = store.list_scopes("t:", 100)  # a prefix is a plain string prefix: no wildcards, case-exact
    assert [s.id for s in prefixed["user_id"]] == ["t:bob", "t:bobby"] and prefixed["run_id"] == []
    assert [s.id for s in prefixed["agent_id"]] == ["t:bot"]
    assert [s.id for s in store.list_scopes("t:bob", 1)["user_id"]] == ["t:bob"]
    assert all(store.list_scopes(p, 100)["user_id"] == [] for p in ("T:", "%", "_", "alice\U0010ffff", "\U0010ffff"))
    assert store.list_scopes("", 0) == {"user_id": [], "agent_id": [], "run_id": []}


def test_list_scopes_counts_expired_memories_apart(store: Store) -> None:
    """A memory past its expiry that no sweep has forgotten yet is neither current nor closed at ``at``."""
    (gone, _), (kept, _), (later, _) = put(store, ALICE_BOT, "lapsed", "kept", "lapses later", at=T0)
    (old, _), = put(store, ALICE_BOT, "closed", at=T0)
    with store.transaction() as tx:
        tx.set_expiry(gone, T0 + 10, None)
        tx.set_expiry(later, T0 + 1_000, 60.0)
        tx.set_expiry(old, T0 + 10, None)  # closed and expired: counted as closed
        tx.close(old, T0 + 5, None)
    def counts(at: float | None) -> list[tuple[str, int, int, int]]:
        found = store.list_scopes("", 10, at=at)
        return [(s.id, s.memories, s.closed, s.expired) for s in found["user_id"] + found["agent_id"]]
    assert counts(None) == [("alice", 3, 1, 0), ("bot", 3, 1, 0)]
    assert counts(T0 + 5) == [("alice", 3, 1, 0), ("bot", 3, 1, 0)]
    assert counts(T0 + 10) == [("alice", 2, 1, 1), ("bot", 2, 1, 1)]  # an expiry at t has lapsed at t
    assert counts(T0 + 2_000) == [("alice", 1, 1, 2), ("bot", 1, 1, 2)]


def test_list_is_most_recently_updated_first(store: Store) -> None:
    for i in range(5):
        put(store, ALICE, f"m{i}", at=T0 + i)
    assert [m.memory for m in store.list_memories(Selection(ALICE), 3)] == ["m4", "m3", "m2"]
    assert store.list_memories(Selection(ALICE), 0) == []


def test_scope_rows_in_insertion_order_with_metadata(store: Store) -> None:
    put(store, ALICE, "first", at=T0, metadata={"speaker": "Ann", "session": 1})
    put(store, BOB, "other")
    put(store, ALICE, "second", at=T0 + 5, metadata={"session": 2})
    rows = store.scope_rows(Selection(ALICE), ["speaker", "session"])
    assert len(rows.rids) == 2 and rows.rids[0] < rows.rids[1]
    assert rows.times.tolist() == [T0, T0 + 5]
    assert rows.values == {"speaker": ["Ann", None], "session": [1, 2]}


def test_current_by_hash_and_attribute_are_exact_scope(store: Store) -> None:
    put(store, ALICE, "same", attribute="residence")
    put(store, ALICE_BOT, "same", attribute="residence")
    got = store.current_by_hash([ALICE, BOB], ["h-same", "h-none"])
    assert set(got) == {ALICE} and len(got[ALICE]["h-same"]) == 1
    assert [m.agent_id for m in store.current_by_attribute(ALICE, ["residence"])] == [None]
    assert [m.agent_id for m in store.current_by_attribute(ALICE_BOT, ["residence"])] == ["bot"]
    with store.transaction() as tx:
        (inside,) = tx.current_by_hash([ALICE_BOT], ["h-same"])[ALICE_BOT]["h-same"]
        assert inside.agent_id == "bot" and [m.user_id for m in tx.current_by_attribute(BOT, ["residence"])] == []


def test_first_after_is_the_next_value_of_a_slot_current_or_closed(store: Store) -> None:
    (ny, _), = put(store, ALICE, "ny", at=T0 + 10, attribute="residence")
    (sf, _), = put(store, ALICE, "sf", at=T0 + 20, attribute="residence")
    put(store, ALICE_BOT, "bot home", at=T0 + 5, attribute="residence")  # another (exact) scope
    put(store, ALICE, "job", at=T0 + 1, attribute="employer")
    with store.transaction() as tx:
        tx.close(ny, T0 + 20, sf)
        first = tx.first_after(ALICE, "residence", T0)
        assert first is not None and (first.id, first.valid_from_ts, first.valid_to) == (ny, T0 + 10, iso(T0 + 20))
        nxt = tx.first_after(ALICE, "residence", T0 + 10)  # strictly after
        assert nxt is not None and nxt.id == sf
        assert tx.first_after(ALICE, "residence", T0 + 20) is None
        bot = tx.first_after(ALICE_BOT, "residence", T0)
        assert bot is not None and bot.memory == "bot home"


def test_rewrite_close_delete_and_the_vectors_log(store: Store) -> None:
    (mid, rid), = put(store, ALICE, "old text", metadata={"a": 1})
    start = store.log_head("vectors")
    with store.transaction() as tx:
        tx.rewrite(rid, "new text", "h-new", vec(7), T0 + 1, metadata={"a": 2}, attribute="slot")
    m = store.get(mid)
    assert m is not None and (m.memory, m.hash, m.metadata, m.attribute) == ("new text", "h-new", {"a": 2}, "slot")
    assert np.array_equal(store.embeddings([rid])[rid], vec(7))
    assert [(e.rid, e.op) for e in store.read_log("vectors", start)] == [(rid, "del"), (rid, "add")]
    with store.transaction() as tx:
        gone = tx.delete(mid)
        assert gone is not None and gone.id == mid and tx.delete(mid) is None
    assert store.get(mid) is None and store.read_log("vectors", start)[-1].op == "del"
    assert [e.event for e in store.history(mid)] == ["ADD"]  # history outlives the row


def test_a_rewrite_sets_the_speaker_when_given_and_keeps_it_otherwise(store: Store) -> None:
    with store.transaction() as tx:
        (rid,) = tx.insert_memories([NewMemory("m1", ALICE, "hiking", "h", vec(1), T0, speaker="bob")])
        tx.rewrite(rid, "hiking again", "h2", vec(2), T0 + 1, metadata={"speaker": "dave"}, speaker="dave")
    assert store.rows([rid])[rid].speaker == "dave"
    assert store.scope_rows_upto(Selection(ALICE), [], 10).speakers == ["dave"]  # type: ignore[union-attr] # (search)
    with store.transaction() as tx:
        tx.rewrite(rid, "hiking once more", "h3", vec(3), T0 + 2, metadata={"k": 1})
    assert store.rows([rid])[rid].speaker == "dave"


def test_history_with_source_messages_and_reason(store: Store) -> None:
    with store.transaction() as tx:
        ids = tx.insert_messages([NewMessage(ALICE, "user", "I moved", T0, "Alice"),
                                  NewMessage(ALICE, "assistant", "noted", T0)])
        rid = tx.insert_memories([NewMemory("m1", ALICE, "moved", "h", vec(1), T0)])
        tx.add_history([HistoryEntry("m1", "ADD", None, "moved", T0, ALICE, "Alice", tuple(ids)),
                        HistoryEntry("m1", "DELETE", "moved", None, T0 + 1, ALICE, None, (), reason="expired")])
    assert len(rid) == 1 and len(ids) == 2 and ids[0] < ids[1]
    h = store.history("m1")
    assert [e.event for e in h] == ["ADD", "DELETE"] and h[0].id < h[1].id
    assert [(s.role, s.content, s.name) for s in h[0].source_messages] == [("user", "I moved", "Alice"),
                                                                          ("assistant", "noted", None)]
    assert h[0].actor == "Alice" and h[0].user_id == "alice" and h[1].reason == "expired" and h[0].reason is None
    assert store.history("unknown") == []


def test_graph_outbox_is_read_in_order_with_limits(store: Store) -> None:
    assert store.log_head("graph") == 0 and store.read_log("graph", 0) == []
    with store.transaction() as tx:
        seqs = [tx.log_graph(ALICE_BOT, "add", {"i": i, "text": "ü"}) for i in range(5)]
    assert seqs == sorted(seqs) and store.log_head("graph") == seqs[-1]
    entries = store.read_log("graph", 0)
    assert [e.payload for e in entries] == [{"i": i, "text": "ü"} for i in range(5)]
    assert all(e.scope == ALICE_BOT and e.op == "add" for e in entries)
    assert [e.seq for e in store.read_log("graph", seqs[1], limit=2)] == seqs[2:4]


def test_forget_scope_removes_every_trace_of_it_only(store: Store) -> None:
    ids = [mid for mid, _ in put(store, ALICE, "a1")] + [mid for mid, _ in put(store, ALICE_BOT, "a2")]
    (keep, _), = put(store, BOB, "b1")
    with store.transaction() as tx:
        tx.insert_messages([NewMessage(ALICE, "user", "secret", T0), NewMessage(BOB, "user", "hello", T0)])
        tx.log_graph(ALICE_BOT, "add", {"x": 1})
        tx.log_graph(BOB, "add", {"x": 2})
    epoch = store.get_meta(GRAPH_EPOCH_KEY)
    vectors_before = store.log_head("vectors")
    with store.transaction() as tx:
        assert tx.forget_scope(ALICE) == 2
    assert all(store.get(i) is None and store.history(i) == [] for i in ids)
    assert store.get(keep) is not None and [e.event for e in store.history(keep)] == ["ADD"]
    assert [e.payload for e in store.read_log("graph", 0)] == [{"x": 2}]
    assert sorted(e.op for e in store.read_log("vectors", vectors_before)) == ["del", "del"]
    assert store.get_meta(GRAPH_EPOCH_KEY) != epoch
    assert texts(store, Selection(ALICE, include_expired=True)) == set()
    store.compact()


def test_reset_removes_everything(store: Store) -> None:
    put(store, ALICE, "a")
    put(store, BOB, "b")
    with store.transaction() as tx:
        tx.log_graph(ALICE, "add", {})
        assert tx.reset() == 2
    assert store.count() == 0 and store.read_log("graph", 0) == []


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    head = store.log_head("vectors")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_memories([NewMemory("x", ALICE, "x", "hx", vec(1), T0)])
        tx.set_meta("k", "v")
        raise RuntimeError("boom")
    assert store.get("x") is None and store.get_meta("k") is None and store.log_head("vectors") == head


def test_meta_key_values(store: Store) -> None:
    store.set_meta("auth.key.1", "one")
    store.set_meta("auth.key.2", "two")
    store.set_meta("auth_keyX", "not a match for the prefix")
    store.set_meta("auth.key.1", "uno")
    assert store.get_meta("auth.key.1") == "uno" and store.get_meta("nope") is None
    assert store.meta_items("auth.key.") == {"auth.key.1": "uno", "auth.key.2": "two"}
    store.delete_meta("auth.key.2")
    assert store.meta_items("auth.key.") == {"auth.key.1": "uno"}
    with store.transaction() as tx:
        tx.set_meta("t", "1")
        assert tx.get_meta("t") == "1"
        tx.delete_meta("t")
    assert store.get_meta("t") is None


def test_lexical_is_stemmed_ranked_and_scoped(store: Store) -> None:
    put(store, ALICE, "Alice went running in the park", "Alice likes green tea", "tea tea tea, and more tea")
    put(store, BOB, "Bob runs every morning with tea")
    hits = store.lexical(Selection(ALICE), ["run"], 10)
    assert [store.rows([r])[r].memory for r, _ in hits] == ["Alice went running in the park"]
    ranked = store.lexical(Selection(ALICE), ["tea"], 10)
    assert [store.rows([r])[r].memory for r, _ in ranked][0] == "tea tea tea, and more tea"
    assert all(score > 0 for _, score in ranked) and len(ranked) == 2
    assert store.lexical(Selection(ALICE), [], 10) == [] and store.lexical(Selection(ALICE), ['"OR NEAR('], 10) == []


def test_lexical_given_the_selections_rows_finds_the_same(store: Store) -> None:
    put(store, ALICE, "tea in the park", "green tea", "coffee at home", metadata={"k": 1})
    put(store, ALICE_BOT, "tea with the bot", "bot runs")
    put(store, BOB, "tea for bob")
    for selection in (Selection(ALICE), Selection(ALICE_BOT), Selection(BOT), Selection(ALICE, exact=True),
                      Selection(ALICE, parse_filters({"k": 1}))):
        rids = np.sort(store.select_rids(selection))
        for terms in (["tea"], ["tea", "park", "run"], ["absent"]):
            plain = store.lexical(selection, terms, 10)
            assert store.lexical(selection, terms, 10, len(rids)) == plain
            assert store.lexical(selection, terms, 10, len(rids), rids) == plain
            assert {r for r, _ in plain} <= set(rids.tolist())


def test_scope_rows_upto_reads_a_small_selection_and_refuses_a_large_one(store: Store) -> None:
    put(store, ALICE, "a1", "a2", at=T0)
    put(store, BOB, "b1")
    put(store, ALICE_BOT, "a3", at=T0 + 2.5)
    with store.transaction() as tx:
        tx.insert_memories([NewMemory(str(uuid.uuid4()), ALICE, "said", "h-said", vec(3), T0 + 7, speaker="Ann")])
    full = store.scope_rows(Selection(ALICE), [])
    rows = store.scope_rows_upto(Selection(ALICE), [], 4)
    assert rows is not None and rows.rids.tolist() == full.rids.tolist() == sorted(full.rids.tolist())
    assert rows.times.tolist() == [T0, T0, T0 + 2.5, T0 + 7] and rows.speakers == [None, None, None, "Ann"]
    assert store.scope_rows_upto(Selection(ALICE), [], 3) is None
    bare = store.scope_rows_upto(Selection(ALICE), [], 10, times=False, speakers=False)
    assert bare is not None and bare.rids.tolist() == rows.rids.tolist()
    keyed = store.scope_rows_upto(Selection(ALICE), ["k"], 10)
    assert keyed is not None and keyed.values == {"k": [None] * 4} and keyed.speakers == rows.speakers
    assert store.scope_rows_upto(Selection(Scope("nobody")), [], 10) is not None


def test_window_and_within_read_around_and_check_candidates(store: Store) -> None:
    ids = [rid for _, rid in put(store, ALICE, *[f"a{i}" for i in range(6)])]
    (_, other), = put(store, BOB, "b")
    more = [rid for _, rid in put(store, ALICE, "a6", "a7")]
    selection = Selection(ALICE)
    around = store.window(selection, [ids[2]], 1)
    assert around.rids.tolist() == ids[1:4] and around.speakers == [None] * 3
    assert store.window(selection, [], 2).rids.tolist() == []
    assert store.window(selection, [more[0]], 1).rids.tolist() == [more[0], more[1]]  # row ids within 1: bob's skipped
    assert store.window(selection, [more[0]], 2).rids.tolist() == [ids[5], more[0], more[1]]
    assert store.within(selection, [other, ids[0], more[1], 10**9, ids[0]]).tolist() == sorted([ids[0], more[1]])
    assert store.within(selection, []).tolist() == []


def test_token_counts_with_and_without_the_scope(store: Store) -> None:
    pairs = put(store, ALICE, "one two three", "four, five!", " ".join(["w"] * 200))
    (_, bob_rid), = put(store, BOB, "six seven")
    rids = [rid for _, rid in pairs]
    assert store.token_counts(rids) == dict(zip(rids, [3, 2, 200], strict=True))
    assert store.token_counts(rids, ALICE) == store.token_counts(rids)
    assert store.token_counts([*rids, bob_rid]) == {**store.token_counts(rids), bob_rid: 2}
    assert store.token_counts([]) == {}
    rows = store.scope_rows_upto(Selection(ALICE), [], 100, tokens=True)
    assert rows is not None and rows.rids.tolist() == sorted(rids)
    if rows.tokens is not None:  # a store that keeps them beside the scope: the same counts
        assert dict(zip(rows.rids.tolist(), rows.tokens.tolist(), strict=True)) == store.token_counts(rids)
    assert store.scope_rows_upto(Selection(ALICE), [], 100).tokens is None  # not asked for


def test_token_counts_count_every_word_of_the_text(store: Store) -> None:
    """Stop words, contractions, numbers and words of any script are tokens like the others (the length prior
    of a search weighs memories alike on every backend)."""
    texts = ["I am at the gym with her on Monday", "don't stop me now", "It's 5pm, 10:30 or 2024-01-05",
             "Caroline: Hey Mel! How are you doing?", "snake_case C:\\temp 50%", "Ünïcödé café naïve 日本語 🎉"]
    rids = [rid for _, rid in put(store, ALICE, *texts)]
    assert store.token_counts(rids) == dict(zip(rids, [9, 5, 9, 7, 5, 4], strict=True))


def test_merging_the_text_index_changes_no_answer(store: Store) -> None:
    for i in range(12):  # one write each: the text index in many pieces
        put(store, ALICE, f"green tea number {i}", f"coffee {i} in Oslo")
    before = store.lexical(Selection(ALICE), ["tea", "oslo"], 50)
    slices = 0
    while store.merge_text_index(2):
        slices += 1
        assert slices < 1_000, "merging never finished"
    assert store.merge_text_index(1000) is False  # nothing left
    assert store.lexical(Selection(ALICE), ["tea", "oslo"], 50) == before and len(before) == 24


def test_scan_and_log_snapshots_agree(store: Store) -> None:
    put(store, ALICE, *[f"x{i}" for i in range(25)])
    with store.scan_embeddings(batch=10) as (head, batches):
        parts = list(batches)
    assert head == store.log_head("vectors") and [len(ids) for ids, _ in parts] == [10, 10, 5]
    assert all(v.shape == (len(ids), DIMS) for ids, v in parts)
    entries, count = store.log_and_count("vectors", 0)
    assert count == 25 and len(entries) == 25


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    def writer(n: int) -> None:
        for i in range(20):
            put(store, Scope(f"user{n}"), f"w{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 80 and len(store.read_log("vectors", 0)) == 80


def test_reopen_keeps_everything_and_refuses_a_newer_schema(backend: Any) -> None:
    first = backend()
    (mid, _), = put(first, ALICE, "durable")
    first.close()
    second = backend()
    assert second.get(mid) is not None
    second.set_meta("schema_version", "999")
    second.close()
    with pytest.raises(StoreError, match="newer memlayer"):
        backend()


# -- the same contract through the public API ---------------------------------------------------------------
def test_memory_round_trip_on_the_backend(memory_on: Any) -> None:
    m = memory_on
    added = m.add(["I like green tea", "I live in Oslo"], user_id="alice", infer=False, metadata={"k": 1})
    assert [r["event"] for r in added["results"]] == ["ADD", "ADD"]
    again = m.add("I like green tea", user_id="alice", infer=False, metadata={"k": 1})
    assert again["results"][0]["event"] == "NONE"
    hits = m.search("green tea", user_id="alice", limit=1)["results"]
    assert hits[0]["memory"] == "I like green tea"
    mid = hits[0]["id"]
    m.update(mid, "I like black tea")
    assert m.get(mid)["memory"] == "I like black tea"
    assert [h["event"] for h in m.history(mid)] == ["ADD", "UPDATE"]
    assert m.get(mid, user_id="bob") is None
    m.delete(mid)
    assert m.get(mid) is None
    assert m.delete_all(user_id="alice")["deleted"] == 1
    assert m.get_all(user_id="alice")["results"] == []


def test_an_older_fact_added_late_is_history_on_the_backend(memory_on: Any) -> None:
    m = memory_on
    sf = m.add("I moved to San Francisco.", user_id="alice", timestamp="2024-06-01")["results"][0]
    ny = m.add("I live in New York.", user_id="alice", timestamp="2024-01-01")["results"]
    assert [(r["event"], r["superseded_by"], r["valid_to"]) for r in ny] == [
        ("ADD", sf["id"], "2024-06-01T00:00:00+00:00")]
    assert [r["memory"] for r in m.get_all(user_id="alice")["results"]] == ["User lives in San Francisco"]
    then = m.get_all(user_id="alice", as_of="2024-03-01")["results"]
    assert [(r["memory"], r["valid_from"]) for r in then] == [("User lives in New York", "2024-01-01T00:00:00+00:00")]
    assert m.get(sf["id"])["valid_to"] is None and [h["event"] for h in m.history(sf["id"])] == ["ADD"]


def test_nul_strings_in_lists_and_substrings(store: Store) -> None:
    put(store, ALICE, "list", metadata={"k": ["x", "a\x00b"]})
    put(store, ALICE, "text", metadata={"k": "zz a\x00b zz"})
    put(store, ALICE, "plain", metadata={"k": "a"})
    assert texts(store, Selection(ALICE, parse_filters({"k": {"contains": "a\x00b"}}))) == {"list", "text"}
    assert texts(store, Selection(ALICE, parse_filters({"k": {"ne": "a\x00b"}}))) == {"list", "text", "plain"}
    assert texts(store, Selection(ALICE, parse_filters({"k": {"in": ["a\x00b", "a"]}}))) == {"plain"}


def test_expiry_and_speaker_are_stored(store: Store) -> None:
    with store.transaction() as tx:
        rid, = tx.insert_memories([NewMemory("e1", ALICE, "in Lisbon this week", "he", vec(3), T0,
                                             expires_at=T0 + 7 * 86400, speaker="Alice")])
    m = store.rows([rid])[rid]
    assert m.expires_at == datetime.fromtimestamp(T0 + 7 * 86400, timezone.utc).isoformat() and m.speaker == "Alice"
    (other, _), = put(store, ALICE, "no expiry")
    assert store.get(other).expires_at is None and store.get(other).speaker is None  # type: ignore[union-attr]


def test_a_restored_memory_keeps_its_own_updated_at(store: Store) -> None:
    later = T0 + 3 * 86400
    with store.transaction() as tx:
        rid, = tx.insert_memories([NewMemory("r1", ALICE, "loves ramen", "hr", vec(4), T0, updated_at=later)])
    m = store.rows([rid])[rid]
    assert m.created_at == m.valid_from == datetime.fromtimestamp(T0, timezone.utc).isoformat()
    assert m.updated_at == datetime.fromtimestamp(later, timezone.utc).isoformat() and m.updated_ts == later
    (other, _), = put(store, ALICE, "no own update")
    assert store.get(other).updated_at == store.get(other).created_at  # type: ignore[union-attr]


def test_scope_ids_by_prefix_everywhere_a_scope_is_kept(store: Store) -> None:
    put(store, Scope("t1:ann", "t1:bot"), "a")
    put(store, Scope("t1:Bea"), "b")
    put(store, Scope("t10:cy"), "c")  # shares the characters, not the prefix "t1:"
    put(store, Scope("t1%_x"), "d")  # LIKE's wildcards are plain characters
    (gone, _), = put(store, Scope("t1:\U0001f600"), "e")
    with store.transaction() as tx:
        tx.delete(gone)  # its history stays: the scope is still in the store
        tx.insert_messages([NewMessage(Scope("t1:msg", run_id="t1:r"), "user", "hi", T0)])
        tx.log_graph(Scope(agent_id="t1:graph-only"), "add", {})
    assert store.scope_ids("t1:") == {
        "user_id": ["t1:Bea", "t1:ann", "t1:msg", "t1:\U0001f600"], "agent_id": ["t1:bot", "t1:graph-only"],
        "run_id": ["t1:r"],
    }
    assert store.scope_ids("t1%") == {"user_id": ["t1%_x"], "agent_id": [], "run_id": []}
    assert store.scope_ids("T1:") == {"user_id": [], "agent_id": [], "run_id": []}
    with pytest.raises(ValueError):
        store.scope_ids("")


def test_an_id_the_store_has_is_refused_and_nothing_is_written(store: Store) -> None:
    (taken, _), = put(store, ALICE, "first")
    head = store.log_head("vectors")
    with pytest.raises(StoreError), store.transaction() as tx:  # bulk_add turns this into a ConflictError
        tx.insert_memories([NewMemory(str(uuid.uuid4()), BOB, "fresh", "h-fresh", vec(2), T0),
                            NewMemory(taken, BOB, "other", "h-other", vec(3), T0)])
    assert store.get(taken).memory == "first" and texts(store, Selection(BOB)) == set()  # type: ignore[union-attr]
    assert store.log_head("vectors") == head
