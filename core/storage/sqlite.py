"""SQLite, the system of record. WAL mode, a busy timeout, and short IMMEDIATE write transactions.

Every public read goes through here; the FAISS index and the graph are derived from what is
committed in this file (see ``vector_log`` and ``graph_log``).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np

from ..errors import StoreError
from ..filters import compile_filters
from ..types import Scope, iso
from .schema import SCHEMA, SCHEMA_VERSION

_MEMORY_COLUMNS = (
    "rid, id, user_id, agent_id, run_id, text, hash, attribute, metadata, created_at, updated_at, "
    "valid_from, valid_to, superseded_by"
)


def scope_clause(scope: Scope, prefix: str = "") -> tuple[str, list[Any]]:
    parts, params = [], []
    for field, value in scope.as_dict().items():
        if value is not None:
            parts.append(f"{prefix}{field} = ?")
            params.append(value)
    return (" AND ".join(parts) or "1=1"), params


def validity_clause(as_of: datetime | None, include_expired: bool) -> tuple[str, list[Any]]:
    if include_expired:
        return "1=1", []
    if as_of is not None:
        t = as_of.timestamp()
        return "(valid_from <= ? AND (valid_to IS NULL OR valid_to > ?))", [t, t]
    return "valid_to IS NULL", []


_AT = {name: i for i, name in enumerate(_MEMORY_COLUMNS.split(", "))}  # column positions in those rows


def row_to_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A memory as the API returns it, from a row of ``SELECT {_MEMORY_COLUMNS}`` (a tuple or a Row)."""
    return {
        "id": row[_AT["id"]],
        "memory": row[_AT["text"]],
        "hash": row[_AT["hash"]],
        "metadata": json.loads(row[_AT["metadata"]]),
        "user_id": row[_AT["user_id"]],
        "agent_id": row[_AT["agent_id"]],
        "run_id": row[_AT["run_id"]],
        "attribute": row[_AT["attribute"]],
        "created_at": iso(row[_AT["created_at"]]),
        "updated_at": iso(row[_AT["updated_at"]]),
        "valid_from": iso(row[_AT["valid_from"]]),
        "valid_to": iso(row[_AT["valid_to"]]),
        "superseded_by": row[_AT["superseded_by"]],
    }


class SQLiteStore:
    """Thread-safe access to one memlayer database file (or ``:memory:``)."""

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the memlayer database at {path!r}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._setup(busy_timeout_s)
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, busy_timeout_s: float) -> None:
        path = self.path
        with self._lock, _store_errors(f"cannot open the memlayer database at {path!r}"):
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if path != ":memory:":
                c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL" if path == ":memory:" else "PRAGMA synchronous = FULL")
            c.execute("PRAGMA secure_delete = ON")  # forgotten data is overwritten, not left in free pages
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("PRAGMA mmap_size = 268435456")  # reads of the first 256 MiB through a map: no pread per page
            with self.transaction() as tx:
                tx.executescript_safe(SCHEMA)
                version = tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if version is None:
                    tx.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif int(version[0]) > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store at {path!r} was written by a newer memlayer (schema {version[0]}); upgrade memlayer"
                    )

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """An IMMEDIATE transaction: the write lock is taken at BEGIN, so it never deadlocks later."""
        with self._lock, _store_errors("the memlayer database failed"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._conn)
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, _store_errors("the memlayer database failed"):
            return self._conn.execute(sql, params).fetchall()

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Like :meth:`query` with plain tuples (several times faster to build than Rows)."""
        with self._lock, _store_errors("the memlayer database failed"):
            cur = self._conn.cursor()
            cur.row_factory = None
            return cur.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- reads --------------------------------------------------------------------------------
    def get(self, memory_id: str) -> dict[str, Any] | None:
        rows = self.query(f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,))
        return row_to_dict(rows[0]) if rows else None

    def get_by_rids(self, rids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(rids), 900):
            chunk = [int(r) for r in rids[start:start + 900]]
            marks = ",".join("?" * len(chunk))
            for row in self.query_tuples(f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE rid IN ({marks})", chunk):
                out[int(row[_AT["rid"]])] = row_to_dict(row)
        return out

    def where(
        self, scope: Scope, filters: dict[str, Any] | None, *, as_of: datetime | None = None,
        include_expired: bool = False,
    ) -> tuple[str, list[Any]]:
        s_sql, s_params = scope_clause(scope)
        v_sql, v_params = validity_clause(as_of, include_expired)
        f_sql, f_params = compile_filters(filters)
        return f"{s_sql} AND {v_sql} AND {f_sql}", [*s_params, *v_params, *f_params]

    def candidate_rids(self, where: str, params: Sequence[Any]) -> np.ndarray:
        rows = self.query_tuples(f"SELECT rid FROM memories WHERE {where}", params)  # tuples: 3-4x faster than Rows
        return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows))

    def list_memories(self, where: str, params: Sequence[Any], limit: int) -> list[dict[str, Any]]:
        rows = self.query(
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE {where} ORDER BY updated_at DESC, rid DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [row_to_dict(r) for r in rows]

    def current_by_attribute(self, scope: Scope, attributes: set[str]) -> list[dict[str, Any]]:
        if not attributes:
            return []
        s_sql, s_params = scope_clause(scope)
        marks = ",".join("?" * len(attributes))
        rows = self.query(
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE {s_sql} AND valid_to IS NULL AND attribute IN ({marks})",
            [*s_params, *sorted(attributes)],
        )
        return [row_to_dict(r) for r in rows]

    def current_hashes(self, scope: Scope, hashes: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Current memories of exactly this scope whose text hash is one of ``hashes``."""
        out: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start:start + 500])
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT {_MEMORY_COLUMNS} FROM memories INDEXED BY memories_hash WHERE hash IN ({marks}) AND valid_to IS NULL "
                "AND user_id IS ? AND agent_id IS ? AND run_id IS ?"
            )
            for row in self.query(sql, [*chunk, scope.user_id, scope.agent_id, scope.run_id]):
                out.setdefault(row["hash"], []).append(row_to_dict(row))
        return out

    def embeddings(self, rids: Sequence[int], dims: int) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(rids), 900):
            chunk = [int(r) for r in rids[start:start + 900]]
            marks = ",".join("?" * len(chunk))
            for rid, blob in self.query(f"SELECT rid, embedding FROM memories WHERE rid IN ({marks})", chunk):
                out[int(rid)] = np.frombuffer(blob, dtype=np.float32, count=dims)
        return out

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM history WHERE memory_id = ? ORDER BY seq", (memory_id,))
        out = []
        for r in rows:
            ids = json.loads(r["message_ids"])
            msgs = []
            if ids:
                marks = ",".join("?" * len(ids))
                msgs = [
                    {"role": m["role"], "content": m["content"], "name": m["name"], "created_at": iso(m["created_at"])}
                    for m in self.query(f"SELECT * FROM messages WHERE id IN ({marks}) ORDER BY id", ids)
                ]
            out.append({
                "id": r["seq"], "memory_id": r["memory_id"], "event": r["event"],
                "old_memory": r["old_memory"], "new_memory": r["new_memory"],
                "created_at": iso(r["created_at"]), "actor": r["actor"],
                "user_id": r["user_id"], "agent_id": r["agent_id"], "run_id": r["run_id"],
                "source_messages": msgs,
            })
        return out

    def max_seq(self, table: str) -> int:
        assert table in ("vector_log", "graph_log")
        return int(self.scalar(f"SELECT COALESCE(MAX(seq), 0) FROM {table}") or 0)

    def close(self) -> None:
        with self._lock:
            try:
                if self.path != ":memory:":
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._conn.close()

    @staticmethod
    def file_for(directory: str) -> str:
        return os.path.join(directory, "memlayer.db")


class _Tx:
    """The connection inside one write transaction, with the write helpers."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executescript_safe(self, script: str) -> None:
        # executescript would COMMIT; run statements one by one inside the open transaction
        for stmt in _split_sql(script):
            self.conn.execute(stmt)

    def _insert_rows(self, head: str, placeholders: str, rows: list[tuple[Any, ...]]) -> list[int]:
        """``head VALUES placeholders, placeholders, ...`` in multi-row statements; returns the new rowids.

        FTS5 (fed by the memories insert trigger) flushes its pending terms at the end of each statement,
        so one statement per row costs ~2.5x as much (benchmarks/ingest_bench.py). The rowids of one
        statement are consecutive: AUTOINCREMENT under this transaction's write lock."""
        rids: list[int] = []
        if not rows:
            return rids
        per = max(1, min(500, _variable_limit(self.conn) // len(rows[0])))
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            self.conn.execute(f"{head} VALUES " + ",".join([placeholders] * len(chunk)), [v for r in chunk for v in r])
            last = int(self.conn.execute("SELECT last_insert_rowid()").fetchone()[0])
            rids.extend(range(last - len(chunk) + 1, last + 1))
        return rids

    def insert_messages(self, scope: Scope, messages: Sequence[tuple[str, str, str | None]], now: float) -> list[int]:
        return self._insert_rows(
            "INSERT INTO messages (user_id, agent_id, run_id, role, name, content, created_at)", "(?,?,?,?,?,?,?)",
            [(scope.user_id, scope.agent_id, scope.run_id, role, name, content, now) for role, content, name in messages],
        )

    def insert_memories(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        rids = self._insert_rows(
            "INSERT INTO memories (id, user_id, agent_id, run_id, text, hash, attribute, metadata, created_at, "
            "updated_at, valid_from, valid_to, embedding)", "(?,?,?,?,?,?,?,?,?,?,?,NULL,?)",
            [(r["id"], r["user_id"], r["agent_id"], r["run_id"], r["text"], r["hash"], r.get("attribute"),
              json.dumps(r.get("metadata") or {}), r["created_at"], r["created_at"], r["created_at"],
              r["embedding"].tobytes()) for r in rows],
        )
        self.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'add')", [(rid,) for rid in rids])
        return rids

    def history(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """rows: (memory_id, event, old, new, created_at, user_id, agent_id, run_id, actor, message_ids_json)"""
        self.conn.executemany(
            "INSERT INTO history (memory_id, event, old_memory, new_memory, created_at, user_id, agent_id, run_id, "
            "actor, message_ids) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def rewrite(
        self, row: sqlite3.Row, text: str, text_hash: str, embedding: np.ndarray, when: float, *,
        metadata: dict[str, Any] | None = None, attribute: str | None = None,
    ) -> None:
        """Replace a memory's text and vector in place (metadata/attribute too, when given) and log the
        re-embedding for the vector index. History is the caller's: its source differs per caller."""
        self.conn.execute(
            "UPDATE memories SET text = ?, hash = ?, embedding = ?, updated_at = ?, "
            "metadata = COALESCE(?, metadata), attribute = COALESCE(?, attribute) WHERE rid = ?",
            (text, text_hash, embedding.tobytes(), when, None if metadata is None else json.dumps(metadata),
             attribute, row["rid"]),
        )
        self.conn.execute("INSERT INTO vector_log (rid, op) VALUES (?, 'del'), (?, 'add')", (row["rid"], row["rid"]))

    def current_row(self, memory_id: str) -> sqlite3.Row | None:
        return self.conn.execute(  # type: ignore[no-any-return]
            f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
        ).fetchone()

    def log_graph(self, scope: Scope, op: str, payload: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO graph_log (user_id, agent_id, run_id, op, payload) VALUES (?,?,?,?,?)",
            (scope.user_id, scope.agent_id, scope.run_id, op, json.dumps(payload)),
        )


def _variable_limit(conn: sqlite3.Connection) -> int:
    getlimit = getattr(conn, "getlimit", None)  # Python 3.11+
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) if getlimit else 999


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
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
        raise StoreError(f"{what}: {exc}{hint}") from exc


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped:
            continue
        buf.append(stripped)
        text = "\n".join(buf)
        if stripped.endswith(";") and (not text.lstrip().upper().startswith("CREATE TRIGGER") or stripped.upper() == "END;"):
            out.append(text)
            buf = []
    return out
