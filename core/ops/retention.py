"""Retention policies, budgets and refreshes (see ``memlayer.retention`` for the settings and the value score).

A scope's policy lives in the store's meta (``retention:["alice", null, null]``), so every process sharing
the store sees it. Budgets close the least valuable current memories of an exact scope past its cap, in one
transaction holding the scope's lock, each with a history entry saying why; nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from ..engine import Engine
from ..errors import NotFoundError
from ..retention import (
    BUDGET_RECHECK,
    BUDGETS_CHECKED_KEY,
    POLICY_PREFIX,
    Effective,
    Lifetime,
    Policy,
    covering,
    describe,
    effective,
    expiry,
    parse_duration,
    policy_arg,
    policy_key,
    scope_of_key,
    value,
)
from ..storage.base import HistoryEntry, Selection, Store, StoredMemory, Tx
from ..types import Scope, iso
from .plan import WriteItem

EVERYTHING = 2**31 - 1


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def scope_of(memory: StoredMemory) -> Scope:
    return Scope(memory.user_id, memory.agent_id, memory.run_id)


# -- policies -------------------------------------------------------------------------------------------
def own_policy(store: Store, scope: Scope) -> Policy:
    return Policy.from_json(store.get_meta(policy_key(scope)))


def effective_for(engine: Engine, scope: Scope) -> Effective:
    """The policy in force for exactly ``scope``: its own, its covering scopes', then the store's settings."""
    return effective([own_policy(engine.store, s) for s in covering(scope)], engine.retention)


def fill_defaults(engine: Engine, items: Sequence[WriteItem]) -> dict[Scope, Effective]:
    """Give every item without an explicit lifetime its scope's default; returns each scope's policy."""
    policies = {scope: effective_for(engine, scope) for scope in {i.scope for i in items}}
    for item in items:
        if not item.lifetime.explicit:
            item.lifetime = Lifetime(ttl=policies[item.scope].ttl)
    return policies


def set_retention(engine: Engine, scope: Scope, ttl: Any, max_memories: Any, keep: object) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        key = policy_key(scope)
        policy = policy_arg(ttl, max_memories, Policy.from_json(tx.get_meta(key)), keep)
        if policy.empty:
            tx.delete_meta(key)
        else:
            tx.set_meta(key, policy.to_json())
    return get_retention(engine, scope)


def forget_policies(tx: Tx, stored: dict[str, str], scope: Scope | None) -> None:
    """Delete the policies (``stored``: every one, by key) of the scopes a forget of ``scope`` covers (all of
    them for None), and the record of the last budget check, which names them: a forgotten scope leaves nothing
    behind (the next sweep checks every scope's budget again)."""
    given = {} if scope is None else {k: v for k, v in scope.as_dict().items() if v is not None}
    gone = [k for k in stored if all(getattr(scope_of_key(k), f) == v for f, v in given.items())]
    for key in gone:
        tx.delete_meta(key)
    if gone:
        tx.delete_meta(BUDGETS_CHECKED_KEY)


def get_retention(engine: Engine, scope: Scope) -> dict[str, Any]:
    return describe(own_policy(engine.store, scope), effective_for(engine, scope))


# -- budgets --------------------------------------------------------------------------------------------
SCOPES_PER_TRANSACTION = 100


def enforce_budgets(engine: Engine, now: float, scopes: Sequence[Scope] | None = None,
                    policies: dict[Scope, Effective] | None = None, *, within: Scope | None = None,
                    when_changed: bool = False) -> int:
    """Close the least valuable current memories of each exact scope past its cap: of the given scopes (after a
    write; ``policies`` may hold theirs already), or of every scope that may be over (a sweep; only those
    ``within`` covers when given). Returns how many were closed.

    Writes enforce their scopes' caps, so a store-wide check only finds work after a cap was lowered (or a
    write's enforcement was cut short by a crash); counting every scope reads the whole table. With
    ``when_changed`` (automatic sweeps) it is skipped while the caps are those of the last complete check and
    that check is less than ``BUDGET_RECHECK`` old."""
    store = engine.store
    work: list[tuple[Scope, int]] = []
    if scopes is not None:
        known = policies or {}
        for scope in scopes:
            cap = (known.get(scope) or effective_for(engine, scope)).max_memories
            if cap is not None and store.count(Selection(scope, exact=True, now=at(now))) > cap:
                work.append((scope, cap))
    else:
        stored = store.meta_items(POLICY_PREFIX)
        own = {scope_of_key(k): Policy.from_json(v) for k, v in stored.items()}
        caps = [engine.retention.max_memories] + [p.max_memories for p in own.values()]
        finite = [int(c) for c in caps if c is not None and not math.isinf(c)]
        if not finite:
            return 0
        signature = json.dumps([engine.retention.max_memories, sorted(stored.items())])
        if within is None and when_changed and _checked_lately(store, signature, now):
            return 0
        for scope, count in store.scope_counts(now, min(finite), within).items():
            cap = effective([own.get(s, Policy()) for s in covering(scope)], engine.retention).max_memories
            if cap is not None and count > cap:
                work.append((scope, cap))
    work.sort(key=lambda item: tuple(v or "" for v in item[0].as_dict().values()))  # one lock order everywhere
    closed = sum(len(_close_excess(engine, work[i:i + SCOPES_PER_TRANSACTION], now))
                 for i in range(0, len(work), SCOPES_PER_TRANSACTION))
    if scopes is None and within is None:
        store.set_meta(BUDGETS_CHECKED_KEY, json.dumps({"caps": signature, "at": now}))
    return closed


def _checked_lately(store: Store, signature: str, now: float) -> bool:
    """Whether every scope was checked against these very caps less than BUDGET_RECHECK ago."""
    try:
        last = json.loads(store.get_meta(BUDGETS_CHECKED_KEY) or "{}")
        return bool(last.get("caps") == signature and 0 <= now - float(last["at"]) < BUDGET_RECHECK)
    except (ValueError, KeyError, TypeError):
        return False


def _close_excess(engine: Engine, group: Sequence[tuple[Scope, int]], now: float) -> list[str]:
    """One transaction for a group of scopes: each counted again under its lock, its least valuable closed."""
    weights = engine.retention.value
    closed: list[str] = []
    with engine.store.transaction() as tx:
        for scope, _ in group:
            tx.lock_scope(scope)
        history: list[HistoryEntry] = []
        for scope, cap in group:
            members = tx.list_memories(Selection(scope, exact=True, now=at(now)), EVERYTHING)
            if len(members) <= cap:
                continue
            scored = sorted((value(m.fresh_ts, m.reinforced, m.metadata, now, weights), m.rid, m) for m in members)
            for v, _, m in scored[: len(members) - cap]:
                tx.close(m.id, now, None)
                closed.append(m.id)
                history.append(HistoryEntry(m.id, "DELETE", m.memory, None, now, scope, reason=(
                    f"closed by the budget: this scope keeps at most {cap} current memories and this one was "
                    f"among the least valuable (value {v:.3f}: recency, reinforcement, importance)")))
        tx.add_history(history)
    return closed


# -- reading --------------------------------------------------------------------------------------------
def unlapsed(
    engine: Engine, selection: Selection, search: Callable[..., list[dict[str, Any]]], *args: Any, **kwargs: Any
) -> list[dict[str, Any]]:
    """``search(*args, **kwargs)``'s graph relations without those whose every memory had expired by the
    selection's time: they leave a search's ``relations`` as their memories leave its results."""
    relations = search(*args, **kwargs)
    when = selection.as_of or selection.now
    if selection.include_expired or when is None or not relations:
        return relations
    ids = sorted({mid for r in relations for mid in r.get("memory_ids") or []})
    rows = engine.store.rows(list(engine.store.rids_of(ids).values())) if ids else {}
    lapsed = {m.id for m in rows.values() if m.expired(when.timestamp())}
    if not lapsed:
        return relations
    return [r for r in relations if not r.get("memory_ids") or not set(r["memory_ids"]) <= lapsed]


# -- refreshing -----------------------------------------------------------------------------------------
def refresh(engine: Engine, memory_ids: Sequence[str], ttl: Any, scope: Scope | None, now: float) -> list[dict[str, Any]]:
    """Extend the expiry of each memory that has one to ``now`` plus ``ttl`` (or its own TTL), never earlier
    than it was: a read that keeps it alive, which changes nothing else (a ``ttl`` given here is not kept). A
    memory that never expires, has no TTL to extend by, is closed or has already expired is left as it is
    (``refreshed`` False). An unknown id is a NotFoundError and nothing is refreshed."""
    seconds = parse_duration(ttl, "ttl", allow_never=False)
    out: list[dict[str, Any]] = []
    with engine.store.transaction() as tx:
        for mid in dict.fromkeys(memory_ids):
            row = tx.current(mid)
            if row is None or (scope is not None and any(
                    v is not None and getattr(row, k) != v for k, v in scope.as_dict().items())):
                raise NotFoundError(f"no memory with id {mid!r}" + ("" if scope is None else " in this scope"))
            span = seconds if seconds is not None else row.ttl
            due = row.expires_ts
            if span is None or due is None or row.valid_to is not None or row.expired(now):
                out.append({"id": mid, "refreshed": False, "expires_at": row.expires_at})
                continue
            end = max(due, expiry(now, span))
            if end != due:  # the memory keeps its own TTL: a ttl given here extends this once
                tx.set_expiry(mid, end, row.ttl)
            out.append({"id": mid, "refreshed": True, "expires_at": iso(end)})
    return out
