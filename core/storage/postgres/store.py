"""PostgreSQL, the shared system of record: many processes on many hosts use one database.

Reads run on pooled autocommit connections (psycopg 3 and psycopg_pool), each statement on its own
snapshot; reads that must agree run in one REPEATABLE READ transaction. Writes run in READ COMMITTED
transactions (``storage.postgres.tx``): an acknowledged write is a committed transaction. A read that meets
a connection the server dropped (a restart) is retried once on a fresh one; a write is never retried
behind the caller's back — except when the connection broke during COMMIT itself: then the store asks the
server whether that transaction committed, and only says so when it knows (``commit.py``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from ...errors import StoreError, missing_extra
from ...records import HistoryEvent, ScopeSummary, SourceMessage
from ...types import Scope, iso
from ..base import LogEntry, LogName, ScopeRows, Selection, StoredMemory
from ..sqlreads import SQLStoreReads, embedding_batches
from . import codec, locks, pool, scoped, settings, sql
from .commit import commit
from .listen import Listener
from .logs import head as _head
from .logs import read_log as _read_log
from .rows import chunks, connection_lost, store_errors
from .schema import migrate
from .tx import PostgresTx, current_by_hash

try:
    import psycopg
    from psycopg import sql as pgsql
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("postgres", "psycopg (with psycopg-pool)") from exc

T = TypeVar("T")
READ_FAILED = "reading the memlayer store failed"


class PostgresStore(SQLStoreReads):
    """A memlayer store in a PostgreSQL database (``postgresql://user:pass@host:5432/db?schema=memlayer``)."""

    shared = True  # many processes and hosts
    remote = True  # the data lives in a server: a per-host graph would not be shared
    closed = False
    dialect = sql.DIALECT

    def __init__(self, url: str) -> None:
        self.settings = settings.parse(url)
        self.schema = self.settings.schema
        self.location = self.settings.location
        self.channel = locks.channel(self.schema)
        self._kwargs = {"autocommit": True, **self.settings.connect_kwargs()}
        self._listener: Listener | None = None
        self._close_lock = threading.Lock()
        conn = self._connect()  # a direct connection first: its error says what is wrong (host, password...)
        with conn, store_errors(self.location, "cannot prepare the memlayer schema"):
            migrate(conn, self.schema, locks.named(self.schema, locks.MIGRATE), self.location)
        self._pool: ConnectionPool = pool.open_pool(self.settings, self._kwargs, self._configure)

    @classmethod
    def from_url(cls, url: str, *, directory: str | None = None) -> PostgresStore:
        """The registered factory (``memlayer.stores``: ``postgresql``); ``directory`` is not used (the
        vector snapshots stay in the Memory's own directory)."""
        return cls(url)

    # -- connections ----------------------------------------------------------------------------
    def _connect(self) -> Any:
        """A connection outside the pool (migrations, the listener, asking a transaction's outcome)."""
        return pool.connect(self.settings, self._kwargs, self._configure)

    def _configure(self, conn: Any) -> None:
        conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema)))

    def _check_open(self) -> None:
        if self.closed:
            raise StoreError(f"the memlayer store at {self.location} is closed")

    def _read(self, fn: Callable[[Any], T]) -> T:
        """``fn(conn)`` on a pooled connection; once more on a fresh one when the server dropped it."""
        self._check_open()
        try:
            with self._pool.connection() as conn:
                return fn(conn)
        except psycopg.Error as exc:
            if isinstance(exc, PoolTimeout) or not connection_lost(exc):
                with store_errors(self.location, READ_FAILED):
                    raise
            self._pool.check()  # a server restart broke every idle connection: replace them
        with store_errors(self.location, READ_FAILED), self._pool.connection() as conn:
            return fn(conn)

    def _run(self, text: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple[Any, ...]]:
        def run(conn: Any) -> list[tuple[Any, ...]]:
            cur = conn.cursor(binary=binary).execute(text, params)
            return cur.fetchall() if cur.description is not None else []

        return self._read(run)

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of any query (``%s`` parameters): for tests and diagnostics that inspect the database."""
        return self._run(text, params)

    @contextmanager
    def _pooled(self, first: str) -> Iterator[Any]:
        """A pooled connection on which the statement ``first`` ran; when the server had dropped it (a restart),
        a fresh one (as ``_read`` retries), so a call that does not start with ``_read`` survives a restart too."""
        for attempt in range(2):
            with self._pool.connection() as conn:
                try:
                    conn.execute(first)
                except psycopg.Error as exc:
                    if attempt or not connection_lost(exc):
                        raise
                    self._pool.check()  # a server restart broke every idle connection: replace them
                    continue
                yield conn
                return

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """A read-only REPEATABLE READ transaction: every read inside sees the same committed state."""
        self._check_open()
        with store_errors(self.location, READ_FAILED), \
                self._pooled("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
            try:
                yield conn
            finally:
                if not conn.broken:
                    conn.execute("COMMIT")

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[PostgresTx]:
        """A READ COMMITTED transaction; its vector-log entries are appended right before COMMIT."""
        self._check_open()
        with store_errors(self.location, "a write to the memlayer store failed"):
            conn = self._begin()
            try:
                tx = PostgresTx(conn, self.schema, self.channel)
                try:
                    yield tx
                    tx.flush()
                    row = conn.execute("SELECT pg_current_xact_id_if_assigned()::text").fetchone()
                except BaseException:
                    if not conn.broken:
                        conn.execute("ROLLBACK")
                    raise
                commit(conn, None if row is None else row[0], self.location, self._connect)
            finally:
                self._pool.putconn(conn)

    def _begin(self) -> Any:
        for attempt in range(2):
            conn = self._pool.getconn()
            try:
                conn.execute("BEGIN")
                return conn
            except psycopg.Error as exc:
                self._pool.putconn(conn)
                if attempt or not connection_lost(exc):
                    raise
                self._pool.check()
        raise AssertionError("unreachable")

    # -- memories (the rest: SQLStoreReads) ---------------------------------------------------------
    def scope_rows(self, selection: Selection, keys: Sequence[str]) -> ScopeRows:
        where, params = sql.where(selection)
        cols = "".join(", meta -> %s::text" for _ in keys)
        rows = self._run(f"SELECT rid, created_at{cols} FROM memories WHERE {where} ORDER BY rid",
                         [*(codec.encode(k) for k in keys), *params])
        rids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        times = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return ScopeRows(rids, times, {k: [codec.decode_value(r[2 + i]) for r in rows] for i, k in enumerate(keys)})

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        return self._read(lambda conn: current_by_hash(conn, scopes, hashes, at))

    def scope_rows_upto(
        self, selection: Selection, keys: Sequence[str], cap: int, *, times: bool = True, speakers: bool = True,
        tokens: bool = False,
    ) -> ScopeRows | None:
        return scoped.scope_rows_upto(self._run, selection, keys, cap, times, speakers)  # (no token column)

    def window(self, selection: Selection, rids: Sequence[int], span: int) -> ScopeRows:
        return scoped.window(self._run, selection, rids, span)

    def within(self, selection: Selection, rids: Sequence[int]) -> np.ndarray:
        return scoped.within(self._run, selection, rids)

    def token_counts(self, rids: Sequence[int], scope: Scope | None = None) -> dict[int, int]:
        return scoped.token_counts(self._run, rids)

    def lexical(
        self, selection: Selection, terms: Sequence[str], limit: int, size: int | None = None,
        rids: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Stemmed full-text matches of the selection, ranked by ts_rank (see ``sql.lexical``): the scope is
        inside the GIN index already, so ``size`` and ``rids`` are not needed."""
        query = sql.lexical(selection, terms, limit)
        if query is None:
            return []
        return [(int(r[0]), float(r[1])) for r in self._run(*query)]

    @contextmanager
    def scan_embeddings(self, batch: int = 20_000) -> Iterator[tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]]:
        with self._snapshot() as conn:
            head = _head(conn, "vectors")

            def fetch(last: int) -> list[tuple[Any, ...]]:
                return conn.cursor(binary=True).execute(
                    "SELECT rid, embedding FROM memories WHERE rid > %s ORDER BY rid LIMIT %s", (last, batch)).fetchall()

            yield head, embedding_batches(fetch)

    def history(self, memory_id: str) -> list[HistoryEvent]:
        rows = self._run(
            "SELECT seq, memory_id, event, old_memory, new_memory, created_at, actor, user_id, agent_id, run_id, "
            "reason, message_ids FROM history WHERE memory_id = %s ORDER BY seq", (memory_id,))
        ids = sorted({int(i) for r in rows for i in r[11]})
        messages: dict[int, SourceMessage] = {}
        for chunk in chunks(ids):
            among, params = sql.any_of("id", chunk, "bigint")
            for m in self._run(f"SELECT id, role, content, name, created_at FROM messages WHERE {among}", params):
                messages[int(m[0])] = SourceMessage(m[1], m[2], m[3], iso(m[4]))
        return [
            HistoryEvent(id=r[0], memory_id=r[1], event=r[2], old_memory=r[3], new_memory=r[4], created_at=iso(r[5]),
                         actor=r[6], user_id=r[7], agent_id=r[8], run_id=r[9], reason=r[10],
                         source_messages=[messages[i] for i in sorted(int(i) for i in r[11]) if i in messages])
            for r in rows
        ]

    def list_scopes(self, prefix: str, limit: int, *, at: float | None = None) -> dict[str, list[ScopeSummary]]:
        out: dict[str, list[ScopeSummary]] = {}
        now = -math.inf if at is None else float(at)  # no time given: nothing has expired
        for field in ("user_id", "agent_id", "run_id"):  # starts_with: literal and case-exact, unlike LIKE
            where, params = (f"starts_with({field}, %s)", [prefix]) if prefix else (f"{field} IS NOT NULL", [])
            rows = self._run(
                f"SELECT {field}, count(*) FILTER (WHERE valid_to IS NULL AND (expires_at IS NULL OR expires_at > %s)), "
                f"count(*) FILTER (WHERE valid_to IS NOT NULL), min(valid_from), max(updated_at), "
                f"count(*) FILTER (WHERE valid_to IS NULL AND expires_at <= %s) FROM memories WHERE {where} "
                f'GROUP BY {field} ORDER BY {field} COLLATE "C" LIMIT %s', [now, now, *params, int(limit)])  # code-point order
            out[field] = [ScopeSummary(str(r[0]), int(r[1]), int(r[2]), iso(r[3]), iso(r[4]), int(r[5])) for r in rows]
        return out

    def scope_ids(self, prefix: str) -> dict[str, list[str]]:
        if not prefix:
            raise ValueError("scope_ids needs a non-empty prefix")
        out: dict[str, list[str]] = {}
        for field in ("user_id", "agent_id", "run_id"):  # starts_with: literal and case-exact, unlike LIKE
            union = " UNION ".join(f"SELECT {field} FROM {table} WHERE starts_with({field}, %s)"
                                   for table in ("memories", "history", "messages", "graph_log"))
            out[field] = sorted(str(r[0]) for r in self._run(union, [prefix] * 4))  # code-point order
        return out

    # -- change logs ----------------------------------------------------------------------------
    def log_head(self, log: LogName) -> int:
        return self._read(lambda conn: _head(conn, log))

    def read_log(self, log: LogName, after: int, limit: int | None = None) -> list[LogEntry]:
        return self._read(lambda conn: _read_log(conn, log, after, limit))

    def log_and_count(self, log: LogName, after: int) -> tuple[list[LogEntry], int]:
        with self._snapshot() as conn:
            entries = _read_log(conn, log, after, None)
            return entries, int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])

    # -- meta -----------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.set_meta(key, value)

    def delete_meta(self, key: str) -> None:
        with self.transaction() as tx:
            tx.delete_meta(key)

    def meta_items(self, prefix: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._run(
            "SELECT key, value FROM meta WHERE starts_with(key, %s) ORDER BY key", (prefix,))}

    # -- several processes --------------------------------------------------------------------
    @contextmanager
    def hold(self, name: str, *, wait_s: float = 0.0) -> Iterator[bool]:
        """A session advisory lock on a pooled connection kept for the block: the server releases it when
        the holder's connection ends, so a holder killed with -9 frees it at once."""
        self._check_open()
        key = locks.named(self.schema, f"hold:{name}")
        with store_errors(self.location, f"cannot take the {name!r} lock"), self._pooled("SELECT 1") as conn, \
                locks.held(conn, key, wait_s) as got:
            yield got

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on a background thread) after other processes commit to a change log — told by
        LISTEN/NOTIFY — and every ``poll`` seconds in any case; returns the function that stops it."""
        self._check_open()
        with self._close_lock:
            if self._listener is None:
                self._listener = Listener(self._connect, self.channel, self.settings.poll, self._notify)
        return self._listener.subscribe(callback)

    def _notify(self, payload: str) -> None:
        self._read(lambda conn: conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload)))

    # -- upkeep ---------------------------------------------------------------------------------
    def compact(self) -> None:
        """VACUUM the tables a forget deletes from: dead rows (the forgotten text) are removed from their
        pages and indexes. PostgreSQL may still hold the bytes in free space and WAL until they are reused
        or recycled (see docs/scaling.md)."""
        def vacuum(conn: Any) -> None:
            for table in ("memories", "history", "messages", "graph_log", "vector_log"):
                conn.execute(pgsql.SQL("VACUUM {}").format(pgsql.Identifier(self.schema, table)))

        self._read(vacuum)

    def merge_text_index(self, pages: int) -> bool:
        """GIN's fast update keeps recent entries in a pending list that every lexical search scans until
        autovacuum moves them into the index; this moves them now (all of them: the list is bounded by
        ``gin_pending_list_limit``, so ``pages`` does not apply)."""
        def clean(conn: Any) -> bool:  # (the connection's search_path is the store's schema)
            return bool(conn.execute("SELECT gin_clean_pending_list('memories_fts'::regclass)").fetchone()[0])

        return self._read(clean)

    def close(self) -> None:
        with self._close_lock:
            if self.closed:
                return
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()  # (it wakes itself through the pool: before the pool closes)
        self.closed = True
        self._pool.close()

