"""Lexical retrieval with SQLite FTS5 (BM25, porter-stemmed), restricted to the caller's scope and filters.

The query is reduced to its content words: stop words and question words are dropped (an English
list in the spirit of the classic SMART/Lucene ones, plus the wording questions are asked in),
and what remains is OR-ed, each term quoted so no FTS5 syntax reaches SQLite from users.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..storage.sqlite import SQLiteStore

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by did do does for from had has have he her his how i in is it its me my of on or "
    "our she that the their them they this to was we were what when where which who whom why will with you your "
    # function words
    "about above after again against all am any because been before being below between both but can could "
    "down during each few further here hers herself him himself into itself just more most myself no nor not "
    "now off once only other ought ours ourselves out over own same should so some such than then there these "
    "those through too under until up very whose would yours yourself yourselves themselves theirs while "
    "also ever every either neither much many may might must shall s t d ll m re ve "
    # how questions are asked
    "kind kinds type types sort sorts thing things something anything way ways "
    "tell know think describe mention mentioned say said"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """The query's distinct content words (lower-cased), in order; all its words when none is left."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    content = [w for w in words if w not in stopwords and (len(w) > 1 or w.isdigit())] or words
    return list(dict.fromkeys(content))


def fts_query(text: str, stopwords: frozenset[str] = STOPWORDS) -> str | None:
    """An FTS5 query OR-ing the query's content words, each quoted (no FTS syntax from users)."""
    found = terms(text, stopwords)
    if not found:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in found)


def lexical_search(
    store: SQLiteStore, query: str, where: str, params: Sequence[Any], limit: int,
    stopwords: frozenset[str] = STOPWORDS,
) -> list[tuple[int, float]]:
    """(rid, bm25 relevance) best first; the scope/filter clause restricts the rows."""
    match = fts_query(query, stopwords)
    if match is None:
        return []
    rows = store.query(
        "SELECT f.rowid, bm25(memories_fts) AS s FROM memories_fts f JOIN memories m ON m.rid = f.rowid "
        f"WHERE memories_fts MATCH ? AND {where} ORDER BY s LIMIT ?",
        [match, *params, int(limit)],
    )
    return [(int(r[0]), -float(r[1])) for r in rows]
