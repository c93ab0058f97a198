"""COMMIT over a connection that may break during it.

A write is never retried behind the caller's back, but a connection can break during COMMIT itself, after
the server committed or before. Then the server is asked (``pg_xact_status``, on a new connection) whether
that transaction committed: the write is acknowledged only when the server says it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from ...errors import StoreError
from .rows import connection_lost, first_line

STATUS_WAIT_S = 5.0  # how long the server is asked, while it cannot be reached


def commit(conn: Any, xid: str | None, location: str, connect: Callable[[], Any]) -> None:
    """COMMIT ``conn``'s transaction (``xid``: its id, None when it wrote nothing); when the connection breaks
    during COMMIT, succeed only if the server says that transaction committed."""
    try:
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        if xid is None or not connection_lost(exc):
            raise
        status = xact_status(connect, xid)
        if status == "committed":
            return  # it did commit: the write is durable
        if status is None:
            raise StoreError(
                f"the connection to {location} broke while committing transaction {xid}, and the server "
                f"cannot be asked whether it committed ({first_line(exc)}). It was not acknowledged: when the "
                "server is back, check before retrying (an add that did commit is found again as a duplicate)"
            ) from exc
        raise StoreError(f"a write to {location} was lost with its connection ({first_line(exc)}); "
                         "nothing was written: retry") from exc


def xact_status(connect: Callable[[], Any], xid: str, wait_s: float = STATUS_WAIT_S) -> str | None:
    """'committed' / 'aborted' for a transaction the server knows; None when it cannot be reached."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with connect() as conn:
                row = conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,)).fetchone()
                status = None if row is None or row[0] is None else str(row[0])
                if status != "in progress":
                    return status
        except (StoreError, psycopg.Error):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
