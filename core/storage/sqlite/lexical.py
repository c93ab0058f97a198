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

import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from ...types import Scope
from ..base import Selection
from . import sql

K1, B = 1.2, 0.75
SCOPED_MAX = 20_000  # selections up to this size are ranked from their own postings and statistics
MARK = "\x01"


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
    scope = f"scope : {phrase(token)} AND text : "
    freqs: dict[int, list[int]] = {}
    for i, term in enumerate(terms):  # CROSS JOIN: FTS5 leads (else SQLite may run the MATCH once per scope row)
        rows = conn.execute(
            "WITH hit AS MATERIALIZED (SELECT f.rowid AS rid, highlight(memories_fts, 0, char(1), '') AS h "
            f"FROM memories_fts f CROSS JOIN memories m ON m.rid = f.rowid WHERE memories_fts MATCH ? AND {where}) "
            "SELECT rid, length(h) - length(replace(h, char(1), '')) FROM hit",
            [scope + phrase(term), *params],
        ).fetchall()
        for rid, tf in rows:
            freqs.setdefault(int(rid), [0] * len(terms))[i] = int(tf)
    if not freqs:
        return []
    lengths = token_counts(conn, list(freqs))
    avgdl = average_length(conn)
    df = [sum(1 for f in freqs.values() if f[i]) for i in range(len(terms))]
    idf = [max(math.log((size - n + 0.5) / (n + 0.5)), 1e-6) for n in df]
    scores = {}
    for rid, f in freqs.items():
        norm = K1 * (1 - B + B * lengths.get(rid, 0) / avgdl) if avgdl > 0 else K1
        scores[rid] = sum(w * (tf * (K1 + 1)) / (tf + norm) for w, tf in zip(idf, f, strict=True) if tf)
    ranked = sorted(scores, key=lambda r: (-scores[r], r))[:limit]
    return [(r, scores[r]) for r in ranked]


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
        for rid, blob in conn.execute(
                f"SELECT id, sz FROM memories_fts_docsize WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            out[int(rid)] = varints(blob, 1)[0] if blob else 0
    return out


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
