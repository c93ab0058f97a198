"""The SQLite lexical retriever (scope tokens in FTS5, BM25 over the selection) against the retriever it
replaced (FTS5's bm25() over the whole table, joined to the selection), on random corpora."""

from __future__ import annotations

import math
import random
import sqlite3
import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest

from memlayer.filters import parse_filters
from memlayer.storage.base import NewMemory, Selection
from memlayer.storage.sqlite import SQLiteStore, lexical
from memlayer.storage.sqlite.schema import USER_MASK
from memlayer.storage.sqlite.sql import fts_match, where
from memlayer.types import Scope

_WORD_TEXT = ("tea teas coffee run running runs runner park parks green blue market city cities lisbon oslo "
              "dog dogs puppy walk walked walking book books read reading violin piano music play played "
              "garden gardening flower flowers rain sunny weekend trip travel travelled school teacher")
WORDS = _WORD_TEXT.split()
DIMS = 4


def _text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 14))]
    if rng.random() < 0.3:  # repeated words: term frequencies above one
        words += [words[0]] * rng.randint(1, 3)
    rng.shuffle(words)
    text = " ".join(words)
    return text.capitalize() + ("." if rng.random() < 0.5 else "!")


def _fill(store: SQLiteStore, rng: random.Random, scopes: list[Scope], n: int) -> list[int]:
    rows = [NewMemory(str(uuid.uuid4()), rng.choice(scopes), _text(rng), f"h{i}", np.ones(DIMS, np.float32),
                      1_700_000_000.0 + i, {"k": rng.randint(0, 3)}) for i in range(n)]
    with store.transaction() as tx:
        rids = tx.insert_memories(rows)
        for rid in rng.sample(rids, n // 10):  # some closed: not in the default selection
            tx.execute("UPDATE memories SET valid_to = 1 WHERE rid = ?", (rid,))
    return rids


def _reference(conn: sqlite3.Connection) -> None:
    """The previous full-text index: the text alone, external content, porter unicode61."""
    conn.execute("CREATE VIRTUAL TABLE ref_fts USING fts5(text, content='memories', content_rowid='rid', "
                 "tokenize='porter unicode61')")
    conn.execute("INSERT INTO ref_fts(ref_fts) VALUES ('rebuild')")


def _old(conn: sqlite3.Connection, selection: Selection, terms: list[str], limit: int) -> list[tuple[int, float]]:
    """The retriever as it was: bm25() over the whole table, then the selection."""
    w, params = where(selection, prefix="m.")
    rows = conn.execute(
        "SELECT f.rowid, bm25(ref_fts) AS s FROM ref_fts f JOIN memories m ON m.rid = f.rowid "
        f"WHERE ref_fts MATCH ? AND {w} ORDER BY s LIMIT ?", [fts_match(terms), *params, limit]).fetchall()
    return [(int(r), -float(s)) for r, s in rows]


def _same_ranking(new: list[tuple[int, float]], old: list[tuple[int, float]]) -> None:
    """Equal scores to the last bit (FTS5's formula, its order of operations), and equal rows at every score
    (rows tied on a score may come in any order)."""
    assert [s for _, s in new] == [s for _, s in old]
    by_score: dict[float, set[int]] = {}
    for r, s in old:
        by_score.setdefault(s, set()).add(r)
    for r, s in new:
        assert r in by_score[s]


@pytest.mark.parametrize("seed", range(4))
def test_a_scope_alone_ranks_exactly_as_before(tmp_path, seed):
    """With one scope in the store, selection and store are the same collection: identical hits and scores."""
    rng = random.Random(seed)
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        scope = Scope("alice")
        rids = _fill(store, rng, [scope], 150)
        with store.transaction() as tx:  # one scope, all current: the selection is the whole table
            tx.execute("UPDATE memories SET valid_to = NULL")
        conn = store._db.writer
        _reference(conn)
        for _ in range(15):
            terms = list(dict.fromkeys(rng.sample(WORDS, rng.randint(1, 5))))
            for limit in (3, 10, 1000):
                new = store.lexical(Selection(scope), terms, limit)
                old = _old(conn, Selection(scope), terms, limit)
                if limit < len(rids):  # the last place may be one of several tied rows
                    new, old = new[:-1], old[:-1]
                _same_ranking(new, old)
    finally:
        store.close()


def _tokens(conn: sqlite3.Connection) -> dict[int, Counter[str]]:
    """Every memory's tokens as FTS5 made them (fts5vocab over the reference index)."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.ref_vocab USING fts5vocab(main, 'ref_fts', 'instance')")
    tokens: dict[int, Counter[str]] = {}
    for term, doc in conn.execute("SELECT term, doc FROM temp.ref_vocab"):
        tokens.setdefault(int(doc), Counter())[term] += 1
    return tokens


def _bm25_over_selection(
    conn: sqlite3.Connection, tokens: dict[int, Counter[str]], selection: Selection, terms: list[str]
) -> dict[int, float]:
    """BM25 computed from FTS5's own tokens: N and n over the selection, lengths and the average length from the
    whole store — the statistics the retriever documents."""
    avgdl = sum(sum(c.values()) for c in tokens.values()) / conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    w, params = where(selection)
    chosen = [int(r) for (r,) in conn.execute(f"SELECT rid FROM memories WHERE {w}", params)]
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(t, tokenize='porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_vocab USING fts5vocab(temp, 'probe', 'instance')")
    stems = []  # each query term as FTS5 stems it
    for t in terms:
        conn.execute("INSERT INTO temp.probe(rowid, t) VALUES (1, ?)", (t,))
        stems.append(conn.execute("SELECT term FROM temp.probe_vocab").fetchone()[0])
        conn.execute("DELETE FROM temp.probe")
    n = len(chosen)
    out = {}
    for stem in stems:
        holders = [r for r in chosen if tokens.get(r, Counter())[stem]]
        idf = max(math.log((n - len(holders) + 0.5) / (len(holders) + 0.5)), 1e-6)
        for r in holders:
            tf, d = tokens[r][stem], sum(tokens[r].values())
            out[r] = out.get(r, 0.0) + idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * d / avgdl))
    return out


SELECTIONS: list[dict[str, Any]] = [
    {"scope": Scope("u1")}, {"scope": Scope("u2", "bot")}, {"scope": Scope(agent_id="bot")},
    {"scope": Scope(run_id="r1")}, {"scope": Scope("u1"), "exact": True},
    {"scope": Scope("u3"), "filters": parse_filters({"k": {"gte": 2}})}, {"scope": Scope("u1"), "include_expired": True},
]


@pytest.mark.parametrize("seed", range(3))
def test_scopes_among_others_find_the_same_memories_ranked_by_their_own_statistics(tmp_path, seed):
    rng = random.Random(100 + seed)
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        scopes = [Scope("u1"), Scope("u1", "bot"), Scope("u1", "bot", "r1"), Scope("u2", "bot"), Scope(agent_id="bot"),
                  Scope("u3"), Scope(run_id="r1"), Scope("ü✓ \"odd\" user")]
        _fill(store, rng, scopes, 250)
        conn = store._db.writer
        _reference(conn)
        tokens = _tokens(conn)
        for spec in SELECTIONS:
            selection = Selection(**spec)
            for _ in range(15):
                terms = list(dict.fromkeys(rng.sample(WORDS, rng.randint(1, 4))))
                new = store.lexical(selection, terms, 1000)
                old = _old(conn, selection, terms, 1000)
                assert {r for r, _ in new} == {r for r, _ in old}  # the same memories
                expected = _bm25_over_selection(conn, tokens, selection, terms)
                assert {r: round(s, 9) for r, s in new} == {r: round(s, 9) for r, s in expected.items()}
                assert [s for _, s in new] == sorted((s for _, s in new), reverse=True)
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(3))
def test_scores_are_the_same_row_by_row_and_in_arrays(tmp_path, monkeypatch, seed):
    """Up to ARRAY_ROWS matches are scored one by one, more in arrays: the same scores to the last bit, the same
    order."""
    rng = random.Random(200 + seed)
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        _fill(store, rng, [Scope("u1"), Scope("u1", "bot", "r1"), Scope("u2", "bot"), Scope(agent_id="bot"),
                           Scope("u3")], 300)
        for spec in SELECTIONS:
            selection = Selection(**spec)
            for _ in range(10):
                terms = list(dict.fromkeys(rng.sample(WORDS, rng.randint(1, 5))))
                for limit in (5, 1000):
                    monkeypatch.setattr(lexical, "ARRAY_ROWS", 10**9)
                    by_row = store.lexical(selection, terms, limit)
                    monkeypatch.setattr(lexical, "ARRAY_ROWS", 0)
                    assert store.lexical(selection, terms, limit) == by_row
    finally:
        store.close()


def test_a_scope_is_never_matched_by_another_scopes_token(tmp_path):
    """Users are key ranges and agents/runs tokens that survive the porter stemmer unchanged: "ed"/"ing"-like hex
    endings cannot merge scopes."""
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        odd = ["ab", "ab\u00ed", "e", "ed", "ing", "y", "s", "sses"]  # 'í' is C3 AD in UTF-8: the hex of "abí" extends "ab"'s
        scopes = [Scope(v) for v in odd] + [Scope(agent_id=v) for v in odd] + [Scope(run_id=v) for v in odd]
        with store.transaction() as tx:
            tx.insert_memories([NewMemory(str(uuid.uuid4()), s, "shared words here", f"h{i}", np.ones(DIMS, np.float32),
                                          1.0) for i, s in enumerate(scopes)])
        for s in scopes:
            hits = store.lexical(Selection(s, exact=True), ["shared"], 10)
            assert len(hits) == 1 and store.rows([hits[0][0]])[hits[0][0]].shows(s)
        assert lexical.scope_token("a", "ab") == "a61620"
    finally:
        store.close()


def test_users_sharing_a_key_range_stay_apart(tmp_path):
    """User keys wrap past USER_MASK: two users then share a key range of the index, and only speed suffers."""
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO fts_users(key, user_id) VALUES (1, 'a'), (?, 'b')", (1 + USER_MASK + 1,))
        rng = random.Random(3)
        _fill(store, rng, [Scope("a"), Scope("b"), Scope("c")], 120)
        conn = store._db.writer
        _reference(conn)
        tokens = _tokens(conn)
        for user in ("a", "b"):
            selection = Selection(Scope(user))
            rids = store.select_rids(selection)
            for _ in range(10):
                terms = list(dict.fromkeys(rng.sample(WORDS, 3)))
                new = store.lexical(selection, terms, 1000)
                assert {r for r, _ in new} == {r for r, _ in _old(conn, selection, terms, 1000)}
                expected = _bm25_over_selection(conn, tokens, selection, terms)
                assert {r: round(s, 9) for r, s in new} == {r: round(s, 9) for r, s in expected.items()}
            assert store.token_counts(rids.tolist(), Scope(user)) == store.token_counts(rids.tolist())
    finally:
        store.close()


def test_the_user_numbering_forgets_users_with_their_memories(tmp_path):
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        _fill(store, random.Random(5), [Scope("a"), Scope("a", "bot"), Scope("b")], 40)
        users = lambda: {u for (u,) in store.query("SELECT user_id FROM fts_users")}  # noqa: E731
        assert users() == {"a", "b"}
        with store.transaction() as tx:
            tx.forget_scope(Scope("a", "bot"))
        assert users() == {"a", "b"}  # a keeps other memories
        with store.transaction() as tx:
            tx.forget_scope(Scope("a"))
        assert users() == {"b"}
        assert store.lexical(Selection(Scope("a")), ["tea"], 10) == [] and store.token_counts([1], Scope("a")) == {}
        with store.transaction() as tx:
            tx.reset()
        assert users() == set() and store.query("SELECT count(*) FROM memories_fts")[0][0] == 0
    finally:
        store.close()


def test_the_index_follows_updates_of_text_and_scope(tmp_path):
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        with store.transaction() as tx:
            (rid,) = tx.insert_memories([NewMemory("m1", Scope("a"), "green tea", "h", np.ones(DIMS, np.float32), 1.0)])
            tx.rewrite(rid, "black coffee", "h2", np.ones(DIMS, np.float32), 2.0)
        assert store.lexical(Selection(Scope("a")), ["tea"], 5) == []
        assert [r for r, _ in store.lexical(Selection(Scope("a")), ["coffee"], 5)] == [rid]
        with store.transaction() as tx:
            tx.execute("UPDATE memories SET user_id = 'z', agent_id = 'bot' WHERE rid = ?", (rid,))
        assert store.lexical(Selection(Scope("a")), ["coffee"], 5) == []
        assert [r for r, _ in store.lexical(Selection(Scope("z", "bot")), ["coffee"], 5)] == [rid]
        assert [r for r, _ in store.lexical(Selection(Scope(agent_id="bot")), ["coffee"], 5)] == [rid]
        store.query("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        store.close()


def test_large_selections_are_post_filtered(tmp_path, monkeypatch):
    """Past SCOPED_MAX the store ranks by bm25() and keeps the best rows the selection covers."""
    rng = random.Random(7)
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        _fill(store, rng, [Scope("u1", "bot"), Scope("u2", "bot"), Scope("u3")], 300)
        monkeypatch.setattr(lexical, "SCOPED_MAX", 5)
        conn = store._db.writer
        _reference(conn)
        for spec in ({"scope": Scope(agent_id="bot")}, {"scope": Scope("u1"), "filters": parse_filters({"k": 1})}):
            selection = Selection(**spec)
            for _ in range(10):
                terms = list(dict.fromkeys(rng.sample(WORDS, 3)))
                everything = _old(conn, selection, terms, 1000)
                for limit in (1, 7, 1000):
                    got = store.lexical(selection, terms, limit)
                    assert len(got) == min(limit, len(everything))
                    assert {r for r, _ in got} <= {r for r, _ in everything}
                    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
                assert {r for r, _ in store.lexical(selection, terms, 1000)} == {r for r, _ in everything}
    finally:
        store.close()


def test_varints_and_average_length(tmp_path):
    assert lexical.varints(bytes([0x05, 0x81, 0x00, 0xFF, 0x7F]), 3) == [5, 128, 16383]
    assert lexical.varints(b"", 2) == [0, 0]
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        with store.transaction() as tx:
            rids = tx.insert_memories([NewMemory(str(uuid.uuid4()), Scope("u"), t, t, np.ones(DIMS, np.float32), 1.0)
                                       for t in ("one two three", "four five", " ".join(["w"] * 300))])
        assert store.token_counts(rids) == dict(zip(rids, [3, 2, 300], strict=True))
        assert lexical.average_length(store._db.writer) == pytest.approx(305 / 3)
    finally:
        store.close()


def _varint(value: int) -> bytes:
    """SQLite's varint encoding (big-endian groups of 7 bits; up to 8 bytes here)."""
    groups = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        groups.append(0x80 | (value & 0x7F))
    return bytes(reversed(groups))


def test_token_counts_decoded_in_sql_match_the_varints():
    rng = random.Random(3)
    values = [0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**28 - 1] + [rng.randrange(2**24) for _ in range(300)]
    conn = sqlite3.connect(":memory:")
    for v in values:
        blob = _varint(v) + _varint(rng.randrange(500))  # a second column follows the text's count
        assert lexical.first_varint(blob) == v
        got = conn.execute(f"SELECT {lexical.FIRST_VARINT} FROM (SELECT ? AS sz)", (blob,)).fetchone()[0]
        assert got == (v if v < 2**21 else -1), v  # longer ones are decoded in Python


def test_token_counts_of_a_very_long_text(tmp_path):
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        with store.transaction() as tx:
            rids = tx.insert_memories([NewMemory(str(uuid.uuid4()), Scope("u"), t, t, np.ones(DIMS, np.float32), 1.0)
                                       for t in ("one two", "w " * (2**21 + 5))])
        assert store.token_counts(rids) == store.token_counts(rids, Scope("u")) == {rids[0]: 2, rids[1]: 2**21 + 5}
    finally:
        store.close()


def _segments(store: SQLiteStore) -> int:
    return int(store.query("SELECT count(DISTINCT segid) AS n FROM memories_fts_idx")[0]["n"])


def test_merging_the_text_index_leaves_one_segment(tmp_path):
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        rng = random.Random(5)
        for _ in range(20):
            _fill(store, rng, [Scope("u")], 5)
        assert _segments(store) > 1
        while store.merge_text_index(1000):
            pass
        assert _segments(store) == 1
    finally:
        store.close()


def test_a_selection_that_grew_since_it_was_counted_still_scores(tmp_path):
    """A writer may commit between the selection's count and its matches: more rows match than were counted.
    Every match lies in the selection, so scores are computed as over a collection holding them all (finite,
    as when the count was right), never as a log of a negative number."""
    store = SQLiteStore(str(tmp_path / "m.db"))
    try:
        _fill(store, random.Random(3), [Scope("u1")], 40)
        selection = Selection(Scope("u1"))
        with np.errstate(all="raise"):
            for size in (1, 2, 40):
                got = store.lexical(selection, ["tea", "green"], 10, size)
                assert got and all(math.isfinite(s) and s > 0 for _, s in got)
            assert store.lexical(selection, ["tea", "green"], 10, 1) == store.lexical(selection, ["tea", "green"], 10, 2)
    finally:
        store.close()
