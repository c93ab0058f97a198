"""The connections of a PostgreSQL store: its pool (psycopg_pool), how the pool comes back after an outage,
and the direct connections made outside it.

psycopg_pool retries a failed connect with a doubling delay (1, 2, 4... s) for ``reconnect_timeout``
seconds (5 minutes by default). Left at that, after an outage of a minute the pool would next try a
minute later, and every call in between would fail although the server is back. So a retry here gives
up after ``RECONNECT_S``; while calls wait for a connection it starts again at once, else the next call
starts one (the pool grows when a call finds it empty). A server that stays down costs one connect attempt
every second or two while calls wait, none while nothing does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import StoreError, missing_extra
from .settings import Settings

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("postgres", "psycopg (with psycopg-pool)") from exc

RECONNECT_S = 4.0


def connect(settings: Settings, kwargs: dict[str, Any], configure: Callable[[Any], None]) -> Any:
    """A connection of its own, configured as the pool's are; when it fails, the error says what to check."""
    try:
        conn = psycopg.connect(settings.conninfo, **kwargs)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise StoreError(
            f"cannot connect to the memlayer store at {settings.location}: {first}. Check the host, port, user, "
            "password and database name in the URL, and that the server accepts connections"
        ) from exc
    try:
        configure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_pool(settings: Settings, kwargs: dict[str, Any], configure: Callable[[Any], None]) -> ConnectionPool:
    """The store's pool, opened without waiting for its first connections."""
    pool: ConnectionPool = ConnectionPool(
        settings.conninfo, kwargs=kwargs, min_size=settings.pool_min, max_size=settings.pool_max,
        timeout=settings.pool_timeout, configure=configure, name=f"memlayer {settings.location}", open=False,
        reconnect_timeout=RECONNECT_S, reconnect_failed=_again_if_waited_for,
    )
    pool.open(wait=False)
    return pool


def _again_if_waited_for(pool: ConnectionPool) -> None:
    """A connect retry gave up: start another at once while calls wait for a connection."""
    if not pool.closed and pool.get_stats().get("requests_waiting", 0):
        pool.check()
