"""The write verbs of one PostgreSQL transaction (see ``storage.base.Tx``).

Sequence order is commit order, by construction. Each change log has a row in ``log_clock`` holding its
head. A transaction takes its log positions by bumping that row, and the row's lock stays with it until it
commits: a second writer waits there, so it gets higher positions AND commits later. PostgreSQL makes a
commit visible before it releases its locks, so every position below a visible one is visible too (or was
rolled back, taking its clock bump with it: positions stay gapless). A reader that has seen position N can
therefore never be handed a lower one later — no entry that committed "late" is skipped, and no horizon
bookkeeping is needed. (The alternative, ordering by xid and reading only below the oldest running
transaction, stalls every reader behind any long transaction.)

The lock is held only for the end of a transaction: vector-log entries are buffered and appended in one
statement just before COMMIT; graph-outbox entries are appended when logged (their position is returned),
which is why a transaction logs its graph entries after its other writes. Locks are always taken in one
order — the forget lock (shared), scope locks, rows, the graph clock, the vectors clock — so these writers
cannot deadlock each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from ...types import Scope
from ..base import GRAPH_EPOCH_KEY, HistoryEntry, NewMemory, NewMessage, Selection, StoredMemory
from ..memory_rows import COLUMNS, group_by_scope_and_hash, memory_from_row
from ..sqlreads import SQLReads
from . import codec, locks, sql
from .rows import chunks

_INSERT_MEMORIES = """
WITH src AS MATERIALIZED (
    SELECT nextval('memories_rid_seq') AS rid, t.*
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::text[], %b::bytea[], %s::float8[])
         WITH ORDINALITY AS t(id, user_id, agent_id, run_id, text, hash, attribute, metadata, meta, created_at,
                              updated_at, expires_at, speaker, embedding, ttl, ord)
), ins AS (
    INSERT INTO memories (rid, id, user_id, agent_id, run_id, text, hash, attribute, metadata, meta, created_at,
                          updated_at, valid_from, expires_at, speaker, embedding, ttl)
    SELECT rid, id, user_id, agent_id, run_id, text, hash, attribute, metadata, meta::jsonb, created_at,
           COALESCE(updated_at, created_at), created_at, expires_at, speaker, embedding, ttl FROM src
)
SELECT rid FROM src ORDER BY ord
"""

_INSERT_MESSAGES = """
WITH src AS MATERIALIZED (
    SELECT nextval('messages_id_seq') AS id, t.*
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[])
         WITH ORDINALITY AS t(user_id, agent_id, run_id, role, name, content, created_at, ord)
), ins AS (
    INSERT INTO messages (id, user_id, agent_id, run_id, role, name, content, created_at)
    SELECT id, user_id, agent_id, run_id, role, name, content, created_at FROM src
)
SELECT id FROM src ORDER BY ord
"""

_INSERT_HISTORY = """
WITH src AS MATERIALIZED (
    SELECT nextval('history_seq_seq') AS seq, t.*
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::text[], %s::text[])
         WITH ORDINALITY AS t(memory_id, event, old_memory, new_memory, created_at, user_id, agent_id, run_id,
                              actor, message_ids, reason, ord)
)
INSERT INTO history (seq, memory_id, event, old_memory, new_memory, created_at, user_id, agent_id, run_id, actor,
                     message_ids, reason)
SELECT seq, memory_id, event, old_memory, new_memory, created_at, user_id, agent_id, run_id, actor,
       message_ids::bigint[], reason FROM src
"""

_APPEND_VECTORS = """
WITH c AS (UPDATE log_clock SET pos = pos + %s WHERE log = 'vectors' RETURNING pos, pg_notify(%s, 'vectors'))
INSERT INTO vector_log (seq, rid, op)
SELECT c.pos - %s + t.ord, t.rid, t.op FROM c, unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS t(rid, op, ord)
"""

_APPEND_GRAPH = """
WITH c AS (UPDATE log_clock SET pos = pos + 1 WHERE log = 'graph' RETURNING pos, pg_notify(%s, 'graph'))
INSERT INTO graph_log (seq, user_id, agent_id, run_id, op, payload) SELECT c.pos, %s, %s, %s, %s, %s FROM c
RETURNING seq
"""


class PostgresTx(SQLReads):
    """One connection inside one READ COMMITTED transaction."""

    dialect = sql.DIALECT

    def __init__(self, conn: Any, schema: str, channel: str) -> None:
        self.conn = conn
        self.schema = schema
        self.channel = channel
        self._vector_log: list[tuple[int, str]] = []
        self._forget_shared = False

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(text, params)

    def _run(self, text: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor(binary=binary).execute(text, params)
        return cur.fetchall() if cur.description is not None else []

    # -- locks ----------------------------------------------------------------------------------
    def lock_scope(self, scope: Scope) -> None:
        """A transaction-scoped advisory lock on exactly ``scope`` (across processes and hosts), after the
        forget lock in shared mode (a forget waits for the scope writers in flight, and they for it)."""
        key = locks.scope_key(self.schema, scope)
        if self._forget_shared:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (key,))
            return
        ns, forget = locks.named(self.schema, locks.FORGET)
        self.conn.execute("SELECT pg_advisory_xact_lock_shared(%s, %s), pg_advisory_xact_lock(%s::bigint)",
                          (ns, forget, key))
        self._forget_shared = True

    def _lock_forget(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", locks.named(self.schema, locks.FORGET))

    # -- meta -----------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          (key, value))

    def delete_meta(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = %s", (key,))

    # -- reads inside the transaction -------------------------------------------------------------
    def current(self, memory_id: str) -> StoredMemory | None:
        """The memory, its row locked until this transaction ends (a concurrent change of it waits)."""
        row = self.conn.execute(f"SELECT {COLUMNS} FROM memories WHERE id = %s FOR UPDATE", (memory_id,)).fetchone()
        return None if row is None else memory_from_row(row)

    def log_head(self, log: str) -> int:
        row = self.conn.execute("SELECT pos FROM log_clock WHERE log = %s", (log,)).fetchone()
        return 0 if row is None else int(row[0])

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        return current_by_hash(self.conn, scopes, hashes, at)

    def expired(self, before: float, limit: int, within: Selection | None = None) -> list[StoredMemory]:
        """Locked (``FOR UPDATE``); rows another sweeper holds are skipped, so concurrent sweepers take
        different batches, and a row one of them deleted meanwhile is simply not returned."""
        cond, params = "expires_at <= %s", [before]
        if within is not None:
            w_sql, w_params = sql.where(replace(within, include_expired=True))  # its scope and filters only
            cond, params = f"{cond} AND {w_sql}", [*params, *w_params]
        rows = self.conn.execute(
            f"SELECT {COLUMNS} FROM memories WHERE {cond} ORDER BY expires_at, rid LIMIT %s FOR UPDATE SKIP LOCKED",
            [*params, int(limit)],
        ).fetchall()
        return [memory_from_row(r) for r in rows]

    # -- writes ---------------------------------------------------------------------------------
    def insert_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        ids: list[int] = []
        for chunk in chunks(list(messages), 2_000):
            cols = _columns([(m.scope.user_id, m.scope.agent_id, m.scope.run_id, m.role, m.name, m.content, m.at)
                             for m in chunk], 7)
            ids += [int(r[0]) for r in self.conn.execute(_INSERT_MESSAGES, cols).fetchall()]
        return ids

    def insert_memories(self, memories: Sequence[NewMemory]) -> list[int]:
        rids: list[int] = []
        for chunk in chunks(list(memories), 2_000):
            cols = _columns([
                (m.id, m.scope.user_id, m.scope.agent_id, m.scope.run_id, m.text, m.hash, m.attribute,
                 json.dumps(m.metadata or {}), codec.filter_json(m.metadata or {}), m.created_at, m.updated_at,
                 m.expires_at, m.speaker, np.ascontiguousarray(m.embedding, dtype=np.float32).tobytes(), m.ttl)
                for m in chunk], 15)
            rids += [int(r[0]) for r in self.conn.execute(_INSERT_MEMORIES, cols).fetchall()]
        self._vector_log += [(rid, "add") for rid in rids]
        return rids

    def rewrite(
        self, rid: int, text: str, text_hash: str, embedding: np.ndarray, at: float, *,
        metadata: dict[str, Any] | None = None, attribute: str | None = None, speaker: str | None = None,
    ) -> None:
        self.conn.execute(
            "UPDATE memories SET text = %s, hash = %s, embedding = %s, updated_at = %s, "
            "metadata = COALESCE(%s, metadata), meta = COALESCE(%s::jsonb, meta), attribute = COALESCE(%s, attribute), "
            "speaker = COALESCE(%s, speaker) WHERE rid = %s",
            (text, text_hash, np.ascontiguousarray(embedding, dtype=np.float32).tobytes(), at,
             None if metadata is None else json.dumps(metadata),
             None if metadata is None else codec.filter_json(metadata), attribute, speaker, rid),
        )
        self._vector_log += [(rid, "del"), (rid, "add")]

    def close(self, memory_id: str, at: float, superseded_by: str | None) -> None:
        self.conn.execute("UPDATE memories SET valid_to = %s, updated_at = %s, superseded_by = %s WHERE id = %s",
                          (at, at, superseded_by, memory_id))

    def delete(self, memory_id: str) -> StoredMemory | None:
        memory = self.current(memory_id)
        if memory is None:
            return None
        self.conn.execute("DELETE FROM memories WHERE rid = %s", (memory.rid,))
        self._vector_log.append((memory.rid, "del"))
        return memory

    def delete_many(self, memory_ids: Sequence[str]) -> list[str]:
        """The rows are locked in rid order first (one lock order for every writer), then deleted; ids that are
        gone (or were deleted by a concurrent transaction meanwhile) are not returned."""
        wanted = list(dict.fromkeys(memory_ids))
        found: set[str] = set()
        for chunk in chunks(wanted):
            rows = self.conn.execute(
                "WITH locked AS (SELECT rid FROM memories WHERE id = ANY(%s::text[]) ORDER BY rid FOR UPDATE) "
                "DELETE FROM memories m USING locked WHERE m.rid = locked.rid RETURNING m.id, m.rid", (chunk,),
            ).fetchall()
            self._vector_log += [(int(r[1]), "del") for r in sorted(rows, key=lambda r: int(r[1]))]
            found.update(str(r[0]) for r in rows)
        return [mid for mid in wanted if mid in found]

    def set_expiry(self, memory_id: str, expires_at: float | None, ttl: float | None) -> None:
        self.conn.execute("UPDATE memories SET expires_at = %s, ttl = %s WHERE id = %s", (expires_at, ttl, memory_id))

    def reinforce(self, counts: Mapping[int, int], at: float, *, kind: Literal["recall", "restate"]) -> None:
        column = {"recall": "recalls", "restate": "restated"}[kind]
        pairs = sorted((int(rid), int(n)) for rid, n in counts.items() if n > 0)
        for chunk in chunks(pairs):
            self.conn.execute(
                "WITH t AS (SELECT * FROM unnest(%s::bigint[], %s::int[]) AS t(rid, n)), "
                "locked AS (SELECT m.rid, t.n FROM memories m JOIN t ON m.rid = t.rid ORDER BY m.rid FOR UPDATE OF m) "
                f"UPDATE memories m SET {column} = m.{column} + locked.n, "
                "seen_at = GREATEST(COALESCE(m.seen_at, %s), %s) FROM locked WHERE m.rid = locked.rid",
                ([p[0] for p in chunk], [p[1] for p in chunk], at, at),
            )

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        for chunk in chunks(list(entries), 2_000):
            self.conn.execute(_INSERT_HISTORY, _columns([
                (e.memory_id, e.event, e.old, e.new, e.at, e.scope.user_id, e.scope.agent_id, e.scope.run_id, e.actor,
                 "{" + ",".join(str(int(i)) for i in e.message_ids) + "}", e.reason) for e in chunk], 11))

    def log_graph(self, scope: Scope, op: str, payload: dict[str, Any]) -> int:
        """Appended now, with its position: the graph clock stays locked until this transaction ends."""
        row = self.conn.execute(_APPEND_GRAPH, (self.channel, scope.user_id, scope.agent_id, scope.run_id, op,
                                                json.dumps(payload))).fetchone()
        return int(row[0])

    def forget_scope(self, scope: Scope) -> int:
        self._lock_forget()
        where, params = sql.scope_clause(scope)
        rows = self.conn.execute(f"DELETE FROM memories WHERE {where} RETURNING rid, id", params).fetchall()
        self._vector_log += [(int(r[0]), "del") for r in rows]
        for chunk in chunks([r[1] for r in rows]):
            self.conn.execute("DELETE FROM history WHERE memory_id = ANY(%s::text[])", (chunk,))
        for table in ("history", "messages", "graph_log"):
            self.conn.execute(f"DELETE FROM {table} WHERE {where}", params)
        self._forgotten()
        return len(rows)

    def reset(self) -> int:
        self._lock_forget()
        rids = [int(r[0]) for r in self.conn.execute("DELETE FROM memories RETURNING rid").fetchall()]
        for table in ("history", "messages", "graph_log"):
            self.conn.execute(f"DELETE FROM {table}")
        self._vector_log += [(rid, "del") for rid in rids]
        self._forgotten()
        return len(rids)

    def _forgotten(self) -> None:
        """Tell every graph built from this store that outbox entries were forgotten (see projections.graph)."""
        self.conn.execute(
            "INSERT INTO meta VALUES (%s, '1') ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text",
            (GRAPH_EPOCH_KEY,),
        )

    # -- commit -----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Append the buffered vector-log entries (taking the vectors clock); called right before COMMIT."""
        for chunk in chunks(self._vector_log, 50_000):
            n = len(chunk)
            self.conn.execute(_APPEND_VECTORS, (n, self.channel, n, [r for r, _ in chunk], [op for _, op in chunk]))
        self._vector_log = []


def current_by_hash(
    conn: Any, scopes: Sequence[Scope], hashes: Sequence[str], at: float | None = None
) -> dict[Scope, dict[str, list[StoredMemory]]]:
    """Current memories (not expired by ``at`` when given) of exactly each of ``scopes`` whose text hash is one
    of ``hashes``."""
    wanted = set(scopes)
    out: dict[Scope, dict[str, list[StoredMemory]]] = {}
    valid, v_params = sql.current(at)
    for chunk in chunks(sorted(set(hashes))):
        rows = conn.execute(f"SELECT {COLUMNS} FROM memories WHERE hash = ANY(%s::text[]) AND {valid}",
                            (chunk, *v_params)).fetchall()
        group_by_scope_and_hash(rows, wanted, out)
    return out


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Row tuples as one list per column (the arrays an ``unnest`` insert takes)."""
    return [[r[i] for r in rows] for i in range(width)] if rows else [[] for _ in range(width)]
