"""Lexical retrieval with SQLite FTS5 (BM25), restricted to the caller's scope and filters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..storage.sqlite import SQLiteStore

_TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its me my of on or "
    "our she that the their them they this to was we were what when where which who whom why will with you your".split()
)


def fts_query(text: str) -> str | None:
    """An FTS5 query OR-ing the query's content words, each quoted (no FTS syntax from users)."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    terms = sorted({w for w in words if w not in STOPWORDS and len(w) > 1}) or sorted(set(words))
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def lexical_search(
    store: SQLiteStore, query: str, where: str, params: Sequence[Any], limit: int
) -> list[tuple[int, float]]:
    """(rid, bm25 relevance) best first; the scope/filter clause restricts the rows."""
    match = fts_query(query)
    if match is None:
        return []
    rows = store.query(
        "SELECT f.rowid, bm25(memories_fts) AS s FROM memories_fts f JOIN memories m ON m.rid = f.rowid "
        f"WHERE memories_fts MATCH ? AND {where} ORDER BY s LIMIT ?",
        [match, *params, int(limit)],
    )
    return [(int(r[0]), -float(r[1])) for r in rows]
