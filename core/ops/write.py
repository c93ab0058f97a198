"""The one write path: ``add()`` (inferred or verbatim) and ``bulk_add`` commit through ``commit``.

Everything one call writes — raw messages, new and changed memories, history, the vector log and the graph
outbox — goes in ONE store transaction. Plans were made without holding anything (an LLM call can take
seconds), so the transaction checks them again first, and only its own view decides:

* an ADD whose text and metadata are already a current memory of the scope becomes NONE (atomic across
  processes: the check runs inside the transaction, under the store's scope lock);
* an UPDATE/DELETE/NONE only touches a memory that is still current, of exactly the add's scope, and
  unchanged since the extractor was shown it; otherwise that step is skipped (and logged);
* an extracted fact filling a single-valued slot (its ``attribute``: residence, employer…) closes the
  slot's other current holders that the extractor never saw — a concurrent add put them there.

Time order: an add's time (its ``timestamp``) may be older than the memories it meets (an importer backfilling
old conversations after newer ones). An add never changes a memory stated after its time (``_later``): it
neither closes nor rewrites it, nor changes its lifetime. Instead what it says is stored as history: its new
memory (an UPDATE's text becomes one) is valid from its time until the next value of the slot (the memory it
would have closed or rewritten, or an earlier value of the same attribute stated later: ``first_after``),
closed and superseded by that memory, with a history ``DELETE`` that says why.

Lifetimes: "current" excludes memories expired by ``now``. A new memory lapses at its lifetime's end
(``WriteItem.lifetime_of``). A fact said again (NONE, from the extractor or the duplicate check) or rewritten
(UPDATE) is *refreshed*: its re-statement is counted, and an explicit lifetime (the caller's, or the fact's
own "until Friday") replaces its expiry, while a default one, or its own TTL, only ever extends it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace

import numpy as np

from ..records import ChangeRecord
from ..retention import MAX_TIME, Lifetime
from ..storage.base import HistoryEntry, NewMemory, NewMessage, Store, StoredMemory, Tx
from ..types import Scope, iso
from .plan import Planned, WriteItem, dedupe_items, said_by

log = logging.getLogger("memlayer.add")
CONCURRENT = "superseded by a fact added at the same time"
LATER = "superseded by a fact stated later (that one was added first)"


@dataclass
class Committed:
    fresh: dict[int, np.ndarray] = field(default_factory=dict)  # row id -> vector, for the vector index
    graph_seqs: list[list[int]] = field(default_factory=list)  # per item: its graph outbox entries


def precheck(store: Store, items: list[WriteItem], now: float) -> int:
    """Turn ADDs that repeat a current memory into NONE before anything is embedded; returns the vectors
    log head the check saw (a commit that sees the same head need not look again)."""
    head = store.log_head("vectors")
    existing = store.current_by_hash(sorted({i.scope for i in items}, key=_order),
                                     [p.hash for i in items for p in i.plans if p.event == "ADD"], at=now)
    dedupe_items(items, existing)
    return head


def commit(store: Store, items: list[WriteItem], *, graph: bool, checked_at: int | None, now: float) -> Committed:
    """One transaction for ``items`` (see the module docstring); fills each plan's ``result``. ``now``: the
    present, for what counts as expired (``checked_at`` must come from a precheck at the same ``now``)."""
    out = Committed()
    with store.transaction() as tx:
        scopes = sorted({i.scope for i in items}, key=_order)
        for scope in scopes:  # one global order: concurrent writers of several scopes cannot deadlock
            tx.lock_scope(scope)
        if checked_at is None or tx.log_head("vectors") != checked_at:
            existing = tx.current_by_hash(scopes, [p.hash for i in items for p in i.plans if p.event == "ADD"], at=now)
            dedupe_items(items, existing)
        msg_ids = tx.insert_messages([NewMessage(i.scope, m.role, m.content, i.when, m.name)
                                      for i in items for m in i.messages])
        history: list[HistoryEntry] = []
        adds: list[tuple[WriteItem, Planned]] = [(i, p) for i in items for p in i.plans if p.event == "ADD"]
        rows = []
        for item, p in adds:
            p.new_id = p.new_id or str(uuid.uuid4())
            assert p.embedding is not None
            lifetime = item.lifetime_of(p)
            rows.append(NewMemory(p.new_id, item.scope, p.text, p.hash, p.embedding, item.when, p.metadata, p.attribute,
                                  expires_at=lifetime.end(item.when), speaker=_speaker(item, p), ttl=lifetime.kept_ttl,
                                  updated_at=item.updated))
        new_rids = tx.insert_memories(rows)
        start = 0
        sources: dict[int, tuple[int, ...]] = {}
        for item in items:
            sources[id(item)] = tuple(msg_ids[start:start + len(item.messages)])
            start += len(item.messages)
        for (item, p), rid in zip(adds, new_rids, strict=True):
            out.fresh[rid] = p.embedding  # type: ignore[assignment]
            src = sources[id(item)]
            history.append(HistoryEntry(p.new_id, "ADD", None, p.text, item.when, item.scope, item.actor,  # type: ignore[arg-type]
                                        src if p.message_index is None else (src[p.message_index],)))
            p.result = ChangeRecord(p.new_id, "ADD", p.text)  # type: ignore[arg-type]
        closings: list[list[HistoryEntry]] = []
        for item in items:
            changes = _changes(tx, item, sources[id(item)], out.fresh, now)
            history += changes
            closings.append([e for e in changes if e.event == "DELETE"])  # each one a memory closed
        tx.add_history(history)
        for item, closed in zip(items, closings, strict=True):
            seqs = _outbox(tx, item, sources[id(item)]) if graph and item.relations else []
            if graph:  # after the item's relations: one a new memory says again keeps its statement current
                seqs += [tx.log_graph(e.scope, "close_memory", {"memory_id": e.memory_id, "at": e.at}) for e in closed]
            out.graph_seqs.append(seqs)
    return out


def _changes(
    tx: Tx, item: WriteItem, source: tuple[int, ...], fresh: dict[int, np.ndarray], now: float
) -> list[HistoryEntry]:
    """The UPDATE/DELETE/NONE steps of one item, each re-checked against the transaction's view."""
    entries: list[HistoryEntry] = []
    restated: dict[int, int] = {}  # by row id
    superseded: dict[str, tuple[float, str]] = {}  # a new memory stated before a stored one -> (its end, that one)
    for p in item.plans:
        if p.event == "NONE" and p.target is not None and p.result is not None:  # a duplicate: said again
            row = tx.current(p.target.id)
            if row is not None and _stale(row, item, now) in (None, "changed"):
                restated[row.rid] = restated.get(row.rid, 0) + 1
                if _later(row, item.when) is None:
                    _refresh(tx, row, item.lifetime_of(p), item.when)
        if p.event not in ("UPDATE", "DELETE", "NONE") or p.target is None or p.result is not None:
            continue
        row = tx.current(p.target.id)
        stale = _stale(row, item, now)
        if stale:
            log.warning("memory %s %s since this add was planned; skipping its %s", p.target.id, stale, p.event)
            continue
        assert row is not None
        later = _later(row, item.when)
        if later is not None and p.event != "NONE":
            entries += _older(tx, item, p, row, later, source, fresh, superseded)
        elif p.event == "UPDATE":
            assert p.embedding is not None
            tx.rewrite(row.rid, p.text, p.hash, p.embedding, item.when, attribute=p.attribute)
            _refresh(tx, row, item.lifetime_of(p), item.when)
            fresh[row.rid] = p.embedding
            entries.append(HistoryEntry(row.id, "UPDATE", row.memory, p.text, item.when, item.scope, item.actor, source))
            p.result = ChangeRecord(row.id, "UPDATE", p.text, previous_memory=row.memory)
        elif p.event == "DELETE":
            tx.close(row.id, item.when, p.superseded_by)
            entries.append(HistoryEntry(row.id, "DELETE", row.memory, None, item.when, item.scope, item.actor, source))
            p.result = ChangeRecord(row.id, "DELETE", row.memory, superseded_by=p.superseded_by)
        else:
            p.result = ChangeRecord(row.id, "NONE", row.memory)
            restated[row.rid] = restated.get(row.rid, 0) + 1
            if later is None:
                _refresh(tx, row, item.lifetime_of(p), item.when)
    if restated:
        tx.reinforce(restated, item.when, kind="restate")
    entries += _close_unseen_holders(tx, item, source, now, superseded)
    return entries + _supersede(tx, item, source, superseded)


def _later(row: StoredMemory, when: float) -> float | None:
    """When a current memory stated after ``when`` took over: its start, or the last change of its text when it
    started before ``when``. None when it was not stated after ``when`` (an add at ``when`` may change it)."""
    if when < row.valid_from_ts:
        return row.valid_from_ts
    if when < row.updated_ts:
        return row.updated_ts
    return None


def _older(
    tx: Tx, item: WriteItem, p: Planned, row: StoredMemory, later: float, source: tuple[int, ...],
    fresh: dict[int, np.ndarray], superseded: dict[str, tuple[float, str]],
) -> list[HistoryEntry]:
    """An UPDATE or DELETE of ``row``, a memory stated after this add's time: ``row`` stays as it is. A DELETE's
    replacement (its ``superseded_by``) ends where ``row`` began; an UPDATE's text becomes such a memory."""
    if p.event == "DELETE":
        if p.superseded_by is not None:
            _mark(superseded, p.superseded_by, later, row.id)
        else:
            log.warning("memory %s was stated after this add's time; keeping it (skipping its DELETE)", row.id)
        return []
    assert p.embedding is not None
    new_id, lifetime = str(uuid.uuid4()), item.lifetime_of(p)
    [rid] = tx.insert_memories([NewMemory(new_id, item.scope, p.text, p.hash, p.embedding, item.when,
                                          dict(row.metadata), p.attribute, expires_at=lifetime.end(item.when),
                                          ttl=lifetime.kept_ttl)])
    fresh[rid] = p.embedding
    p.result = ChangeRecord(new_id, "ADD", p.text)
    _mark(superseded, new_id, later, row.id)
    return [HistoryEntry(new_id, "ADD", None, p.text, item.when, item.scope, item.actor, source)]


def _mark(superseded: dict[str, tuple[float, str]], memory_id: str, end: float, by: str) -> None:
    if memory_id not in superseded or end < superseded[memory_id][0]:
        superseded[memory_id] = (end, by)


def _supersede(
    tx: Tx, item: WriteItem, source: tuple[int, ...], superseded: dict[str, tuple[float, str]]
) -> list[HistoryEntry]:
    """Close the new memories stated before a stored one, each at the next value of its slot."""
    entries = []
    written = {q.result.id: q for q in item.plans if q.event in ("ADD", "UPDATE") and q.result is not None}
    for memory_id, (end, by) in superseded.items():
        p = written.get(memory_id)
        if p is None:  # its ADD was a repeat of a current memory: nothing new to close
            continue
        first = tx.first_after(item.scope, p.attribute, item.when) if p.attribute else None
        if first is not None and first.valid_from_ts < end:
            end, by = first.valid_from_ts, first.id
        tx.close(memory_id, end, by)
        entries.append(HistoryEntry(memory_id, "DELETE", p.text, None, end, item.scope, item.actor, source,
                                    reason=LATER))
        assert p.result is not None
        p.result = replace(p.result, superseded_by=by, valid_to=iso(end))
    return entries


def _refresh(tx: Tx, row: StoredMemory, lifetime: Lifetime, when: float) -> None:
    """A memory said again at ``when``: an explicit lifetime sets its expiry; otherwise its own TTL and the
    default may only push a set expiry later (a memory that never expires stays so)."""
    if lifetime.explicit:
        end, ttl = lifetime.end(when), lifetime.kept_ttl
        if (end, ttl) != (row.expires_ts, row.ttl):
            tx.set_expiry(row.id, end, ttl)
        return
    if row.expires_ts is None:
        return
    ends = [e for e in (lifetime.end(when), min(when + row.ttl, MAX_TIME) if row.ttl is not None else None) if e is not None]
    if ends and max(ends) > row.expires_ts:
        tx.set_expiry(row.id, max(ends), row.ttl if row.ttl is not None else lifetime.kept_ttl)


def _stale(row: StoredMemory | None, item: WriteItem, now: float) -> str | None:
    if row is None:
        return "was deleted"
    if row.valid_to is not None:
        return "was closed"
    if row.expired(now):
        return "has expired"
    if not row.shows(item.scope):
        return "belongs to another scope"
    shown = item.seen.get(row.id)
    if shown is not None and shown != row.updated_ts:
        return "changed"
    return None


def _close_unseen_holders(
    tx: Tx, item: WriteItem, source: tuple[int, ...], now: float, superseded: dict[str, tuple[float, str]]
) -> list[HistoryEntry]:
    fills = {p.attribute: p for p in item.plans if p.event == "ADD" and p.attribute} if item.inferred else {}
    if not fills:
        return []
    created = {p.new_id for p in item.plans}
    entries = []
    for holder in tx.current_by_attribute(item.scope, sorted(fills), at=now):  # type: ignore[arg-type]
        if holder.id in item.seen or holder.id in created:
            continue
        new = fills[holder.attribute or ""]
        later = _later(holder, item.when)
        if later is not None:  # stated after this add: it stays, and ends the new one
            _mark(superseded, new.new_id, later, holder.id)  # type: ignore[arg-type]
            continue
        tx.close(holder.id, item.when, new.new_id)
        entries.append(HistoryEntry(holder.id, "DELETE", holder.memory, None, item.when, item.scope, item.actor,
                                    source, reason=CONCURRENT))
    return entries


def _outbox(tx: Tx, item: WriteItem, source: tuple[int, ...]) -> list[int]:
    """Each relation, credited to the memory of this add that mentions it (else the first one)."""
    written = [p for p in item.plans if p.result and p.event in ("ADD", "UPDATE", "NONE")]
    text = "\n".join(f"{m.role}: {m.content}" for m in item.messages)
    seqs = []
    for rel in item.relations:
        best = next((p for p in written if rel.destination.lower() in p.text.lower()), None)
        best = best or next((p for p in written if rel.source.lower() in p.text.lower()), None)
        best = best or (written[0] if written else None)
        memory_id = best.result.id if best and best.result else ""
        seqs.append(tx.log_graph(item.scope, "add", {
            "relation": rel.__dict__, "memory_id": memory_id, "source_text": text,
            "message_ids": [str(i) for i in source], "at": item.when,
        }))
    return seqs


def _speaker(item: WriteItem, p: Planned) -> str | None:
    """Who said a verbatim memory: its metadata's "speaker" (an override), else its message's name, else the
    message's role. An extracted fact has no single speaker."""
    said = said_by(p.metadata)
    if said is not None:
        return said
    if p.message_index is None:
        return None
    message = item.messages[p.message_index]
    return message.name or message.role


def _order(scope: Scope) -> tuple[str, ...]:
    return tuple(v or "" for v in scope.as_dict().values())
