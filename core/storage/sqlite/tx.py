"""The write verbs of one SQLite transaction (see ``storage.base.Tx``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from ...types import Scope
from ..base import (
    GRAPH_EPOCH_KEY,
    HistoryEntry,
    NewMemory,
    NewMessage,
    Selection,
    StoredMemory,
    is_transcript,
)
from ..memory_rows import COLUMNS, memory_from_row
from ..sqlreads import SQLReads
from . import sql
from .lexical import count_tokens
from .rows import chunks, current_by_hash
from .schema import FTS_INSERT


class SQLiteTx(SQLReads):
    """The connection inside one IMMEDIATE transaction (which already serialises every writer of the file)."""

    dialect = sql.DIALECT

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _run(self, text: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple[Any, ...]]:
        return self.conn.execute(text, params).fetchall()

    def execute(self, text: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(text, params)

    def lock_scope(self, scope: Scope) -> None:
        """Nothing to do: BEGIN IMMEDIATE holds the database's write lock already."""

    def delete_meta(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, value))

    # -- reads inside the transaction -------------------------------------------------------------
    def current(self, memory_id: str) -> StoredMemory | None:
        row = self.conn.execute(f"SELECT {COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
        return None if row is None else memory_from_row(row)

    def log_head(self, log: str) -> int:
        table = "vector_log" if log == "vectors" else "graph_log"
        return int(self.conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}").fetchone()[0])

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        return current_by_hash(self.conn, scopes, hashes, at)

    def expired(self, before: float, limit: int, within: Selection | None = None) -> list[StoredMemory]:
        cond, params = "expires_at <= ?", [before]
        if within is not None:
            w_sql, w_params = sql.where(replace(within, include_expired=True))  # its scope and filters only
            cond, params = f"{cond} AND {w_sql}", [*params, *w_params]
        rows = self.conn.execute(
            f"SELECT {COLUMNS} FROM memories WHERE {cond} ORDER BY expires_at, rid LIMIT ?", [*params, int(limit)],
        ).fetchall()
        return [memory_from_row(r) for r in rows]

    # -- writes ---------------------------------------------------------------------------------
    def _insert_rows(self, head: str, placeholders: str, rows: list[tuple[Any, ...]]) -> list[int]:
        """``head VALUES placeholders, placeholders, ...`` in multi-row statements (one statement per row cost
        ~2.5x as much); returns the new rowids. The rowids of one call are consecutive: AUTOINCREMENT under this
        transaction's write lock."""
        rids: list[int] = []
        if not rows:
            return rids
        per = max(1, min(500, _variable_limit(self.conn) // len(rows[0])))
        for chunk in chunks(rows, per):
            self.conn.execute(f"{head} VALUES " + ",".join([placeholders] * len(chunk)), [v for r in chunk for v in r])
            last = int(self.conn.execute("SELECT last_insert_rowid()").fetchone()[0])
            rids.extend(range(last - len(chunk) + 1, last + 1))
        return rids

    def insert_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        return self._insert_rows(
            "INSERT INTO messages (user_id, agent_id, run_id, role, name, content, created_at)", "(?,?,?,?,?,?,?)",
            [(m.scope.user_id, m.scope.agent_id, m.scope.run_id, m.role, m.name, m.content, m.at) for m in messages],
        )

    def insert_memories(self, memories: Sequence[NewMemory]) -> list[int]:
        tokens = count_tokens(self.conn, [m.text for m in memories])
        rids = self._insert_rows(
            "INSERT INTO memories (id, user_id, agent_id, run_id, text, hash, attribute, metadata, created_at, "
            "updated_at, valid_from, valid_to, embedding, expires_at, speaker, ttl, transcript, tokens)",
            "(?,?,?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?,?)",
            [(m.id, m.scope.user_id, m.scope.agent_id, m.scope.run_id, m.text, m.hash, m.attribute,
              json.dumps(m.metadata or {}), m.created_at,
              m.created_at if m.updated_at is None else m.updated_at, m.created_at,
              np.ascontiguousarray(m.embedding, dtype=np.float32).tobytes(), m.expires_at, m.speaker, m.ttl,
              int(is_transcript(m.metadata)), n)
             for m, n in zip(memories, tokens, strict=True)],
        )
        self.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'add')", [(rid,) for rid in rids])
        if rids:  # the full-text index, in key order: FTS5 flushes its pending terms whenever a key is not above
            # the last one, and rows of many users in row-id order would flush once per row
            users = sorted({m.scope.user_id for m in memories if m.scope.user_id is not None})
            self.conn.executemany("INSERT OR IGNORE INTO fts_users(user_id) VALUES (?)", [(u,) for u in users])
            self.conn.execute(FTS_INSERT, (rids[0], rids[-1]))
        return rids

    def rewrite(
        self, rid: int, text: str, text_hash: str, embedding: np.ndarray, at: float, *,
        metadata: dict[str, Any] | None = None, attribute: str | None = None, speaker: str | None = None,
    ) -> None:
        self.conn.execute(
            "UPDATE memories SET text = ?, hash = ?, embedding = ?, updated_at = ?, tokens = ?, "
            "metadata = COALESCE(?, metadata), transcript = COALESCE(?, transcript), attribute = COALESCE(?, attribute), "
            "speaker = COALESCE(?, speaker) WHERE rid = ?",
            (text, text_hash, np.ascontiguousarray(embedding, dtype=np.float32).tobytes(), at,
             count_tokens(self.conn, [text])[0],
             None if metadata is None else json.dumps(metadata), None if metadata is None else int(is_transcript(metadata)),
             attribute, speaker, rid),
        )
        self.conn.execute("INSERT INTO vector_log (rid, op) VALUES (?, 'del'), (?, 'add')", (rid, rid))

    def close(self, memory_id: str, at: float, superseded_by: str | None) -> None:
        self.conn.execute("UPDATE memories SET valid_to = ?, updated_at = ?, superseded_by = ? WHERE id = ?",
                          (at, at, superseded_by, memory_id))

    def delete(self, memory_id: str) -> StoredMemory | None:
        memory = self.current(memory_id)
        if memory is None:
            return None
        self.conn.execute("DELETE FROM memories WHERE rid = ?", (memory.rid,))
        self.conn.execute("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", (memory.rid,))
        return memory

    def delete_many(self, memory_ids: Sequence[str]) -> list[str]:
        """One DELETE per 500 ids: the full-text index's delete trigger costs half as much per row as with one
        statement per row."""
        found: dict[str, int] = {}
        for chunk in chunks(list(dict.fromkeys(memory_ids)), 500):
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT id, rid FROM memories WHERE id IN ({marks})", chunk).fetchall()
            rids = [int(r[1]) for r in rows]
            if rids:
                self.conn.execute(f"DELETE FROM memories WHERE rid IN ({','.join('?' * len(rids))})", rids)
                self.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", [(r,) for r in rids])
            found.update({str(r[0]): int(r[1]) for r in rows})
        return [mid for mid in dict.fromkeys(memory_ids) if mid in found]

    def set_expiry(self, memory_id: str, expires_at: float | None, ttl: float | None) -> None:
        self.conn.execute("UPDATE memories SET expires_at = ?, ttl = ? WHERE id = ?", (expires_at, ttl, memory_id))

    def reinforce(self, counts: Mapping[int, int], at: float, *, kind: Literal["recall", "restate"]) -> None:
        column = {"recall": "recalls", "restate": "restated"}[kind]
        self.conn.executemany(  # by row id, in row order: a batch walks the table once (no lookup by public id)
            f"UPDATE memories SET {column} = {column} + ?, seen_at = MAX(COALESCE(seen_at, ?), ?) WHERE rid = ?",
            [(int(n), at, at, int(rid)) for rid, n in sorted(counts.items()) if n > 0],
        )

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        self.conn.executemany(
            "INSERT INTO history (memory_id, event, old_memory, new_memory, created_at, user_id, agent_id, run_id, "
            "actor, message_ids, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(e.memory_id, e.event, e.old, e.new, e.at, e.scope.user_id, e.scope.agent_id, e.scope.run_id, e.actor,
              json.dumps(list(e.message_ids)), e.reason) for e in entries],
        )

    def log_graph(self, scope: Scope, op: str, payload: dict[str, Any]) -> int:
        cur = self.conn.execute(
            "INSERT INTO graph_log (user_id, agent_id, run_id, op, payload) VALUES (?,?,?,?,?)",
            (scope.user_id, scope.agent_id, scope.run_id, op, json.dumps(payload)),
        )
        return int(cur.lastrowid or 0)

    def forget_scope(self, scope: Scope) -> int:
        where, params = sql.scope_clause(scope)
        rows = self.conn.execute(f"SELECT rid, id FROM memories WHERE {where}", params).fetchall()
        self.conn.execute(f"DELETE FROM memories WHERE {where}", params)
        where, params = sql.scope_clause(scope, lead=False)  # (history, messages and the log index the user)
        self.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", [(r[0],) for r in rows])
        for chunk in chunks([r[1] for r in rows]):
            self.conn.execute(f"DELETE FROM history WHERE memory_id IN ({','.join('?' * len(chunk))})", chunk)
        for table in ("history", "messages", "graph_log"):
            self.conn.execute(f"DELETE FROM {table} WHERE {where}", params)
        # a user left without memories leaves the full-text index's user numbering too
        self.conn.execute("DELETE FROM fts_users WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.user_id = "
                          "fts_users.user_id)")
        self._forgotten()
        return len(rows)

    def reset(self) -> int:
        rids = [r[0] for r in self.conn.execute("SELECT rid FROM memories").fetchall()]
        for table in ("memories", "history", "messages", "graph_log", "fts_users"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", [(r,) for r in rids])
        self._forgotten()
        return len(rids)

    def merge_text_index(self, pages: int) -> bool:
        """One slice of FTS5's incremental merge of all segments (see SQLiteStore.merge_text_index); FTS5
        changes at most one row when there was nothing to merge."""
        before = self.conn.total_changes
        self.conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('merge', ?)", (-max(1, int(pages)),))
        return self.conn.total_changes - before >= 2

    def _forgotten(self) -> None:
        """FTS5 records a deletion as a marker in a new segment; the forgotten terms stay in the old segments
        until they are merged: merge them all now (secure_delete then overwrites the freed pages). And tell
        every graph built from this store that outbox entries were forgotten (see projections.graph)."""
        self.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)", (GRAPH_EPOCH_KEY,),
        )


def _variable_limit(conn: sqlite3.Connection) -> int:
    getlimit = getattr(conn, "getlimit", None)  # Python 3.11+
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) if getlimit else 999
