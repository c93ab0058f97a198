"""Sweeping: forget memories whose expiry is past the grace period, enforce budgets, write pending recalls,
merge the full-text index's recent writes (a slice per automatic sweep).

``sweep()`` runs on demand (``Memory.sweep()``, ``memlayer sweep``) and, throttled to one per
``retention.sweep_interval`` across every process sharing the store (the time of the last complete sweep is
in the store's meta), inside ``add()``/``bulk_add()``. Each batch is one transaction that reads what is due
inside it, so a crash leaves a batch done or not done, and two sweepers at once never forget a memory
twice or write two history entries for it: running it again only does what is left (idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from ..engine import Engine
from ..retention import LAST_SWEEP_KEY
from ..storage.base import HistoryEntry, Selection, StoredMemory
from ..types import iso
from .retention import enforce_budgets, scope_of

log = logging.getLogger("memlayer.sweep")
MERGE_SLICE = 1_000  # full-text index pages merged per write transaction (FTS5's own optimize step)


def _span(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"


def _reason(memory: StoredMemory, grace: float) -> str:
    if grace <= 0:
        return f"expired at {memory.expires_at}; forgotten by a sweep"
    return f"expired at {memory.expires_at}; forgotten after the grace period of {_span(grace)}"


def purge(engine: Engine, now: float, limit: int | None = None, *, within: Selection | None = None,
          grace: float | None = None) -> tuple[int, bool]:
    """Forget (delete the row and vector, keep the history) memories whose expiry is at least the grace
    period (``grace`` seconds, default the store's) ago, of ``within`` only when given (its scope and
    filters), one batch per transaction; returns (how many, whether none is left)."""
    grace = engine.retention.grace_period if grace is None else grace
    before = now - grace
    batch = engine.retention.sweep_batch
    graph = engine.graph is not None
    total = 0
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        with engine.store.transaction() as tx:
            due = tx.expired(before, size, within)
            deleted = set(tx.delete_many([m.id for m in due]))
            gone = [m for m in due if m.id in deleted]
            tx.add_history([HistoryEntry(m.id, "DELETE", m.memory, None, now, scope_of(m), reason=_reason(m, grace))
                            for m in gone])
            if graph:
                for m in gone:
                    tx.log_graph(scope_of(m), "forget_memory", {"memory_id": m.id})
        total += len(gone)
        if len(due) < size:
            break
    else:
        return total, False
    return total, True


def sweep(engine: Engine, *, limit: int | None = None, within: Selection | None = None,
          grace: float | None = None, automatic: bool = False) -> dict[str, Any]:
    """One sweep at the clock's now: pending recalls written, expired memories forgotten (at most ``limit``;
    of ``within`` only when given; ``grace`` seconds after their expiry instead of the store's grace period),
    budgets enforced (of the exact scopes ``within`` covers when given). Returns the counts and whether
    anything is left for a next sweep. Only a whole sweep (no ``within``, the store's grace period) counts as
    the last sweep that throttles the automatic ones; an ``automatic`` one checks every scope's budget only
    when a cap changed or a day passed since the last such check (``enforce_budgets``)."""
    now = engine.clock.now().timestamp()
    recalls = engine.recalls.flush()
    forgotten, complete = purge(engine, now, limit, within=within, grace=grace)
    closed = enforce_budgets(engine, now, within=None if within is None else within.scope, when_changed=automatic)
    # the full-text index's recent writes: an automatic sweep merges one slice, one asked for merges them all
    while engine.store.merge_text_index(MERGE_SLICE) and not automatic:
        pass
    if forgotten:
        engine.vectors.catch_up()
        if engine.graph is not None:
            engine.graph.catch_up()
    if within is None and grace is None:
        if complete:
            engine.store.set_meta(LAST_SWEEP_KEY, repr(now))
        engine.next_sweep = now + (engine.retention.sweep_interval or 0.0) if complete else 0.0
    if forgotten or closed:
        log.info("sweep: forgot %d expired memories, closed %d over budget", forgotten, closed)
    return {"forgotten": forgotten, "closed": closed, "recalls": recalls, "complete": complete, "at": iso(now)}


def may_be_due(engine: Engine) -> bool:
    """Whether an automatic sweep may be due (no I/O: this process's own estimate)."""
    return engine.retention.sweep_interval is not None and engine.clock.now().timestamp() >= engine.next_sweep


def maybe_sweep(engine: Engine) -> dict[str, Any] | None:
    """A bounded sweep when one is due (see the module docstring); None when none is. Cheap when not due: a
    float comparison, then one meta read when this process's own estimate has passed."""
    interval = engine.retention.sweep_interval
    if interval is None:
        return None
    now = engine.clock.now().timestamp()
    if now < engine.next_sweep:
        return None
    last = engine.store.get_meta(LAST_SWEEP_KEY)
    if last is not None and 0 <= now - float(last) < interval:
        engine.next_sweep = float(last) + interval  # another process swept meanwhile
        return None
    try:
        return sweep(engine, limit=engine.retention.sweep_batch, automatic=True)
    except Exception:  # upkeep must never fail the add that triggered it; the next one retries
        log.exception("automatic sweep failed; it will be retried")
        engine.next_sweep = now + min(interval, 60.0)
        return None
