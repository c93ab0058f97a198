"""SQLite, the embedded system of record. WAL mode, a busy timeout, and short IMMEDIATE write transactions.

Several processes may share one database file (SQLite's own locking). Within a process, writes take turns on
one connection and reads use another, so a search never waits behind a write (connections.py). Reads that
must agree with each other run in one read transaction (a WAL snapshot).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...errors import StoreError
from ...records import HistoryEvent, ScopeSummary, SourceMessage
from ...types import Scope, iso
from ..base import LogEntry, LogName, ScopeRows, Selection, StoredMemory
from ..holds import acquired
from ..sqlreads import SQLStoreReads, embedding_batches
from . import lexical as lex
from . import scoped, sql
from .connections import Connections
from .rows import chunks, current_by_hash, store_errors
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION, added_column, split_sql
from .tx import SQLiteTx

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: holds are per process
    fcntl = None  # type: ignore[assignment]

_LOG_TABLES = {"vectors": "vector_log", "graph": "graph_log"}


class SQLiteStore(SQLStoreReads):
    """Thread-safe access to one memlayer database file (or ``:memory:``)."""

    shared = True  # several processes on one host may share the file
    remote = False
    closed = False
    dialect = sql.DIALECT

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.location = f"sqlite:{path}"
        self._holds: dict[str, threading.Lock] = {}
        self._db = Connections(path, busy_timeout_s)
        try:
            self._setup()
            self._db.open_reader()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def from_url(cls, url: str, *, directory: str | None = None) -> SQLiteStore:
        """``sqlite:///abs/path/memlayer.db`` or ``sqlite://:memory:``; bare ``sqlite``: the directory's."""
        rest = url.split(":", 1)[1] if ":" in url else ""
        path = rest[2:] if rest.startswith("//") else rest
        return cls(path) if path else cls.in_directory(directory)

    @classmethod
    def in_directory(cls, directory: str | None) -> SQLiteStore:
        """The store of a memlayer directory (``None``: in memory)."""
        return cls(":memory:" if directory is None else os.path.join(directory, "memlayer.db"))

    def _setup(self) -> None:
        path = self.path
        with store_errors(f"cannot open the memlayer database at {path!r}"), self.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = SCHEMA_VERSION if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {path!r} was written by a newer memlayer (schema {version}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade memlayer to open it"
                )
            has_tables = tx.execute("SELECT 1 FROM sqlite_master WHERE name = 'memories'").fetchone()
            if has_tables:
                for step in range(version, SCHEMA_VERSION):
                    for stmt in MIGRATIONS.get(step, []):
                        column = added_column(stmt)
                        if column and column[1] in {r[1] for r in tx.execute(f"PRAGMA table_info({column[0]})")}:
                            continue
                        tx.execute(stmt)
            for stmt in split_sql(SCHEMA):
                tx.execute(stmt)
            tx.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET "
                       "value = excluded.value", (str(SCHEMA_VERSION),))

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[SQLiteTx]:
        """An IMMEDIATE transaction: the write lock is taken at BEGIN, so it never deadlocks later. It also
        serialises every writer of the file, across processes, which makes the checks made inside it
        (duplicates, a memory changed since it was read) atomic. Reads meanwhile see the last commit."""
        with self._db.transaction() as conn:
            yield SQLiteTx(conn)

    def _run(self, text: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple[Any, ...]]:
        """Plain tuples (several times faster to build than sqlite3.Row); blobs are bytes either way."""
        with self._db.reading() as conn:
            return conn.execute(text, params).fetchall()

    def query(self, text: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows by column name: for tests and diagnostics that inspect the database itself."""
        with self._db.reading() as conn:
            cur = conn.cursor()
            cur.row_factory = sqlite3.Row
            return cur.execute(text, params).fetchall()

    # -- memories (the rest: SQLStoreReads) ---------------------------------------------------------
    def scope_rows(self, selection: Selection, keys: Sequence[str]) -> ScopeRows:
        with self._db.reading() as conn:
            return scoped.scope_rows(conn, selection, keys)

    def scope_rows_upto(
        self, selection: Selection, keys: Sequence[str], cap: int, *, times: bool = True, speakers: bool = True,
        tokens: bool = False,
    ) -> ScopeRows | None:
        with self._db.snapshot() as conn:
            return scoped.scope_rows_upto(conn, selection, keys, cap, times, speakers, tokens)

    def window(self, selection: Selection, rids: Sequence[int], span: int) -> ScopeRows:
        with self._db.reading() as conn:
            return scoped.window(conn, selection, rids, span)

    def within(self, selection: Selection, rids: Sequence[int]) -> np.ndarray:
        with self._db.reading() as conn:
            found = lex.within(conn, selection, rids)
        return np.unique(np.asarray(found, dtype=np.int64))

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        with self._db.reading() as conn:
            return current_by_hash(conn, scopes, hashes, at)

    def lexical(
        self, selection: Selection, terms: Sequence[str], limit: int, size: int | None = None,
        rids: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        with self._db.snapshot() as conn:  # the statistics and the matches from one state of the store
            return lex.lexical(conn, selection, terms, limit, size, rids)

    def token_counts(self, rids: Sequence[int], scope: Scope | None = None) -> dict[int, int]:
        with self._db.reading() as conn:
            return lex.token_counts(conn, rids, None if scope is None else scope.user_id)

    @contextmanager
    def scan_embeddings(self, batch: int = 20_000) -> Iterator[tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]]:
        with self._db.snapshot() as conn:
            head = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM vector_log").fetchone()[0])

            def fetch(last: int) -> list[tuple[Any, ...]]:
                return conn.execute("SELECT rid, embedding FROM memories WHERE rid > ? ORDER BY rid LIMIT ?",
                                    (last, batch)).fetchall()

            yield head, embedding_batches(fetch)

    def history(self, memory_id: str) -> list[HistoryEvent]:
        rows = self.query("SELECT * FROM history WHERE memory_id = ? ORDER BY seq", (memory_id,))
        ids = sorted({int(i) for r in rows for i in json.loads(r["message_ids"])})
        messages: dict[int, SourceMessage] = {}
        for chunk in chunks(ids):
            among, params = sql.any_of("id", chunk, "bigint")
            for m in self._run(f"SELECT id, role, content, name, created_at FROM messages WHERE {among}", params):
                messages[int(m[0])] = SourceMessage(m[1], m[2], m[3], iso(m[4]))
        return [
            HistoryEvent(
                id=r["seq"], memory_id=r["memory_id"], event=r["event"], old_memory=r["old_memory"],
                new_memory=r["new_memory"], created_at=iso(r["created_at"]), actor=r["actor"],
                user_id=r["user_id"], agent_id=r["agent_id"], run_id=r["run_id"], reason=r["reason"],
                source_messages=[messages[i] for i in sorted(int(i) for i in json.loads(r["message_ids"]))
                                 if i in messages],
            )
            for r in rows
        ]

    # -- change logs ----------------------------------------------------------------------------
    def log_head(self, log: LogName) -> int:
        return int(self._run(f"SELECT COALESCE(MAX(seq), 0) FROM {_LOG_TABLES[log]}")[0][0])

    def read_log(self, log: LogName, after: int, limit: int | None = None) -> list[LogEntry]:
        with self._db.reading() as conn:
            return _read_log(conn, log, after, limit)

    def log_and_count(self, log: LogName, after: int) -> tuple[list[LogEntry], int]:
        with self._db.snapshot() as conn:
            entries = _read_log(conn, log, after, None)
            return entries, int(conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0])

    # -- meta -----------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.set_meta(key, value)

    def delete_meta(self, key: str) -> None:
        with self.transaction() as tx:
            tx.delete_meta(key)

    def meta_items(self, prefix: str) -> dict[str, str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return {str(k): str(v) for k, v in self._run(
            "SELECT key, value FROM meta WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (escaped + "%",))}

    def list_scopes(self, prefix: str, limit: int, *, at: float | None = None) -> dict[str, list[ScopeSummary]]:
        out: dict[str, list[ScopeSummary]] = {}
        now = -math.inf if at is None else float(at)  # no time given: nothing has expired
        for field in ("user_id", "agent_id", "run_id"):  # each an index range scan over memories_<field>_scope
            where, params = _starts_with(field, prefix)
            rows = self._run(
                f"SELECT {field}, SUM(valid_to IS NULL AND (expires_at IS NULL OR expires_at > ?)), "
                f"SUM(valid_to IS NOT NULL), MIN(valid_from), MAX(updated_at), SUM(valid_to IS NULL AND coalesce(expires_at <= ?, 0)) "
                f"FROM memories WHERE {where} GROUP BY {field} ORDER BY {field} LIMIT ?", [now, now, *params, int(limit)])
            out[field] = [ScopeSummary(str(r[0]), int(r[1]), int(r[2]), iso(r[3]), iso(r[4]), int(r[5])) for r in rows]
        return out

    def scope_ids(self, prefix: str) -> dict[str, list[str]]:
        """The distinct user, agent and run ids starting with ``prefix`` (non-empty) anywhere in the store:
        memories, history, raw messages and the graph outbox (a server tenant's scopes, to forget them)."""
        if not prefix:
            raise ValueError("scope_ids needs a non-empty prefix")
        out: dict[str, list[str]] = {}
        for field in ("user_id", "agent_id", "run_id"):
            found: set[str] = set()
            where, params = _starts_with(field, prefix)
            for table in ("memories", "history", "messages", "graph_log"):
                found.update(str(r[0]) for r in self._run(f"SELECT DISTINCT {field} FROM {table} WHERE {where}", params))
            out[field] = sorted(found)
        return out

    # -- several processes ----------------------------------------------------------------------
    @contextmanager
    def hold(self, name: str, *, wait_s: float = 0.0) -> Iterator[bool]:
        """An exclusive flock on ``<db>.<name>.lock`` (the kernel drops it when the holder dies); within this
        process only for an in-memory store, or where flock does not exist."""
        if self.path == ":memory:" or fcntl is None:
            lock = self._holds.setdefault(name, threading.Lock())
            got = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    lock.release()
            return
        fd = os.open(f"{self.path}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock", os.O_RDWR | os.O_CREAT, 0o600)

        def flock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            if not acquired(flock, wait_s):
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """No signal to wait for: every reader of a SQLite store catches up before it reads."""
        return lambda: None

    # -- upkeep ---------------------------------------------------------------------------------
    def compact(self) -> None:
        """Fold the WAL back into the database file and flush to disk: with secure_delete on and the
        full-text index merged by the forget itself, forgotten text is then gone from the files."""
        if self.path != ":memory:":
            with self._db.writing() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with contextlib.suppress(OSError):
                os.sync()

    def merge_text_index(self, pages: int) -> bool:
        """FTS5 writes each transaction's terms as a new b-tree (segment) and merges them only in groups, so a
        term is looked up in every segment left (9 after a 100k import: lexical search 1.7x slower than in
        one). FTS5's incremental 'merge' with a negative size merges all segments, ``pages`` pages a call."""
        with self.transaction() as tx:
            return tx.merge_text_index(pages)

    def close(self) -> None:
        self.closed = True
        self._db.close()


def _read_log(conn: sqlite3.Connection, log: LogName, after: int, limit: int | None) -> list[LogEntry]:
    tail = "" if limit is None else f" LIMIT {int(limit)}"
    if log == "vectors":
        return [LogEntry(int(s), rid=int(r), op=str(o)) for s, r, o in conn.execute(
            f"SELECT seq, rid, op FROM vector_log WHERE seq > ? ORDER BY seq{tail}", (after,)).fetchall()]
    return [
        LogEntry(int(s), op=str(o), payload=json.loads(p), scope=Scope(u, a, r))
        for s, u, a, r, o, p in conn.execute(
            f"SELECT seq, user_id, agent_id, run_id, op, payload FROM graph_log WHERE seq > ? ORDER BY seq{tail}",
            (after,)).fetchall()
    ]


def _starts_with(column: str, prefix: str) -> tuple[str, list[Any]]:
    """A WHERE condition (and its parameters) for the values of ``column`` that start with ``prefix`` ("":
    any value): an index range [prefix, next) where one exists, unlike LIKE (no escaping, case-exact)."""
    if not prefix:
        return f"{column} IS NOT NULL", []
    following = ord(prefix[-1]) + 1
    if following > 0x10FFFF:  # no character sorts after it: compare the leading characters instead
        return f"substr({column}, 1, ?) = ?", [len(prefix), prefix]
    high = prefix[:-1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)
    return f"{column} >= ? AND {column} < ?", [prefix, high]
