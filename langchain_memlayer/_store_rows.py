"""Reading a LangGraph store's items from memlayer rows: one item per (namespace, key) whatever the rows.

Puts that no lock orders (other store objects, other processes) may each add a new item: until the put that
added a row removes the others (``MemlayerStore._put``), an item can have several. Reads show the newest (the
one ``get`` shows) and page by items, not rows: memlayer has no distinct query, so these ask it for more rows
while duplicates fill a page.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from datetime import datetime
from typing import Any

from memlayer.kit import Op, Scope, ops
from memlayer.records import MemoryRecord

SEARCH_LIMIT = 10_000  # the most hits one memlayer search answers


def row_time(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def item_key(row: MemoryRecord) -> tuple[str, str]:
    return row.metadata["lg_ns"], row.metadata["lg_key"]


def distinct(rows: Iterable[MemoryRecord]) -> list[MemoryRecord]:
    """One row per (namespace, key): the first, i.e. the newest (a racing duplicate is never shown)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rows:
        key = item_key(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _updated(row: MemoryRecord) -> datetime:
    return row_time(row.updated_at or row.created_at)


def distinct_hits(hits: list[tuple[MemoryRecord, float]]) -> list[tuple[MemoryRecord, float]]:
    """One hit per (namespace, key), best first: of a racing duplicate's rows the newest found (the row ``get``
    shows, when it is among the hits), with its own score; ``hits`` come best first."""
    newest: dict[tuple[str, str], tuple[MemoryRecord, float]] = {}
    for hit in hits:
        key = item_key(hit[0])
        if key not in newest or _updated(hit[0]) > _updated(newest[key][0]):
            newest[key] = hit
    return sorted(newest.values(), key=lambda h: -h[1])


def distinct_rows(read: Scope, where: Mapping[str, Any] | None, want: int, reads: Mapping[str, Any],
                  skip: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
                  ) -> Generator[Op[Any], Any, list[MemoryRecord]]:
    """The newest row of each of the first ``want`` items (most recently updated first) not in ``skip``."""
    limit = want
    while True:
        rows = yield ops.get_all(read, filters=where, limit=limit, **reads)
        page = [r for r in distinct(rows) if item_key(r) not in skip]
        if len(page) >= want or len(rows) < limit or limit >= ops.ALL:
            return page[:want]
        limit = min(2 * limit, ops.ALL)


def distinct_search(query: str, read: Scope, where: Mapping[str, Any] | None, want: int,
                    search_kwargs: Mapping[str, Any], reads: Mapping[str, Any],
                    ) -> Generator[Op[Any], Any, list[tuple[MemoryRecord, float]]]:
    """memlayer's best hits for ``query``, one per item, best first: ``want`` of them when there are."""
    limit = min(want, SEARCH_LIMIT)
    while True:
        found = yield ops.search(query, read, **search_kwargs, filters=where, limit=limit, **reads)
        hits = distinct_hits(sorted(((h, h.similarity) for h in found.results), key=lambda h: -h[1]))
        if len(hits) >= want or len(found.results) < limit or limit >= SEARCH_LIMIT:
            return hits
        limit = min(2 * limit, SEARCH_LIMIT)
