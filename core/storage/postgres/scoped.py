"""What a search reads of its selection on PostgreSQL (``storage.base``: ``scope_rows_upto``, ``window``,
``within``, ``token_counts``). The scope's equalities meet the btree and GIN indexes, so each read costs what
the selection or the candidates hold; times are whole milliseconds like SQLite's (``ScopeRows.times``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..base import ScopeRows, Selection
from . import codec, sql

Rows = Callable[..., list[tuple[Any, ...]]]
_MS = "floor({p}created_at * 1000)::bigint"


def scope_rows_upto(
    rows: Rows, selection: Selection, keys: Sequence[str], cap: int, times: bool, speakers: bool
) -> ScopeRows | None:
    where, params = sql.where(selection)
    (n,), = rows(f"SELECT count(*) FROM (SELECT 1 FROM memories WHERE {where} LIMIT %s) AS s", [*params, int(cap) + 1])
    if int(n) > cap:
        return None
    cols = "".join(", meta -> %s::text" for _ in keys)
    got = rows(f"SELECT rid, {_MS.format(p='')}, speaker{cols} FROM memories WHERE {where} ORDER BY rid",
               [*(codec.encode(k) for k in keys), *params])
    return ScopeRows(
        np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got)),
        np.fromiter((r[1] for r in got), dtype=np.int64, count=len(got)) / 1000.0 if times else np.zeros(len(got)),
        {k: [codec.decode_value(r[3 + i]) for r in got] for i, k in enumerate(keys)},
        [r[2] for r in got] if speakers or keys else None,
    )


def window(rows: Rows, selection: Selection, rids: Sequence[int], span: int) -> ScopeRows:
    if not len(rids):
        return ScopeRows(np.empty(0, np.int64), np.empty(0, np.float64), {}, [])
    where, params = sql.where(selection, prefix="m.")
    got = rows(f"SELECT DISTINCT m.rid, {_MS.format(p='m.')}, m.speaker FROM unnest(%s::bigint[]) AS c(r) "
               f"JOIN memories m ON m.rid BETWEEN c.r - %s AND c.r + %s WHERE {where} ORDER BY m.rid",
               [[int(r) for r in rids], int(span), int(span), *params])
    return ScopeRows(np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got)),
                     np.fromiter((r[1] for r in got), dtype=np.int64, count=len(got)) / 1000.0, {},
                     [r[2] for r in got])


def within(rows: Rows, selection: Selection, rids: Sequence[int]) -> np.ndarray:
    if not len(rids):
        return np.empty(0, np.int64)
    where, params = sql.where(selection)
    got = rows(f"SELECT rid FROM memories WHERE rid = ANY(%s::bigint[]) AND {where}", [[int(r) for r in rids], *params])
    return np.unique(np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got)))


def token_counts(rows: Rows, rids: Sequence[int]) -> dict[int, int]:
    """The words of each memory's text as SQLite's full-text index counts them (runs of letters and digits),
    stop words included: the tsvector leaves those out, and a search's length prior must weigh a memory alike
    on every backend."""
    if not len(rids):
        return {}
    got = rows("SELECT rid, (SELECT count(*) FROM regexp_matches(text, '[[:alnum:]]+', 'g')) FROM memories "
               "WHERE rid = ANY(%s::bigint[])", [[int(r) for r in rids]])
    return {int(r): int(n) for r, n in got}
