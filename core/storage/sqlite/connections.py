"""How one process talks to a SQLite file: a writing connection and, for a file, a reading one.

Each connection is shared by every thread under its own lock. Writes take turns on the writing connection
(IMMEDIATE transactions: the file's write lock is taken at BEGIN, so across processes too). Reads use the
reading connection and see the last commit (WAL), so a read never waits behind a write transaction, of this
process or of another one holding the file's write lock. A thread inside a write transaction reads on the
writing connection: it sees its own changes. ``:memory:`` has one connection, for both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ...errors import StoreError
from . import lexical as lex
from .rows import store_errors

MMAP_SIZE = 268_435_456  # reads of the first 256 MiB through a map: no pread per page
FAILED = "the memlayer database failed"


class Connections:
    def __init__(self, path: str, busy_timeout_s: float) -> None:
        self.path = path
        self._busy_ms = int(busy_timeout_s * 1000)
        self._write_lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._writing = threading.local()  # .depth: this thread's write transactions open
        self.reader: sqlite3.Connection | None = None
        self.writer = _connect(path, busy_timeout_s)
        try:
            with store_errors(f"cannot open the memlayer database at {path!r}"):
                c = self.writer
                c.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                if path != ":memory:":
                    c.execute("PRAGMA journal_mode = WAL")
                c.execute("PRAGMA synchronous = NORMAL" if path == ":memory:" else "PRAGMA synchronous = FULL")
                c.execute("PRAGMA secure_delete = ON")  # forgotten data is overwritten, not left in free pages
                c.execute("PRAGMA foreign_keys = ON")
                c.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
        except BaseException:
            self.writer.close()
            raise

    def open_reader(self) -> None:
        """Open the reading connection (a file only), once the schema is in place; prepare both connections'
        temp-schema helpers."""
        with store_errors(f"cannot open the memlayer database at {self.path!r}"):
            lex.prepare(self.writer)
            if self.path == ":memory:":
                return
            reader = _connect(self.path, self._busy_ms / 1000)
            try:
                reader.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                reader.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
                lex.prepare(reader)
            except BaseException:
                reader.close()
                raise
            self.reader = reader

    def _depth(self) -> int:
        depth: int = getattr(self._writing, "depth", 0)
        return depth

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writing connection inside an IMMEDIATE transaction, committed when the block ends (rolled back
        when it raises)."""
        with self._write_lock, store_errors(FAILED):
            conn = self.writer
            conn.execute("BEGIN IMMEDIATE")
            self._writing.depth = self._depth() + 1
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._writing.depth -= 1

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The writing connection outside a transaction (a checkpoint)."""
        with self._write_lock, store_errors(FAILED):
            yield self.writer

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The reading connection, under its lock (the writing one inside this thread's write transaction,
        and for ``:memory:``)."""
        if self.reader is None or self._depth():
            with self._write_lock, store_errors(FAILED):
                yield self.writer
        else:
            with self._read_lock, store_errors(FAILED):
                yield self.reader

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every read inside sees the same committed state (inside this thread's write
        transaction: that transaction's state)."""
        with self.reading() as conn:
            nested = conn.in_transaction
            if not nested:
                conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if not nested and conn.in_transaction:
                    conn.execute("COMMIT")

    def close(self) -> None:
        with self._read_lock, self._write_lock:  # the order a scan that writes takes them in
            if self.reader is not None:
                self.reader.close()  # first: a checkpoint that truncates the WAL waits for no reader
            try:
                if self.path != ":memory:":
                    self.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self.writer.close()


def _connect(path: str, busy_timeout_s: float) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the memlayer database at {path!r}: {exc}") from exc
