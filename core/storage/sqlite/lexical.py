"""Lexical retrieval over FTS5 whose cost follows the selection, not the store.

The full-text index is keyed by user (schema.RID_BITS): a user's memories are one contiguous range of its
row keys, and its rows carry their agent and run as scope tokens. A query for a selection of up to
``SCOPED_MAX`` memories asks FTS5, for each query term, for the rows holding the term inside the user's key
range (and with the run's token, when the selection names a run; with the agent's or run's token over the
whole index when it names no user): FTS5 seeks each term's postings to the range, reads the range's texts
(for the term frequencies) and lengths from the same range of its own tables, so the work is that of the
selection's matches, whatever else the store holds. When the selection is a large share of the store (a
store of one user), a term's frequencies are read from its postings instead (fts5vocab: no text is read).

The ranking is BM25 exactly as FTS5's ``bm25()`` computes it (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) /
(n + 0.5)), at least 1e-6) with the selection as the collection: N is the number of memories the selection
covers and n the number of them holding the term, so a scope's ranking never depends on other scopes'
memories (a scope alone in its store ranks exactly as FTS5 would). Lengths are FTS5's own token counts; the
average length is the store's (kept by FTS5 at no cost). ``bm25()`` itself is not used there because it
counts each term's documents over the whole table on every query.

A larger selection (an agent-wide scope over most of the store) is ranked by FTS5's ``bm25()`` over the store
(inside the user's range when it names one) and the best rows are then checked against the selection
(post-filtering), never reading the whole scope.
"""

from __future__ import annotations

import heapq
import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...types import Scope
from ..base import Selection
from . import sql
from .schema import FIRST_VARINT, RID_BITS, USER_MASK

K1, B = 1.2, 0.75
SCOPED_MAX = 20_000  # selections up to this size are ranked from their own postings and statistics
ARRAY_ROWS = 128  # matches past this many are scored in arrays (faster from ~120 on)
POSTINGS_SHARE = 0.03  # read a term's postings when the selection holds this share of the store (see below)
RID_MASK = (1 << RID_BITS) - 1
PROBE, VOCAB = "memlayer_terms", "memlayer_postings"  # temp-schema helpers of each connection
COUNTER = "memlayer_counts"


def scope_token(kind: str, value: str) -> str:
    """The full-text token of a scope field (``a``gent, ``r``un): the SQL side is schema._scope_tokens."""
    return f"{kind}{value.encode('utf-8').hex()}0"


def selection_token(scope: Scope) -> str | None:
    """The token narrowing a selection inside its user's range: its run; without a user, its run or agent."""
    if scope.run_id is not None:
        return scope_token("r", scope.run_id)
    if scope.user_id is None and scope.agent_id is not None:
        return scope_token("a", scope.agent_id)
    return None


def user_range(conn: sqlite3.Connection, user_id: str) -> tuple[int, int] | None:
    """The key range of a user's rows in the full-text index (None: the user has no memories)."""
    row = conn.execute("SELECT key FROM fts_users WHERE user_id = ?", (user_id,)).fetchone()
    if row is None:
        return None
    lo = (int(row[0]) & USER_MASK) << RID_BITS
    return lo, lo | RID_MASK


def phrase(term: str) -> str:
    """A term as an FTS5 string (quoted: no query syntax from users ever reaches FTS5)."""
    return '"' + term.replace('"', '""') + '"'


def lexical(
    conn: sqlite3.Connection, selection: Selection, terms: Sequence[str], limit: int, size: int | None = None,
    rids: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """(rid, BM25 score) of the selection's memories holding any of ``terms``, best first (see the module).
    ``rids``: the selection's row ids (ascending) when the caller has read them (then not read again)."""
    terms = list(dict.fromkeys(terms))
    if not terms or limit <= 0:
        return []
    where, params = sql.where(selection, prefix="m.")
    if rids is not None:
        size = len(rids)
    elif size is None:
        size = int(conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {where} LIMIT ?)",
                                [*params, SCOPED_MAX + 1]).fetchone()[0])
    if size == 0:
        return []
    span: tuple[int, int] | None = None
    if selection.scope.user_id is not None:
        span = user_range(conn, selection.scope.user_id)
        if span is None:
            return []
    token = selection_token(selection.scope)
    if size > SCOPED_MAX:
        return _store_ranked(conn, selection, terms, limit, token, span)
    postings = size / max(1, store_rows(conn)) >= POSTINGS_SHARE
    stems = stems_of(conn, terms) if postings else [None] * len(terms)
    # One statement: each term's matches with their frequency and length, found one of two ways:
    # * FTS5's match inside the user's key range (and with the selection's token), counting the instances
    #   highlight() marks: a tokenizing of each matched text, but only the selection's matches are read;
    # * a term's postings (fts5vocab instances, no text read) when the selection is a large share of the store:
    #   they hold the term's rows of the whole store, about as many as the selection's then.
    # Lengths: each matched row's docsize record. Values are bound
    # as parameters: the statement's text depends on the number of terms and the selection's shape only, so
    # SQLite's prepared statement is reused (preparing it cost more than running it).
    # Matches are kept when the selection covers them: here against ``rids``, else against the selection's
    # row ids read once from the covering scope index ("+ 0" keeps SQLite from driving FTS5 with one lookup
    # per selected row).
    filtered = rids is None or postings  # (a term's postings are the store's: filtered inside SQLite)
    ctes, parts, args = [], [], []
    for i, (term, stem) in enumerate(zip(terms, stems, strict=True)):
        if stem is not None:
            keep = f" AND (v.doc & {RID_MASK}) IN sel" if filtered else ""
            parts.append(f"SELECT {i} AS i, v.doc AS k, count(*) AS tf FROM temp.{VOCAB} v WHERE v.term = ? "
                         f"AND v.col = 'text'{keep} GROUP BY v.doc")
            args.append(stem)
            continue
        match = f"text : {phrase(term)}" + ("" if token is None else f" AND scope : {phrase(token)}")
        bounds = "" if span is None else " AND f.rowid BETWEEN ? AND ?"
        keep = f" AND ((f.rowid + 0) & {RID_MASK}) IN sel" if filtered else ""
        ctes.append(f"h{i} AS MATERIALIZED (SELECT f.rowid AS k, highlight(memories_fts, 0, char(1), '') AS h "
                    f"FROM memories_fts f WHERE memories_fts MATCH ?{bounds}{keep})")
        parts.append(f"SELECT {i} AS i, k, length(h) - length(replace(h, char(1), '')) AS tf FROM h{i}")
        args += [match, *(span or ())]
    head = [f"sel AS MATERIALIZED (SELECT m.rid FROM memories m WHERE {where})"] if filtered else []
    rows = conn.execute(
        "WITH " + ", ".join([*head, *ctes, "hit AS (" + " UNION ALL ".join(parts) + ")"])
        + " SELECT hit.i, hit.k, hit.tf, sz FROM hit LEFT JOIN memories_fts_docsize ON id = hit.k",
        [*(params if filtered else []), *args],
    ).fetchall()
    if not filtered and rows and rids is not None:  # (a set: np.isin builds a table as wide as the ids' range)
        inside = set(rids.tolist())
        rows = [r for r in rows if r[1] & RID_MASK in inside]
    return _bm25(conn, rows, len(terms), size, limit)


def _bm25(
    conn: sqlite3.Connection, rows: list[tuple[int, int, int, bytes | None]], n_terms: int, size: int, limit: int
) -> list[tuple[int, float]]:
    """FTS5's BM25 over (term, key, frequency, docsize record) matches of a collection of ``size`` rows: its
    formula with its order of operations (fts5_aux.c), each row's terms summed in query order. Up to ARRAY_ROWS
    matches (a user's scope holds a few dozen) are scored one by one: numpy's cost per call would dominate."""
    if not rows:
        return []
    df = [0] * n_terms
    for r in rows:
        df[r[0]] += r[2] > 0  # a (term, row) pair is matched once
    avgdl = average_length(conn)
    # the selection's size was read before its matches: a writer committing in between can make more rows
    # match than were counted (every match lies in the selection, so it holds at least that many)
    size = max(size, len({r[1] for r in rows}))
    idf = [_idf(size, n) for n in df]
    if len(rows) > ARRAY_ROWS:
        return _bm25_arrays(rows, idf, avgdl, limit)
    found: dict[int, dict[int, int]] = {}
    length: dict[int, int] = {}
    for i, k, tf, sz in rows:
        if k not in found:
            found[k], length[k] = {}, first_varint(sz)
        found[k][i] = tf
    scored = []
    for k, freq in found.items():
        norm = K1 * (1 - B + B * length[k] / avgdl) if avgdl > 0 else K1
        score = 0.0
        for i in sorted(freq):  # query order (absent terms add 0.0: nothing)
            score += idf[i] * ((freq[i] * (K1 + 1)) / (freq[i] + norm))
        scored.append((-score, k & RID_MASK))
    return [(rid, -neg) for neg, rid in heapq.nsmallest(limit, scored)]


def _idf(size: int, n: int) -> float:
    """FTS5's idf of a term held by ``n`` of ``size`` rows (at most 0 becomes 1e-6)."""
    idf = math.log((size - n + 0.5) / (n + 0.5))
    return idf if idf > 0.0 else 1e-6


def _bm25_arrays(
    rows: list[tuple[int, int, int, bytes | None]], idf: list[float], avgdl: float, limit: int,
) -> list[tuple[int, float]]:
    """``_bm25``'s scores computed in arrays (the same operations in the same order)."""
    col = np.array([r[0] for r in rows], dtype=np.int64)
    key = np.array([r[1] for r in rows], dtype=np.int64)
    keys, row = np.unique(key, return_inverse=True)
    freq = np.zeros((len(keys), len(idf)))
    freq[row, col] = [r[2] for r in rows]
    lengths = np.zeros(len(keys))
    lengths[row] = [first_varint(r[3]) for r in rows]
    norm = K1 * (1 - B + B * lengths / avgdl) if avgdl > 0 else np.full(len(keys), K1)
    part = np.asarray(idf) * ((freq * (K1 + 1)) / (freq + norm[:, None]))
    scores = np.zeros(len(keys))
    for i in range(len(idf)):  # term by term, in order: the same sums as FTS5's bm25()
        scores += part[:, i]
    rid = keys & RID_MASK
    best = np.lexsort((rid, -scores))[:limit]
    return [(int(rid[j]), float(scores[j])) for j in best]


def _store_ranked(
    conn: sqlite3.Connection, selection: Selection, terms: Sequence[str], limit: int, token: str | None,
    span: tuple[int, int] | None,
) -> list[tuple[int, float]]:
    """A large selection: FTS5's bm25() over the store (the text column only weighs), best rows first, kept
    when the selection covers them; asks for more until ``limit`` are kept or FTS5 has no more."""
    match = "text : (" + " OR ".join(phrase(t) for t in terms) + ")"
    if token is not None:
        match = f"scope : {phrase(token)} AND {match}"
    bounds = "" if span is None else " AND rowid BETWEEN ? AND ?"
    out: list[tuple[int, float]] = []
    offset, batch = 0, max(2 * limit, 64)
    while len(out) < limit:
        rows = conn.execute(
            f"SELECT rowid & {RID_MASK}, bm25(memories_fts, 1.0, 0.0) AS s FROM memories_fts "
            f"WHERE memories_fts MATCH ?{bounds} ORDER BY s LIMIT ? OFFSET ?",
            (match, *(span or ()), batch, offset)).fetchall()
        if not rows:
            break
        kept = set(within(conn, selection, [int(r[0]) for r in rows]))
        out += [(int(r), -float(s)) for r, s in rows if int(r) in kept]
        offset += len(rows)
        batch *= 4
    return out[:limit]


def prepare(conn: sqlite3.Connection) -> None:
    """Create the connection's temp-schema helpers: a scratch full-text table that stems query terms, a view
    of the index's postings (fts5vocab instances), and a scratch contentless one that counts tokens."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{PROBE} USING fts5(t, tokenize='porter unicode61')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{PROBE}_vocab USING fts5vocab(temp, '{PROBE}', 'instance')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{VOCAB} USING fts5vocab(main, 'memories_fts', 'instance')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{COUNTER} USING fts5(t, content='', "
                 "tokenize='porter unicode61')")


def count_tokens(conn: sqlite3.Connection, texts: Sequence[str]) -> list[int | None]:
    """Each text's token count as the full-text index will count it (FTS5 itself counts, in a scratch
    contentless table of the connection's temp schema; None: 2**21 tokens or more, left to the index)."""
    if not texts:
        return []
    conn.executemany(f"INSERT INTO temp.{COUNTER}(rowid, t) VALUES (?, ?)", list(enumerate(texts, 1)))
    found = dict(conn.execute(f"SELECT id, NULLIF({FIRST_VARINT}, -1) FROM temp.{COUNTER}_docsize").fetchall())
    conn.execute(f"INSERT INTO temp.{COUNTER}({COUNTER}) VALUES ('delete-all')")
    return [found.get(i) for i in range(1, len(texts) + 1)]


def store_rows(conn: sqlite3.Connection) -> int:
    """The number of rows in the full-text index (FTS5's averages record)."""
    row = conn.execute("SELECT block FROM memories_fts_data WHERE id = 1").fetchone()
    return varints(row[0], 1)[0] if row is not None and row[0] else 0


_STEMS: dict[str, str | None] = {}  # query term -> its one FTS5 token (None: it makes several, or none)


def stems_of(conn: sqlite3.Connection, terms: Sequence[str]) -> list[str | None]:
    """Each term as FTS5 indexes it (porter unicode61), found by FTS5 itself: the terms are put in a scratch
    full-text table of the connection's temp schema and read back through fts5vocab. Remembered per term."""
    todo = [t for t in dict.fromkeys(terms) if t not in _STEMS]
    if todo:
        conn.executemany(f"INSERT INTO temp.{PROBE}(rowid, t) VALUES (?, ?)", list(enumerate(todo)))
        found: dict[int, list[str]] = {}
        for doc, term in conn.execute(f"SELECT doc, term FROM temp.{PROBE}_vocab ORDER BY doc, offset"):
            found.setdefault(int(doc), []).append(str(term))
        conn.execute(f"DELETE FROM temp.{PROBE}")
        if len(_STEMS) > 50_000:
            _STEMS.clear()
        for i, t in enumerate(todo):
            tokens = found.get(i, [])
            _STEMS[t] = tokens[0] if len(tokens) == 1 else None
    return [_STEMS[t] for t in terms]


def within(conn: sqlite3.Connection, selection: Selection, rids: Sequence[int]) -> list[int]:
    """The rids among ``rids`` that the selection covers (in no particular order)."""
    if not len(rids):
        return []
    where, params = sql.where(selection, prefix="m.")
    return [int(r) for (r,) in conn.execute(  # CROSS JOIN: one row lookup per candidate, never a scope scan
        f"SELECT m.rid FROM json_each(?) AS j CROSS JOIN memories m ON m.rid = j.value WHERE {where}",
        [json.dumps([int(r) for r in rids]), *params])]


def token_counts(conn: sqlite3.Connection, rids: Sequence[int], user_id: str | None = None) -> dict[int, int]:
    """The number of tokens FTS5 counted in each memory's text (its ``docsize`` record, first column).
    ``user_id``: the user every one of ``rids`` belongs to, when the caller knows it (their keys are then
    known without reading the memories)."""
    if not len(rids):
        return {}
    if user_id is not None:
        span = user_range(conn, user_id)
        if span is None:
            return {}
        keys = json.dumps((np.asarray(rids, dtype=np.int64) | span[0]).tolist())
        source = "SELECT value FROM json_each(?)"
    else:
        keys = json.dumps([int(r) for r in rids])
        source = f"SELECT {_KEY_OF_M} FROM memories m WHERE m.rid IN (SELECT value FROM json_each(?))"
    # numbers decoded in SQLite and concatenated: no Python object per memory
    ids, counts = conn.execute(f"SELECT group_concat(id & {RID_MASK}), group_concat({FIRST_VARINT}) "
                               f"FROM memories_fts_docsize WHERE id IN ({source})", (keys,)).fetchone()
    found = dict(zip(np.fromstring(ids or "", dtype=np.int64, sep=",").tolist(),
                     np.fromstring(counts or "", dtype=np.int64, sep=",").tolist(), strict=True))
    longer = [r for r, n in found.items() if n < 0]  # texts of 2**21 tokens or more: decoded here
    if longer:
        found.update((k & RID_MASK, first_varint(sz)) for k, sz in conn.execute(
            f"SELECT id, sz FROM memories_fts_docsize WHERE id & {RID_MASK} IN (SELECT value FROM json_each(?)) "
            f"AND id IN ({source})", (json.dumps(longer), keys)))
    return found


_KEY_OF_M = f"((coalesce((SELECT key FROM fts_users u WHERE u.user_id = m.user_id), 0) & {USER_MASK}) << {RID_BITS}) | m.rid"


def first_varint(sz: bytes | None) -> int:
    """The text's token count from a docsize record (its first varint; one byte below 128)."""
    if not sz:
        return 0
    return sz[0] if sz[0] < 0x80 else varints(sz, 1)[0]


def average_length(conn: sqlite3.Connection) -> float:
    """The store's average text length in tokens, from FTS5's averages record (row count, tokens per column)."""
    row = conn.execute("SELECT block FROM memories_fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0.0
    n_rows, text_tokens = varints(row[0], 2)
    return text_tokens / n_rows if n_rows else 0.0


def varints(blob: Any, count: int) -> list[int]:
    """The first ``count`` SQLite varints of a blob (big-endian groups of 7 bits; a 9th byte holds 8)."""
    data = bytes(blob)
    out: list[int] = []
    pos = 0
    while len(out) < count and pos < len(data):
        value = 0
        for i in range(9):
            byte = data[pos]
            pos += 1
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out + [0] * (count - len(out))
