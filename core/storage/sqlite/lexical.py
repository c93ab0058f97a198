"""Lexical retrieval over FTS5 whose cost follows the selection, not the store.

Every row of the full-text index carries its scope as tokens (``memories_fts.scope``, see schema.FTS). A query
for a selection of up to ``SCOPED_MAX`` memories asks FTS5, for each query term, for the rows holding both the
selection's most selective scope token and the term: FTS5 intersects the two posting lists, so the work is
that of the scope's matches, whatever else the store holds. The ranking is BM25 exactly as FTS5's ``bm25()``
computes it (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6) with the selection as the
collection: N is the number of memories the selection covers and n the number of them holding the term, so a
scope's ranking never depends on other scopes' memories (a scope alone in its store ranks exactly as FTS5
would). Lengths are FTS5's own token counts; the average length is the store's (kept by FTS5 at no cost).

``bm25()`` itself is not used there because it counts each term's documents over the whole table on every
query — that count, not the matching, was most of the cost at a million memories (BENCHMARKS.md).

A larger selection (an agent-wide scope over most of the store) is ranked by FTS5's ``bm25()`` over the store
and the best rows are then checked against the selection (post-filtering), never reading the whole scope.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...types import Scope
from ..base import Selection
from . import sql

K1, B = 1.2, 0.75
SCOPED_MAX = 20_000  # selections up to this size are ranked from their own postings and statistics
POSTINGS_SHARE = 0.03  # read a term's postings when the selection holds this share of the store (see below)
MARK = "\x01"
PROBE, VOCAB = "memlayer_terms", "memlayer_postings"  # temp-schema helpers of each connection


def scope_token(kind: str, value: str) -> str:
    """The full-text token of one scope field (``u``ser, ``a``gent, ``r``un): the SQL side is schema._scope_tokens."""
    return f"{kind}{value.encode('utf-8').hex()}0"


def selection_token(scope: Scope) -> str | None:
    """The token of the scope field that narrows the most: a run, else a user, else an agent."""
    for kind, value in (("r", scope.run_id), ("u", scope.user_id), ("a", scope.agent_id)):
        if value is not None:
            return scope_token(kind, value)
    return None


def phrase(term: str) -> str:
    """A term as an FTS5 string (quoted: no query syntax from users ever reaches FTS5)."""
    return '"' + term.replace('"', '""') + '"'


def lexical(
    conn: sqlite3.Connection, selection: Selection, terms: Sequence[str], limit: int, size: int | None = None
) -> list[tuple[int, float]]:
    """(rid, BM25 score) of the selection's memories holding any of ``terms``, best first (see the module)."""
    terms = list(dict.fromkeys(terms))
    if not terms or limit <= 0:
        return []
    where, params = sql.where(selection, prefix="m.")
    if size is None:
        size = int(conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {where} LIMIT ?)",
                                [*params, SCOPED_MAX + 1]).fetchone()[0])
    if size == 0:
        return []
    token = selection_token(selection.scope)
    if size > SCOPED_MAX or token is None:
        return _store_ranked(conn, selection, terms, limit, token)
    share = size / max(1, store_rows(conn))
    stems = stems_of(conn, terms) if share >= POSTINGS_SHARE else [None] * len(terms)
    # One statement: the selection's row ids once (from the covering scope index when the selection is the
    # scope and validity), then each term's matches in it with their frequency, found one of two ways:
    # * the term's postings (fts5vocab instances, no tokenizing) when the selection is a large share of the
    #   store: they hold the term's rows of the whole store, about as many as the selection's then;
    # * else FTS5's scoped match (the scope token AND the term), counting the instances highlight() marks:
    #   a tokenizing of each matched text, but only the selection's matches are read.
    # Then each matched row's length (its docsize record; lengths under 128 tokens are one byte).
    # ("+ 0" keeps SQLite from driving FTS5 with one lookup per selected row.)
    ctes, parts, args = [], [], []
    for i, (term, stem) in enumerate(zip(terms, stems, strict=True)):
        if stem is not None and share >= POSTINGS_SHARE:
            parts.append(f"SELECT {i} AS i, v.doc AS rid, count(*) AS tf FROM temp.{VOCAB} v WHERE v.term = ? "
                         "AND v.col = 'text' AND v.doc IN sel GROUP BY v.doc")
            args.append(stem)
        else:
            ctes.append(f"h{i} AS MATERIALIZED (SELECT f.rowid AS rid, highlight(memories_fts, 0, char(1), '') AS h "
                        "FROM memories_fts f WHERE memories_fts MATCH ? AND f.rowid + 0 IN sel)")
            parts.append(f"SELECT {i} AS i, rid, length(h) - length(replace(h, char(1), '')) AS tf FROM h{i}")
            args.append(f"scope : {phrase(token)} AND text : {phrase(term)}")
    rows = conn.execute(
        f"WITH sel AS MATERIALIZED (SELECT m.rid FROM memories m WHERE {where}), "
        + "".join(c + ", " for c in ctes) + "hit AS (" + " UNION ALL ".join(parts) + ") "
        f"SELECT hit.i, hit.rid, hit.tf, {_FIRST_BYTE} FROM hit LEFT JOIN memories_fts_docsize ON id = hit.rid",
        [*params, *args],
    ).fetchall()
    return _bm25(conn, rows, len(terms), size, limit)


def _bm25(
    conn: sqlite3.Connection, rows: list[tuple[int, int, int, int | None]], n_terms: int, size: int, limit: int
) -> list[tuple[int, float]]:
    """FTS5's BM25 over (term, row, frequency, length) matches of a collection of ``size`` rows; lengths are
    the docsize record's first byte (None: 128 tokens or more, decoded here)."""
    if not rows:
        return []
    col = np.array([r[0] for r in rows], dtype=np.int64)
    rid = np.array([r[1] for r in rows], dtype=np.int64)
    tf = np.array([r[2] for r in rows], dtype=np.float64)
    length = np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.float64)
    if (length < 0).any():
        longer = token_counts(conn, rid[length < 0].tolist())
        length[length < 0] = [longer.get(int(r), 0) for r in rid[length < 0]]
    rids, row = np.unique(rid, return_inverse=True)
    freq = np.zeros((len(rids), n_terms))
    freq[row, col] = tf
    lengths = np.zeros(len(rids))
    lengths[row] = length
    avgdl = average_length(conn)
    df = (freq > 0).sum(axis=0)
    idf = np.maximum(np.log((size - df + 0.5) / (df + 0.5)), 1e-6)
    norm = K1 * (1 - B + B * lengths / avgdl) if avgdl > 0 else np.full(len(rids), K1)
    part = idf * (freq * (K1 + 1)) / (freq + norm[:, None])
    scores = np.zeros(len(rids))
    for i in range(n_terms):  # term by term, in order: the same sums as FTS5's bm25()
        scores += part[:, i]
    best = np.lexsort((rids, -scores))[:limit]
    return [(int(rids[j]), float(scores[j])) for j in best]


def _store_ranked(
    conn: sqlite3.Connection, selection: Selection, terms: Sequence[str], limit: int, token: str | None
) -> list[tuple[int, float]]:
    """A large selection: FTS5's bm25() over the store (the text column only weighs), best rows first, kept
    when the selection covers them; asks for more until ``limit`` are kept or FTS5 has no more."""
    match = "text : (" + " OR ".join(phrase(t) for t in terms) + ")"
    if token is not None:
        match = f"scope : {phrase(token)} AND {match}"
    out: list[tuple[int, float]] = []
    offset, batch = 0, max(2 * limit, 64)
    while len(out) < limit:
        rows = conn.execute(
            "SELECT rowid, bm25(memories_fts, 1.0, 0.0) AS s FROM memories_fts WHERE memories_fts MATCH ? "
            "ORDER BY s LIMIT ? OFFSET ?", (match, batch, offset)).fetchall()
        if not rows:
            break
        kept = set(within(conn, selection, [int(r[0]) for r in rows]))
        out += [(int(r), -float(s)) for r, s in rows if int(r) in kept]
        offset += len(rows)
        batch *= 4
    return out[:limit]


def prepare(conn: sqlite3.Connection) -> None:
    """Create the connection's temp-schema helpers: a scratch full-text table that stems query terms, and a
    view of the index's postings (fts5vocab instances)."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{PROBE} USING fts5(t, tokenize='porter unicode61')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{PROBE}_vocab USING fts5vocab(temp, '{PROBE}', 'instance')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{VOCAB} USING fts5vocab(main, 'memories_fts', 'instance')")


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
    if not rids:
        return []
    where, params = sql.where(selection, prefix="m.")
    out: list[int] = []
    for start in range(0, len(rids), 500):
        chunk = [int(r) for r in rids[start:start + 500]]
        out += [int(r[0]) for r in conn.execute(
            f"SELECT m.rid FROM memories m WHERE m.rid IN ({','.join('?' * len(chunk))}) AND {where}",
            [*chunk, *params]).fetchall()]
    return out


def token_counts(conn: sqlite3.Connection, rids: Sequence[int]) -> dict[int, int]:
    """The number of tokens FTS5 counted in each memory's text (its ``docsize`` record, first column)."""
    out: dict[int, int] = {}
    for start in range(0, len(rids), 500):
        chunk = [int(r) for r in rids[start:start + 500]]
        for rid, short, blob in conn.execute(  # a length under 128 is the record's first byte, read in SQL
                f"SELECT id, {_FIRST_BYTE}, CASE WHEN substr(sz, 1, 1) >= x'80' THEN sz END FROM memories_fts_docsize "
                f"WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            out[int(rid)] = int(short) if short is not None else (varints(blob, 1)[0] if blob else 0)
    return out


_FIRST_BYTE = "CASE WHEN substr(sz, 1, 1) < x'80' THEN unicode(CAST(substr(sz, 1, 1) AS TEXT)) END"


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
