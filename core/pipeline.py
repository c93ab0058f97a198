"""The add() pipeline: extract once, plan the writes, commit them in one transaction, then update
the derived indexes (vectors and graph) concurrently."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .extract.base import ExtractContext
from .types import Decision, ExistingMemory, Message, Relation, Scope, Usage

if TYPE_CHECKING:
    from .memory import AsyncMemory

log = logging.getLogger("memlayer.add")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


@dataclass
class Planned:
    event: str
    text: str
    target: ExistingMemory | None = None
    attribute: str | None = None
    new_id: str | None = None
    embedding: np.ndarray | None = None
    superseded_by: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    message_index: int | None = None  # the one source message of a verbatim memory
    result: dict[str, Any] = field(default_factory=dict)


class RefBook:
    """Existing memories shown to the extractor, under small integer refs stable within one add."""

    def __init__(self) -> None:
        self.by_ref: dict[int, ExistingMemory] = {}
        self._by_id: dict[str, ExistingMemory] = {}

    def admit(self, row: dict[str, Any]) -> ExistingMemory:
        if row["id"] in self._by_id:
            return self._by_id[row["id"]]
        em = ExistingMemory(len(self.by_ref), row["id"], row["memory"], row.get("attribute"), row["metadata"])
        self.by_ref[em.ref] = em
        self._by_id[em.id] = em
        return em


async def extract_plan(
    mem: AsyncMemory, messages: list[Message], scope: Scope, now: datetime, when: datetime | None, usage: Usage
) -> tuple[list[Planned], list[Relation]]:
    book = RefBook()

    async def lookup(texts: list[str], attributes: set[str] | None = None) -> list[ExistingMemory]:
        rows = await mem._related(scope, texts, attributes or set())
        return [book.admit(r) for r in rows]

    ctx = ExtractContext(scope=scope, now=now, agent_facts=scope.user_id is None and scope.agent_id is not None,
                         conversation_time=when)
    extraction = await mem.extractor.extract(messages, lookup=lookup, context=ctx)
    usage.add(extraction.usage)
    return _plan(extraction.decisions, book), list(extraction.relations)


def _plan(decisions: list[Decision], book: RefBook) -> list[Planned]:
    plans: list[Planned] = []
    touched: set[str] = set()
    for d in decisions:
        text = (d.text or "").strip()
        target = book.by_ref.get(d.target) if d.target is not None else None
        if d.event == "ADD":
            if text:
                plans.append(Planned("ADD", text, attribute=d.attribute))
            continue
        if target is None:
            log.warning("ignoring %s decision with unknown memory ref %r (text %r)", d.event, d.target, text)
            continue
        if target.id in touched:
            log.warning("ignoring a second decision (%s) on memory ref %r", d.event, d.target)
            continue
        touched.add(target.id)
        if d.event == "UPDATE" and text and text != target.text:
            plans.append(Planned("UPDATE", text, target, attribute=d.attribute or target.attribute))
        elif d.event == "DELETE":
            plans.append(Planned("DELETE", target.text, target, attribute=target.attribute))
        else:
            plans.append(Planned("NONE", target.text, target, attribute=target.attribute))
    # A closed memory is superseded by the new memory of the same attribute, when there is one.
    for p in plans:
        if p.event == "DELETE" and p.attribute:
            for q in plans:
                if q.event == "ADD" and q.attribute == p.attribute:
                    q.new_id = q.new_id or str(uuid.uuid4())
                    p.superseded_by = q.new_id
                    break
    return plans


def raw_plan(messages: list[Message], metadata: dict[str, Any]) -> list[Planned]:
    """One verbatim memory per message; a message's own metadata is merged over the call's."""
    return [
        Planned("ADD", m.content, metadata={**metadata, **(m.metadata or {})}, message_index=i)
        for i, m in enumerate(messages)
    ]


def dedupe(plans: list[Planned], existing: dict[str, list[dict[str, Any]]]) -> None:
    """An ADD whose text and metadata already are a current memory of the same scope becomes NONE."""
    seen: set[tuple[str, str]] = set()
    for p in plans:
        if p.event != "ADD":
            continue
        h = text_hash(p.text)
        key = (h, json.dumps(p.metadata, sort_keys=True))
        row = next((r for r in existing.get(h, []) if r["metadata"] == p.metadata), None)
        if row is not None:
            p.event, p.target = "NONE", ExistingMemory(-1, row["id"], row["memory"], row.get("attribute"))
        elif key in seen:
            p.event = "SKIP"
        seen.add(key)


def commit(
    mem: AsyncMemory, scope: Scope, messages: list[Message], plans: list[Planned], relations: list[Relation],
    when: float, actor: str | None,
) -> tuple[dict[int, np.ndarray], list[int]]:
    """One transaction: messages, memory rows, history, vector log and graph outbox."""
    fresh: dict[int, np.ndarray] = {}
    graph_seqs: list[int] = []
    with mem.store.transaction() as tx:
        msg_ids = tx.insert_messages(scope, [(m.role, m.content, m.name) for m in messages], when)
        ids_json = json.dumps(msg_ids)
        history: list[tuple[Any, ...]] = []
        adds = [p for p in plans if p.event == "ADD"]
        rows = []
        for p in adds:
            p.new_id = p.new_id or str(uuid.uuid4())
            assert p.embedding is not None
            rows.append({**scope.as_dict(), "id": p.new_id, "text": p.text, "hash": text_hash(p.text),
                         "attribute": p.attribute, "metadata": p.metadata, "created_at": when, "embedding": p.embedding})
        for p, rid in zip(adds, tx.insert_memories(rows), strict=True):
            fresh[rid] = p.embedding  # type: ignore[assignment]
            src = ids_json if p.message_index is None else json.dumps([msg_ids[p.message_index]])
            history.append((p.new_id, "ADD", None, p.text, when, *scope.as_dict().values(), actor, src))
            p.result = {"id": p.new_id, "memory": p.text, "event": "ADD"}
        for p in plans:
            if p.event not in ("UPDATE", "DELETE", "NONE") or p.target is None:
                continue
            row = tx.current_row(p.target.id)
            if row is None or row["valid_to"] is not None:
                log.warning("memory %s changed before this add committed; skipping its %s", p.target.id, p.event)
                continue
            if p.event == "UPDATE":
                assert p.embedding is not None
                tx.rewrite(row, p.text, text_hash(p.text), p.embedding, when, attribute=p.attribute)
                fresh[int(row["rid"])] = p.embedding
                history.append((p.target.id, "UPDATE", row["text"], p.text, when, *scope.as_dict().values(), actor, ids_json))
                p.result = {"id": p.target.id, "memory": p.text, "event": "UPDATE", "previous_memory": row["text"]}
            elif p.event == "DELETE":
                tx.execute("UPDATE memories SET valid_to = ?, updated_at = ?, superseded_by = ? WHERE id = ?",
                           (when, when, p.superseded_by, p.target.id))
                history.append((p.target.id, "DELETE", row["text"], None, when, *scope.as_dict().values(), actor, ids_json))
                p.result = {"id": p.target.id, "memory": row["text"], "event": "DELETE", "superseded_by": p.superseded_by}
            else:
                p.result = {"id": p.target.id, "memory": row["text"], "event": "NONE"}
        tx.history(history)
        if relations and mem.graph_sync is not None:
            source = "\n".join(f"{m.role}: {m.content}" for m in messages)
            for rel, memory_id in _link_relations(relations, plans):
                tx.log_graph(scope, "add", {"relation": rel.__dict__, "memory_id": memory_id, "source_text": source,
                                            "message_ids": [str(i) for i in msg_ids], "at": when})
                graph_seqs.append(int(tx.execute("SELECT last_insert_rowid()").fetchone()[0]))
    return fresh, graph_seqs


def _link_relations(relations: list[Relation], plans: list[Planned]) -> list[tuple[Relation, str]]:
    """Each relation is credited to the memory of this add that mentions it (else the first one)."""
    written = [p for p in plans if p.result and p.event in ("ADD", "UPDATE", "NONE")]
    out = []
    for rel in relations:
        best = next((p for p in written if rel.destination.lower() in p.text.lower()), None)
        best = best or next((p for p in written if rel.source.lower() in p.text.lower()), None)
        best = best or (written[0] if written else None)
        out.append((rel, best.result["id"] if best else ""))
    return out


async def embed_plans(mem: AsyncMemory, plans: list[Planned]) -> None:
    todo = [p for p in plans if p.event in ("ADD", "UPDATE")]
    if todo:
        vecs = await mem._embed([p.text for p in todo])
        for p, v in zip(todo, vecs, strict=True):
            p.embedding = v


async def run_derived(mem: AsyncMemory, fresh: dict[int, np.ndarray], graph_seqs: list[int]) -> list[dict[str, Any]]:
    """Vector index and graph catch up concurrently after the commit."""
    tasks: list[Any] = [asyncio.to_thread(mem.vectors.catch_up, fresh)]
    if mem.graph_sync is not None:
        tasks.append(asyncio.to_thread(mem.graph_sync.apply))
    done = await asyncio.gather(*tasks)
    if mem.graph_sync is None:
        return []
    applied: dict[int, Any] = done[1]
    return [r for seq in graph_seqs for r in (applied.get(seq) or [])]
