"""Changing and forgetting by id or by scope: update one memory, delete one, forget a scope, reset."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np

from ..engine import Engine
from ..errors import NotCurrentError, NotFoundError
from ..records import ChangeRecord
from ..retention import POLICY_PREFIX, Lifetime
from ..storage.base import GRAPH_EPOCH_KEY, HistoryEntry, StoredMemory
from ..types import Scope, iso
from .plan import said_by, text_hash
from .retention import forget_policies


def owned(memory: StoredMemory | None, memory_id: str, scope: Scope | None) -> StoredMemory:
    """The memory, if it exists and lies in ``scope`` (each field given must match); otherwise the same
    NotFoundError as for a missing id, so an id of another scope reveals nothing."""
    if memory is None or (scope is not None and any(
            v is not None and getattr(memory, k) != v for k, v in scope.as_dict().items())):
        raise NotFoundError(f"no memory with id {memory_id!r}" + ("" if scope is None else " in this scope"))
    return memory


def current(memory: StoredMemory, now: float) -> StoredMemory:
    """The memory, if it is still current; a closed or expired one is a NotCurrentError saying which, and what
    to do instead (its validity interval is the record of when it held: changing it would rewrite the past)."""
    if memory.valid_to is not None:
        instead = (f"update {memory.superseded_by!r}, the memory that replaced it" if memory.superseded_by
                   else "add() the fact again as a new memory")
        raise NotCurrentError(f"memory {memory.id!r} was closed at {memory.valid_to} and is kept only as history; "
                              f"only a current memory can be updated: {instead}")
    if memory.expired(now):
        raise NotCurrentError(
            f"memory {memory.id!r} expired at {memory.expires_at} and stays only until a sweep forgets it; only a "
            "current memory can be updated: add() the fact again (with a ttl= or expires_at=) as a new memory")
    return memory


def update_one(
    engine: Engine, memory_id: str, text: str | None, metadata: dict[str, Any] | None, vector: np.ndarray | None,
    scope: Scope | None, lifetime: Lifetime | None, now: float,
) -> ChangeRecord:
    """Rewrite a current memory's text (and metadata), and/or set when it lapses (a TTL counts from ``now``, the
    time the caller checked the lifetime against)."""
    with engine.store.transaction() as tx:
        row = current(owned(tx.current(memory_id), memory_id, scope), now)
        if text is not None:
            assert vector is not None
            tx.rewrite(row.rid, text, text_hash(text), vector, now, metadata=metadata, speaker=said_by(metadata))
        reason = None
        if lifetime is not None:
            end = lifetime.end(now)
            tx.set_expiry(memory_id, end, lifetime.kept_ttl)
            reason = f"expires at {iso(end)}" if end is not None else "never expires"
        tx.add_history([HistoryEntry(memory_id, "UPDATE", row.memory, row.memory if text is None else text, now,
                                     _scope_of(row), reason=reason)])
    if text is not None:
        engine.vectors.catch_up({row.rid: vector})  # type: ignore[dict-item]
    return ChangeRecord(memory_id, "UPDATE", row.memory if text is None else text, previous_memory=row.memory)


def delete_one(engine: Engine, memory_id: str, scope: Scope | None) -> None:
    """Remove a memory and its vector now; its history records the deletion."""
    now = engine.clock.now().timestamp()
    with engine.store.transaction() as tx:
        row = owned(tx.current(memory_id), memory_id, scope)
        tx.delete(memory_id)
        tx.add_history([HistoryEntry(memory_id, "DELETE", row.memory, None, now, _scope_of(row))])
        if engine.graph is not None:
            tx.log_graph(_scope_of(row), "forget_memory", {"memory_id": memory_id})
    engine.vectors.catch_up()


def forget(engine: Engine, scope: Scope | None) -> int:
    """Remove every trace of a scope (None: of everything) from the store, the vector index and the graph, its
    retention policies included; returns the number of memories removed."""
    policies = engine.store.meta_items(POLICY_PREFIX)
    with engine.graph.forgetting(scope) if engine.graph is not None else nullcontext(), \
            engine.store.transaction() as tx:  # a shared graph drops the scope first, and holds its applier lock
        count = tx.reset() if scope is None else tx.forget_scope(scope)
        forget_policies(tx, policies, scope)
        epoch = tx.get_meta(GRAPH_EPOCH_KEY)
    if engine.graph is not None:
        engine.graph.forgotten(scope, epoch)
    engine.vectors.catch_up()
    engine.vectors.snapshot(forgetting=True)  # older snapshot files, this process's or another's, held them
    _checkpoint(engine)
    return count


def _checkpoint(engine: Engine) -> None:
    """Make the forgotten bytes unrecoverable from the store's and the graph's files."""
    engine.store.compact()
    if engine.graph is not None:
        engine.graph.compact()


def _scope_of(memory: StoredMemory) -> Scope:
    return Scope(memory.user_id, memory.agent_id, memory.run_id)
