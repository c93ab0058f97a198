"""add(): plan (one extractor call, no lock held), embed, commit in one transaction, then the projections
catch up (vector index and graph, concurrently)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ..engine import Engine
from ..extract.base import ExtractContext
from ..records import AddAnswer
from ..retention import Lifetime
from ..types import ExistingMemory, Message, Scope, Usage
from .plan import RefBook, WriteItem, from_decisions, verbatim
from .retention import enforce_budgets, fill_defaults
from .sweep import may_be_due, maybe_sweep
from .write import Committed, commit, precheck


async def add(
    engine: Engine, messages: list[Message], scope: Scope, metadata: dict[str, object], *, infer: bool,
    now: datetime, timestamp: datetime | None, lifetime: Lifetime | None = None,
) -> AddAnswer:
    usage = Usage()
    when = (timestamp or now).timestamp()
    if infer:
        item = await _extract(engine, messages, scope, metadata, now, timestamp, usage)
    else:
        item = WriteItem(scope, messages, when, verbatim(messages, dict(metadata)))
    if lifetime is not None:
        item.lifetime = lifetime
    done = await asyncio.to_thread(write, engine, [item])
    events = await engine.project(done.fresh, done.graph_seqs[0]) if engine.graph is not None else []
    await after_write(engine)
    engine.usage.add(usage)
    return AddAnswer(
        results=[p.result for p in item.plans if p.result is not None],
        relations_added=[
            {k: e[k] for k in ("source", "relationship", "destination") if k in e}
            for e in events if e.get("event", "ADD") in ("ADD", "UPDATE")  # UPDATE: new, and closed an older value
        ],
        relations_closed=[c for e in events for c in e.get("closed", [])],
        usage=usage.as_dict(),
    )


async def _extract(
    engine: Engine, messages: list[Message], scope: Scope, metadata: dict[str, object], now: datetime,
    timestamp: datetime | None, usage: Usage,
) -> WriteItem:
    """One extractor call decides against the related memories of exactly ``scope``."""
    book = RefBook()

    async def lookup(texts: list[str], attributes: set[str] | None = None) -> list[ExistingMemory]:
        rows = await asyncio.to_thread(engine.related, scope, texts, attributes or set())
        return [book.admit(r) for r in rows]

    ctx = ExtractContext(scope=scope, now=now, agent_facts=scope.user_id is None and scope.agent_id is not None,
                         conversation_time=timestamp)
    extraction = await engine.extractor.extract(messages, lookup=lookup, context=ctx)
    usage.add(extraction.usage)
    return WriteItem(scope, messages, (timestamp or now).timestamp(),
                     from_decisions(extraction.decisions, book, dict(metadata)), list(extraction.relations),
                     seen=book.seen, inferred=True)


def write(engine: Engine, items: list[WriteItem]) -> Committed:
    """Check, embed and commit ``items`` in one worker-thread call (each hop between the event loop and a
    thread costs about as much as a small write); without a graph the vector index catches up here too.
    Then the written scopes' budgets are enforced (an automatic sweep runs after the projections caught up:
    ``after_write``)."""
    now = engine.clock.now().timestamp()
    policies = fill_defaults(engine, items)
    checked_at = precheck(engine.store, items, now)
    todo = [p for i in items for p in i.plans if p.event in ("ADD", "UPDATE")]
    if todo:
        for p, v in zip(todo, engine.embed([p.text for p in todo]), strict=True):
            p.embedding = v
    done = commit(engine.store, items, graph=engine.graph is not None, checked_at=checked_at, now=now)
    if engine.graph is None:
        engine.vectors.catch_up(done.fresh)
    enforce_budgets(engine, now, sorted(policies, key=lambda s: tuple(v or "" for v in s.as_dict().values())),
                    policies)
    return done


async def after_write(engine: Engine) -> None:
    """A bounded sweep when one is due (a float comparison on the event loop when it is not)."""
    if may_be_due(engine):
        await asyncio.to_thread(maybe_sweep, engine)
