"""Row shapes and the error translation shared by the PostgreSQL store and its transactions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg

from ...errors import StoreError
from . import sql

CHUNK = sql.DIALECT.chunk  # rows per statement when many are read or written at once


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def connection_lost(exc: BaseException) -> bool:
    """Whether an error means the connection (or the server) went away, rather than a refused statement."""
    if isinstance(exc, (pg.AdminShutdown, pg.CrashShutdown, pg.CannotConnectNow)):
        return True
    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) in (None, "08000", "08003",
                                                                                            "08006", "57P01", "57P02")


@contextmanager
def store_errors(location: str, what: str) -> Iterator[None]:
    """psycopg's errors surface as StoreError (a MemlayerError) that says what failed, where, and what to do."""
    try:
        yield
    except StoreError:
        raise
    except (psycopg.Error, UnicodeEncodeError) as exc:
        raise StoreError(f"{what} ({location}): {first_line(exc)}{_hint(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (psycopg's go on with detail and hint lines), else its type."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _hint(exc: BaseException) -> str:
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return " (every connection of this process's pool stayed busy or the server did not answer; raise pool_max " \
               "in the URL or check the server)"
    if connection_lost(exc):
        return " (the PostgreSQL server could not be reached or went away; a write that failed this way was not " \
               "acknowledged: retry it when the server is back)"
    if isinstance(exc, (pg.DeadlockDetected, pg.SerializationFailure, pg.LockNotAvailable)):
        return " (a conflict with a concurrent transaction; nothing was written: retry)"
    if isinstance(exc, pg.InsufficientPrivilege):
        return " (the role lacks a privilege memlayer needs: it must own or be allowed to create in the database)"
    if isinstance(exc, (pg.DiskFull, pg.OutOfMemory)):
        return " (the server is out of space; nothing was written: free some and retry)"
    if isinstance(exc, psycopg.DataError) and "NUL" in str(exc):
        return " (text stored in PostgreSQL cannot contain the NUL character)"
    return ""
