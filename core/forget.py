"""Deleting and forgetting: one memory, a whole scope, or the whole store."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError
from .graph.sync import EPOCH_KEY
from .storage.sqlite import scope_clause
from .types import Scope, utcnow

if TYPE_CHECKING:
    from .memory import AsyncMemory


def delete_one(mem: AsyncMemory, memory_id: str) -> None:
    now = utcnow().timestamp()
    with mem.store.transaction() as tx:
        row = tx.current_row(memory_id)
        if row is None:
            raise NotFoundError(f"no memory with id {memory_id!r}")
        scope = Scope(row["user_id"], row["agent_id"], row["run_id"])
        tx.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
        tx.execute("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", (row["rid"],))
        tx.history([(memory_id, "DELETE", row["text"], None, now, *scope.as_dict().values(), None, "[]")])
        if mem.graph_sync is not None:
            tx.log_graph(scope, "forget_memory", {"memory_id": memory_id})


def forget_scope(mem: AsyncMemory, scope: Scope) -> int:
    """Remove every trace of a scope from SQLite, the vector index and the graph."""
    where, params = scope_clause(scope)
    with mem.store.transaction() as tx:
        rids = [r[0] for r in tx.execute(f"SELECT rid FROM memories WHERE {where}", params).fetchall()]
        ids = [r[0] for r in tx.execute(f"SELECT id FROM memories WHERE {where}", params).fetchall()]
        tx.execute(f"DELETE FROM memories WHERE {where}", params)
        tx.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", [(r,) for r in rids])
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            tx.execute(f"DELETE FROM history WHERE memory_id IN ({','.join('?' * len(chunk))})", chunk)
        tx.execute(f"DELETE FROM history WHERE {where}", params)
        tx.execute(f"DELETE FROM messages WHERE {where}", params)
        tx.execute(f"DELETE FROM graph_log WHERE {where}", params)
        _purge_fts(tx)
        epoch = _bump_graph_epoch(tx)
    if mem.graph_sync is not None:
        mem.graph_sync.forgotten(scope, epoch)
    mem.vectors.catch_up()
    mem.vectors.snapshot()  # the old snapshot file still held the forgotten vectors
    _checkpoint(mem)
    return len(ids)


def reset_all(mem: AsyncMemory) -> None:
    with mem.store.transaction() as tx:
        rids = [r[0] for r in tx.execute("SELECT rid FROM memories").fetchall()]
        for table in ("memories", "history", "messages", "graph_log"):
            tx.execute(f"DELETE FROM {table}")
        tx.conn.executemany("INSERT INTO vector_log (rid, op) VALUES (?, 'del')", [(r,) for r in rids])
        _purge_fts(tx)
        epoch = _bump_graph_epoch(tx)
    if mem.graph_sync is not None:
        mem.graph_sync.forgotten(None, epoch)
    mem.vectors.catch_up()
    mem.vectors.snapshot()
    _checkpoint(mem)


def _bump_graph_epoch(tx: Any) -> str:
    """Tell every graph built from this store (other instances, other processes, this one after a
    crash) that outbox entries were forgotten: such a graph is rebuilt (see graph/sync.py)."""
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)", (EPOCH_KEY,),
    )
    return str(tx.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()[0])


def _purge_fts(tx: Any) -> None:
    """FTS5 records a deletion as a marker in a new segment; the forgotten terms stay in the old
    segments until they are merged. Merge them all now so the terms are gone (secure_delete then
    overwrites the freed pages)."""
    tx.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")


def _checkpoint(mem: AsyncMemory) -> None:
    """Fold the WAL back into the database so deleted pages do not linger in the -wal file."""
    if mem.directory is None:
        return
    with contextlib.suppress(Exception):
        mem.store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    with contextlib.suppress(OSError):
        os.sync()
