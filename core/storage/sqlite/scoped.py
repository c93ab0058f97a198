"""What a search reads of its selection on SQLite (``storage.base``: ``scope_rows``, ``scope_rows_upto``,
``window``): from the covering scope indexes where it can, numbers concatenated in SQLite and parsed by numpy
(no Python object per memory), times as whole milliseconds (``ScopeRows.times``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base import ScopeRows, Selection
from . import sql

PROBE_ROWS = 2_000  # scope_rows_upto reads a selection of up to this many memories in one statement


def scope_rows(conn: sqlite3.Connection, selection: Selection, keys: Sequence[str]) -> ScopeRows:
    where, params = sql.where(selection, prefix="m.")
    return _scope_rows(conn, where, params, keys)


def scope_rows_upto(
    conn: sqlite3.Connection, selection: Selection, keys: Sequence[str], cap: int, times: bool, speakers: bool,
    tokens: bool = False,
) -> ScopeRows | None:
    where, params = sql.where(selection, prefix="m.")
    if keys:  # metadata values are read from the rows themselves
        if _count_upto(conn, where, params, cap) > cap:
            return None
        return _scope_rows(conn, where, params, keys)
    # the covering scope index, concatenated in one row per column: no Python object per memory
    first = min(cap, PROBE_ROWS)  # most selections are small: read in one statement
    rows = _concat_rows(conn, where, params, times, speakers, tokens, first + 1)
    if len(rows.rids) > first:
        if cap <= first or _count_upto(conn, where, params, cap) > cap:
            return None
        rows = _concat_rows(conn, where, params, times, speakers, tokens, None)
    return rows


def window(conn: sqlite3.Connection, selection: Selection, rids: Sequence[int], span: int) -> ScopeRows:
    if not len(rids):
        return ScopeRows(np.empty(0, np.int64), np.empty(0, np.float64), {}, [])
    ranges = json.dumps([[int(r) - span, int(r) + span] for r in rids])
    where, params = sql.where(selection, prefix="m.")
    rows = conn.execute(  # rowid ranges walked in the table's own order (a large selection is dense in it)
        f"SELECT DISTINCT m.rid, {_ms('m.')}, m.speaker FROM json_each(?) AS w JOIN memories AS m NOT INDEXED "
        f"ON m.rid BETWEEN w.value ->> 0 AND w.value ->> 1 WHERE {where} ORDER BY m.rid", [ranges, *params]).fetchall()
    return ScopeRows(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                     np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)) / 1000.0, {},
                     [r[2] for r in rows])


def _count_upto(conn: sqlite3.Connection, where: str, params: list[Any], cap: int) -> int:
    """The number of memories covered, counted up to ``cap + 1`` (from the covering scope index)."""
    return int(conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {where} LIMIT ?)",
                            [*params, int(cap) + 1]).fetchone()[0])


def _concat_rows(
    conn: sqlite3.Connection, where: str, params: list[Any], times: bool, speakers: bool, tokens: bool,
    limit: int | None,
) -> ScopeRows:
    """The selection's rows (at most ``limit``) as ``ScopeRows``, read as one concatenated row per column
    (numbers parsed by numpy: no Python object per memory; times as integer milliseconds, parsed far faster)."""
    cols = ["group_concat(rid)", f"group_concat({_ms()})" if times else "NULL",
            "group_concat(coalesce(speaker, ''), char(31))" if speakers else "NULL",
            "group_concat(coalesce(tokens, -1))" if tokens else "NULL"]
    tail = "" if limit is None else f" LIMIT {int(limit)}"
    rids, at, who, counts = conn.execute(
        f"SELECT {', '.join(cols)} FROM (SELECT m.rid, m.created_at, m.speaker, m.tokens FROM memories m "
        f"WHERE {where}{tail})", params).fetchone()
    ids = np.fromstring(rids or "", dtype=np.int64, sep=",")
    order = np.argsort(ids, kind="stable")
    names = who.split("\x1f") if who else ([""] if who == "" and len(ids) else [])
    if speakers and len(names) != len(ids):  # a speaker holding the separator: read row by row
        full = _scope_rows(conn, where, params, [])
        if limit is None:
            return full
        return ScopeRows(full.rids[:limit], full.times[:limit], {}, (full.speakers or [])[:limit],
                         None if full.tokens is None or not tokens else full.tokens[:limit])
    return ScopeRows(
        ids[order],
        np.fromstring(at, dtype=np.int64, sep=",")[order] / 1000.0 if times and at else np.zeros(len(ids)),
        {}, [n or None for n in np.array(names, dtype=object)[order].tolist()] if speakers else None,
        np.fromstring(counts or "", dtype=np.int64, sep=",")[order] if tokens else None,
    )


# created_at as whole milliseconds (floored): what a search reads of a memory's time (ScopeRows.times)
def _ms(prefix: str = "") -> str:
    return f"CAST({prefix}created_at * 1000 AS INTEGER)"


def _scope_rows(conn: sqlite3.Connection, where: str, params: list[Any], keys: Sequence[str]) -> ScopeRows:
    cols = "".join(", json_extract(m.metadata, ?)" for _ in keys)
    rows = conn.execute(f"SELECT m.rid, {_ms('m.')}, m.speaker, coalesce(m.tokens, -1){cols} FROM memories m "
                        f"WHERE {where} ORDER BY m.rid", [*(_key_path(k) for k in keys), *params]).fetchall()
    rids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    times = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)) / 1000.0
    return ScopeRows(rids, times, {k: [r[4 + i] for r in rows] for i, k in enumerate(keys)}, [r[2] for r in rows],
                     np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows)))


def _key_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
