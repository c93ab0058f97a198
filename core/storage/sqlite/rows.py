"""Row shapes and small helpers shared by the SQLite store and its transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from ...errors import StoreError
from ...types import Scope
from ..base import StoredMemory
from ..memory_rows import COLUMNS, group_by_scope_and_hash
from . import sql

T = TypeVar("T")

CHUNK = sql.DIALECT.chunk  # bound parameters per IN (...) list


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (the IN-lists of one statement)."""
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """SQLite's own errors (locked past the busy timeout, disk full, a corrupt or foreign file) surface
    as StoreError, a MemlayerError, naming what failed."""
    try:
        yield
    except (sqlite3.DatabaseError, UnicodeEncodeError) as exc:
        hint = ""
        if "locked" in str(exc) or "busy" in str(exc):
            hint = " (another process held the write lock past the busy timeout)"
        elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            hint = " (the file is not a memlayer/SQLite database)"
        elif "full" in str(exc):
            hint = " (the disk is full: free some space and retry; nothing was half-written)"
        raise StoreError(f"{what}: {exc}{hint}") from exc


def current_by_hash(
    conn: sqlite3.Connection, scopes: Sequence[Scope], hashes: Sequence[str], at: float | None = None
) -> dict[Scope, dict[str, list[StoredMemory]]]:
    """Current memories (not expired by ``at`` when given) of exactly each of ``scopes`` whose text hash is one
    of ``hashes`` (one indexed query per 500 hashes, whatever the number of scopes)."""
    wanted = set(scopes)
    out: dict[Scope, dict[str, list[StoredMemory]]] = {}
    valid, v_params = sql.current(at)
    for chunk in chunks(sorted(set(hashes)), 500):
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM memories INDEXED BY memories_hash WHERE hash IN ({','.join('?' * len(chunk))}) "
            f"AND {valid}", [*chunk, *v_params],
        ).fetchall()
        group_by_scope_and_hash(rows, wanted, out)
    return out
