"""AsyncMemory: the one async core's facade. It checks what callers pass, hands the work to the operations
in ``memlayer.ops`` over an ``Engine``, and returns the documented dict shapes. ``memlayer.Memory`` is its
thin synchronous face."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from . import transcripts
from .config import IN_MEMORY, MemoryConfig, load_config
from .engine import Engine
from .errors import MemlayerError, ScopeError
from .filters import parse_filters
from .graph.view import GraphView
from .kit.bridge import blocking
from .messages import (
    check_metadata,
    check_query,
    clean_text,
    limit_arg,
    make_scope,
    normalize_messages,
    search_args,
)
from .ops import add as add_op
from .ops import bulk as bulk_op
from .ops import forget as forget_op
from .ops import retention as retention_op
from .ops import search as search_op
from .ops import sweep as sweep_op
from .records import MAX_ID_CHARS, SCOPE_KINDS
from .retention import KEEP, check_lifetime, lifetime_arg, parse_duration
from .search.config import SearchConfig
from .storage import Selection
from .types import Scope, Usage, said_at, to_utc

MAX_LIST = 2**31 - 1  # get_all: "every row" in practice


class AsyncMemory:
    """Long-term memory: add conversations, search them, update and forget, with full history."""

    def __init__(
        self, path: str | None = None, *, embedder: Any = None, llm: Any = None,
        config: MemoryConfig | dict[str, Any] | None = None, **options: Any,
    ) -> None:
        self._engine = Engine.acquire(load_config(config, path=path, embedder=embedder, llm=llm, **options))
        self._closed = False

    @classmethod
    def from_config(cls, config: MemoryConfig | dict[str, Any]) -> AsyncMemory:
        return cls(config=config)

    # -- what the engine holds, for callers that look inside --------------------------------------
    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def config(self) -> MemoryConfig:
        return self._engine.config

    @property
    def store(self) -> Any:
        """The system of record (``memlayer.storage.base.Store``)."""
        return self._engine.store

    @property
    def vectors(self) -> Any:
        """The vector index projection."""
        return self._engine.vectors

    @property
    def llm(self) -> Any:
        return self._engine.llm

    @property
    def embedder(self) -> Any:
        return self._engine.embedder

    @property
    def extractor(self) -> Any:
        return self._engine.extractor

    @property
    def dims(self) -> int:
        return self._engine.dims

    @property
    def directory(self) -> str | None:
        return self._engine.directory

    @property
    def usage(self) -> Any:
        return self._engine.usage

    @property
    def search_config(self) -> SearchConfig:
        return self._engine.search_config

    @property
    def graph(self) -> GraphView | None:
        """The knowledge graph (relations, SPARQL, export per user_id/agent_id/run_id), or None without one."""
        return None if self._engine.graph is None else GraphView(self._engine.graph.graph, self._engine.graph.catch_up)

    def embed_now(self, texts: list[str]) -> np.ndarray:
        """Texts embedded as memlayer embeds them (unit-normalised float32), on the calling thread."""
        return self._engine.embed(texts)

    def _check_open(self) -> None:
        if self._closed:
            raise MemlayerError("this memory is closed; create a new Memory to keep working")

    # -- API ----------------------------------------------------------------------------------
    async def add(
        self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        metadata: dict[str, Any] | None = None, infer: bool = True, timestamp: datetime | str | float | None = None,
        expires_at: datetime | str | float | None = None, ttl: float | str | timedelta | None = None,
    ) -> dict[str, Any]:
        """Remember a conversation. With ``infer`` an extractor decides ADD/UPDATE/DELETE/NONE per fact;
        without it every message becomes one memory verbatim (a message dict's own ``metadata`` is merged
        over ``metadata`` for its memory: the batch path).

        ``expires_at`` (a time, or "never") or ``ttl`` (seconds, a timedelta or "7d", counted from
        ``timestamp`` or now) says when what this call writes lapses; without them a fact's own expiry ("this
        week", proposed by the extractor) or the scope's default TTL applies. A fact said again is refreshed.
        ``timestamp`` is when the messages were said (default now): not later than the clock (``types.said_at``)."""
        self._check_open()
        scope = make_scope(user_id, agent_id, run_id)
        meta = check_metadata(metadata)
        msgs = [m if not m.metadata else replace(m, metadata=check_metadata(m.metadata)) for m in normalize_messages(messages)]
        now = self._engine.clock.now()
        when = said_at(timestamp, now)
        lifetime = check_lifetime(lifetime_arg(expires_at, ttl), (when or now).timestamp())
        if not msgs:
            return {"results": [], "relations": {"added": [], "closed": []}, "usage": Usage().as_dict()}
        answer = await add_op.add(self._engine, msgs, scope, meta, infer=bool(infer), now=now, timestamp=when,
                                  lifetime=lifetime)
        return answer.to_dict()

    async def bulk_add(self, records: Any, *, batch_size: int = 1000, progress: Any = True) -> dict[str, Any]:
        """Import many records ({text | messages, user_id, agent_id, run_id, metadata, timestamp, id, updated_at,
        expires_at | ttl}) verbatim, as ``add(infer=False)`` would, a batch per transaction; see ``memlayer.ops.bulk``."""
        self._check_open()
        return await bulk_op.bulk_add(self._engine, records, batch_size=batch_size, progress=progress)

    @blocking
    def search(
        self, query: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: int = 10, filters: dict[str, Any] | None = None, threshold: float | None = None,
        max_tokens: int | None = None, as_of: datetime | str | float | None = None, include_expired: bool = False,
        config: SearchConfig | str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The memories of a scope most relevant to ``query``: current ones (not closed, not expired), those
        valid at ``as_of``, or all with ``include_expired``."""
        self._check_open()
        query = clean_text(check_query(query))
        limit, threshold, max_tokens = search_args(limit, threshold, max_tokens)
        selection = Selection(make_scope(user_id, agent_id, run_id), parse_filters(filters), to_utc(as_of),
                              bool(include_expired), now=self._engine.clock.now())
        selection = transcripts.for_search(selection)
        cfg = self._engine.search_config if config is None else SearchConfig.coerce(config)
        answer = search_op.search(self._engine, query, selection, limit=limit, threshold=threshold,
                                  max_tokens=max_tokens, config=cfg)
        return answer.to_dict()

    @blocking
    def get(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        include_expired: bool = True,
    ) -> dict[str, Any] | None:
        """A memory by id, or None. With a scope, only a memory of that scope (others read as missing). With
        ``include_expired=False`` only a current one: a closed or expired memory reads as missing."""
        self._check_open()
        scope = _optional_scope(user_id, agent_id, run_id)
        memory = self._engine.store.get(_memory_id(memory_id))
        if memory is None or (scope is not None and not _within(memory, scope)):
            return None
        if not include_expired and (memory.valid_to is not None
                                    or memory.expired(self._engine.clock.now().timestamp())):
            return None
        return memory.record().to_dict()

    @blocking
    def get_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: dict[str, Any] | None = None, limit: int = 100, as_of: datetime | str | float | None = None,
        include_expired: bool = False,
    ) -> dict[str, Any]:
        """The memories of a scope, most recently updated first: current ones (not closed, not expired), those
        valid at ``as_of``, or all with ``include_expired``."""
        self._check_open()
        selection = Selection(make_scope(user_id, agent_id, run_id), parse_filters(filters), to_utc(as_of),
                              bool(include_expired), now=self._engine.clock.now())
        rows = self._engine.store.list_memories(selection, limit_arg("limit", limit, MAX_LIST))
        return {"results": [r.record().to_dict() for r in rows]}

    async def update(
        self, memory_id: str, text: str | None = None, metadata: dict[str, Any] | None = None, *,
        expires_at: datetime | str | float | None = None, ttl: float | str | timedelta | None = None,
        user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        """Replace a memory's text (and metadata, when given); the old text stays in history. ``expires_at``
        (a time, or "never") or ``ttl`` (counted from now) changes when it lapses, with or without a new text.
        With a scope, only a memory of that scope can be changed. Only a current memory: a closed or expired one
        is a ``NotCurrentError`` (a ``NotFoundError``), as reads of current memories leave it out."""
        self._check_open()
        now = self._engine.clock.now().timestamp()
        lifetime = check_lifetime(lifetime_arg(expires_at, ttl), now, stated=False)
        if text is None and lifetime is None:
            raise MemlayerError("update() needs a new text, or expires_at=/ttl= to change only when the memory lapses")
        if text is None and metadata is not None:
            raise MemlayerError("update() changes metadata together with the text; pass the memory's text as well")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise MemlayerError("update() needs non-empty text")
        text = None if text is None else clean_text(text).strip()
        meta = None if metadata is None else check_metadata(metadata)
        scope = _optional_scope(user_id, agent_id, run_id)
        vector = None if text is None else (await self._engine.aembed([text]))[0]
        change = await asyncio.to_thread(forget_op.update_one, self._engine, _memory_id(memory_id), text, meta,
                                         vector, scope, lifetime, now)
        if self._engine.graph is not None:
            await asyncio.to_thread(self._engine.graph.catch_up)
        return change.to_dict()

    async def delete(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        """Remove a memory and its vector now; its history records the deletion. With a scope, only a
        memory of that scope can be deleted."""
        self._check_open()
        scope = _optional_scope(user_id, agent_id, run_id)
        await asyncio.to_thread(forget_op.delete_one, self._engine, _memory_id(memory_id), scope)
        if self._engine.graph is not None:
            await asyncio.to_thread(self._engine.graph.catch_up)
        return {"id": memory_id, "event": "DELETE", "message": "Memory deleted"}

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Forget a scope: memories, vectors, graph, history, raw messages and retention policies. Leaves no trace."""
        self._check_open()
        scope = make_scope(user_id, agent_id, run_id)
        count = await asyncio.to_thread(forget_op.forget, self._engine, scope)
        return {"deleted": count, "message": f"Forgot {count} memories"}

    @blocking
    def history(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every change of a memory, oldest first, with its source messages. With a scope, only the history
        of a memory of that scope (others read as empty)."""
        self._check_open()
        scope = _optional_scope(user_id, agent_id, run_id)
        events = self._engine.store.history(_memory_id(memory_id))
        if scope is not None and events and not _within(events[0], scope):
            return []
        return [e.to_dict() for e in events]

    async def scopes(self, *, prefix: str | None = None, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
        """The users, agents and runs this store holds memories of (current or closed), in id order, at most
        ``limit`` of each: ``{"users": [...], "agents": [...], "runs": [...]}``, each entry ``{"id",
        "memories" (current), "closed", "expired" (past their expiry, not yet swept), "first_at", "last_at"}``.
        ``prefix``: only the ids starting with it."""
        self._check_open()
        if prefix is not None and (not isinstance(prefix, str) or clean_text(prefix) != prefix):
            raise ScopeError(f"prefix must be a string (no NUL, valid Unicode) or None, got {prefix!r}")
        count = limit_arg("limit", limit, MAX_LIST)
        found = await asyncio.to_thread(self._engine.store.list_scopes, prefix or "", count,
                                        at=self._engine.clock.now().timestamp())
        return {name: [s.to_dict() for s in found[field]] for field, name in SCOPE_KINDS}

    # -- lifetimes ----------------------------------------------------------------------------------
    async def refresh(
        self, memory_ids: str | list[str], *, ttl: float | str | timedelta | None = None, user_id: str | None = None,
        agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        """Keep memories alive: each one that expires gets ``now + ttl`` (default: its own TTL) as its expiry,
        never earlier than before (a read that refreshes, as LangGraph's ``refresh_on_read``); a ``ttl`` given
        here extends them once and does not replace their own. Memories that never expire, have no TTL or
        already expired are left alone. No history entry, no re-embedding."""
        self._check_open()
        ids = [memory_ids] if isinstance(memory_ids, str) else list(memory_ids)
        checked = [_memory_id(i) for i in ids]
        scope = _optional_scope(user_id, agent_id, run_id)
        now = self._engine.clock.now().timestamp()
        results = await asyncio.to_thread(retention_op.refresh, self._engine, checked, ttl, scope, now)
        return {"results": results}

    async def set_retention(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        ttl: Any = KEEP, max_memories: Any = KEEP,
    ) -> dict[str, Any]:
        """Set a scope's own lifetime policy, seen by every process sharing the store: ``ttl`` is the default
        TTL of its new memories ("7d", seconds, a timedelta; "never" for none; None falls back to the store's
        setting), ``max_memories`` caps the current memories of each exact scope it covers (an int;
        "unlimited"; None falls back). A policy on ``user_id="alice"`` covers all of alice's scopes; the most
        specific one wins. An argument not given stays as it was. Returns ``get_retention``'s answer."""
        self._check_open()
        scope = make_scope(user_id, agent_id, run_id)
        return await asyncio.to_thread(retention_op.set_retention, self._engine, scope, ttl, max_memories, KEEP)

    async def get_retention(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        """The policy in force for exactly this scope (``ttl`` seconds or None, ``max_memories`` or None) and
        what the scope sets itself (``own``)."""
        self._check_open()
        return await asyncio.to_thread(retention_op.get_retention, self._engine, make_scope(user_id, agent_id, run_id))

    async def sweep(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: dict[str, Any] | None = None, grace_period: float | str | timedelta | None = None,
    ) -> dict[str, Any]:
        """Forget memories expired for longer than the grace period (each with a history entry saying why),
        close the least valuable memories of scopes over their budget, and write pending recall counts.
        Runs by itself inside add() at most every ``retention.sweep_interval``; safe to run any time, from
        any process. With a scope (and ``filters``), only the memories and budgets of that scope; with
        ``grace_period`` (0: now), memories expired at least that long ago instead of the store's grace
        period. Returns counts: ``forgotten``, ``closed``, ``recalls``; ``complete`` False when a bounded
        sweep left work for the next one."""
        self._check_open()
        scope = _optional_scope(user_id, agent_id, run_id)
        if filters is not None and scope is None:
            raise MemlayerError("sweep(filters=...) needs a user_id, agent_id or run_id: filters narrow a scope")
        within = None if scope is None else Selection(scope, parse_filters(filters), include_expired=True)
        grace = parse_duration(grace_period, "grace_period", allow_never=False, allow_zero=True)
        return await asyncio.to_thread(sweep_op.sweep, self._engine, within=within, grace=grace)

    async def reset(self) -> None:
        """Erase every memory, history entry, message and relation of this store."""
        self._check_open()
        await asyncio.to_thread(forget_op.forget, self._engine, None)

    async def health(self) -> dict[str, Any]:
        """Whether the store answers and the vector index and graph are caught up (and why not)."""
        self._check_open()
        return await asyncio.to_thread(self._engine.health)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._engine.release()

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = self._engine.directory or IN_MEMORY
        return f"<{type(self).__name__} path={where!r} dims={self.dims} pid={os.getpid()} thread={threading.get_ident()}>"


def _optional_scope(user_id: Any, agent_id: Any, run_id: Any) -> Scope | None:
    scope = make_scope(user_id, agent_id, run_id, required=False)
    return None if scope.is_empty() else scope


def _within(item: Any, scope: Scope) -> bool:
    return all(v is None or getattr(item, k) == v for k, v in scope.as_dict().items())


def _memory_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or "\x00" in value:
        raise MemlayerError(f"a memory id must be a non-empty string (as add() returned it), got {value!r}")
    return value
