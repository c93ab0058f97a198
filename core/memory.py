"""AsyncMemory: the one async core. ``memlayer.Memory`` is its thin synchronous face."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from . import pipeline, registry
from .config import IN_MEMORY, MemoryConfig, load_config
from .embeddings.base import as_matrix
from .errors import ConfigError, MemlayerError, NotFoundError, StoreError
from .filters import validate_metadata
from .graph.sync import GraphSync
from .messages import clean_text, make_scope, normalize_messages, search_args
from .providers import resolve_embedder, resolve_extractor, resolve_graph, resolve_llm
from .search.config import SearchConfig
from .search.engine import run_search
from .storage.sqlite import SQLiteStore
from .types import Scope, Usage, to_utc, utcnow
from .vectors.derived import DerivedIndex

log = logging.getLogger("memlayer")
RESERVED_METADATA = ("user_id", "agent_id", "run_id")


class AsyncMemory:
    """Long-term memory: add conversations, search them, update and forget, with full history."""

    def __init__(
        self, path: str | None = None, *, embedder: Any = None, llm: Any = None,
        config: MemoryConfig | dict[str, Any] | None = None, **options: Any,
    ) -> None:
        self.config = load_config(config, path=path, embedder=embedder, llm=llm, **options)
        location = self.config.resolved_path()
        self.directory = None if location == IN_MEMORY else location
        self.embedder = resolve_embedder(self.config.embedder)
        self.llm = resolve_llm(self.config.llm)
        self._extractor: Any = None
        self.dims = int(self.embedder.dims)
        self.store = SQLiteStore(IN_MEMORY if self.directory is None else SQLiteStore.file_for(self.directory))
        try:
            self._check_dims()
            self.vectors = DerivedIndex(
                self.store, lambda: registry.create("vector_indexes", self.config.vector_index, dims=self.dims),
                self.directory, snapshot_min=self.config.snapshot_min,
            )
            self.vectors.open()
            graph, persistent = resolve_graph(self.config.graph, self.directory, self.embedder)
            self.graph_sync = None if graph is None else GraphSync(self.store, graph, self.directory, persistent=persistent)
            if self.graph_sync is not None:
                self.graph_sync.apply()
        except BaseException:
            self.store.close()
            raise
        self.search_config = SearchConfig.coerce(self.config.search)
        self.usage = Usage()
        # One lock per (event loop, scope): the sync face's loop and a caller's own loop may both use
        # this object; an asyncio.Lock must never be shared across loops. Idle locks are dropped.
        self._scope_locks: weakref.WeakValueDictionary[tuple[int, Scope], asyncio.Lock] = weakref.WeakValueDictionary()
        self._closed = False

    @classmethod
    def from_config(cls, config: MemoryConfig | dict[str, Any]) -> AsyncMemory:
        return cls(config=config)

    def _check_dims(self) -> None:
        stored = self.store.get_meta("dims")
        if stored is None:
            self.store.set_meta("dims", str(self.dims))
        elif int(stored) != self.dims:
            raise StoreError(
                f"this store was built with a {stored}-dimensional embedder but the configured one has {self.dims} "
                "dimensions; use the original embedder or a new store path"
            )

    @property
    def extractor(self) -> Any:
        """The extractor used by add(infer=True), built on first use."""
        if self._extractor is None:
            self._extractor = resolve_extractor(self.config.extractor, self.llm, self.config.related_memories)
        return self._extractor

    # -- helpers ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise MemlayerError("this memory is closed; create a new Memory to keep working")

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_now, texts)

    def embed_now(self, texts: list[str]) -> np.ndarray:
        """Unit-normalised float32 embeddings, computed on the calling thread (blocking)."""
        vecs = self.embedder.embed(list(texts))
        mat = as_matrix(vecs, len(texts), self.dims)
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        return np.ascontiguousarray(mat / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    async def _related(self, scope: Scope, texts: list[str], attributes: set[str]) -> list[dict[str, Any]]:
        """Current memories of ``scope`` near any of ``texts``, plus those holding ``attributes``."""
        where, params = self.store.where(scope, None)
        allowed = await asyncio.to_thread(self.store.candidate_rids, where, params)
        rids: list[int] = []
        if len(allowed) and texts:
            vecs = await self._embed(texts)
            for v in vecs:
                _, ids = await asyncio.to_thread(self.vectors.search, v, self.config.related_memories, allowed)
                rids.extend(int(i) for i in ids if int(i) not in rids)
        rows = await asyncio.to_thread(self.store.get_by_rids, rids)
        out = [rows[r] for r in rids if r in rows]
        seen = {r["id"] for r in out}
        extra = await asyncio.to_thread(self.store.current_by_attribute, scope, attributes)
        return out + [r for r in extra if r["id"] not in seen]

    def _lock_for(self, scope: Scope) -> asyncio.Lock:
        key = (id(asyncio.get_running_loop()), scope)
        lock = self._scope_locks.get(key)
        if lock is None:
            lock = self._scope_locks[key] = asyncio.Lock()
        return lock

    # -- API ----------------------------------------------------------------------------------
    async def add(
        self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        metadata: dict[str, Any] | None = None, infer: bool = True, timestamp: datetime | str | float | None = None,
    ) -> dict[str, Any]:
        """Remember a conversation. With ``infer`` an extractor decides ADD/UPDATE/DELETE/NONE per fact;
        without it every message becomes one memory verbatim (a message dict's own ``metadata`` is merged
        over ``metadata`` for its memory: the batch path)."""
        self._check_open()
        scope = make_scope(user_id, agent_id, run_id)
        meta = _check_metadata(metadata)
        msgs = [m if not m.metadata else replace(m, metadata=_check_metadata(m.metadata))
                for m in normalize_messages(messages)]
        usage = Usage()
        if not msgs:
            return {"results": [], "relations": {"added": [], "closed": []}, "usage": usage.as_dict()}
        now = utcnow()
        when = to_utc(timestamp) or now
        async with self._lock_for(scope):
            relations: list[Any] = []
            if infer:
                plans, relations = await pipeline.extract_plan(self, msgs, scope, now, to_utc(timestamp), usage)
                for p in plans:
                    p.metadata = meta
            else:
                plans = pipeline.raw_plan(msgs, meta)
            hashes = [pipeline.text_hash(p.text) for p in plans if p.event == "ADD"]
            existing = await asyncio.to_thread(self.store.current_hashes, scope, hashes)
            pipeline.dedupe(plans, existing)
            await pipeline.embed_plans(self, plans)
            actor = next((m.name for m in msgs if m.name), None)
            fresh, graph_seqs = await asyncio.to_thread(
                pipeline.commit, self, scope, msgs, plans, relations, when.timestamp(), actor
            )
            graph_events = await pipeline.run_derived(self, fresh, graph_seqs)
        self.usage.add(usage)
        results = [p.result for p in plans if p.result]
        return {"results": results, "relations": _summarise(graph_events), "usage": usage.as_dict()}

    async def bulk_add(
        self, records: Any, *, batch_size: int = 1000, progress: Any = True
    ) -> dict[str, Any]:
        """Import many records ({text | messages, user_id, agent_id, run_id, metadata, timestamp}) verbatim,
        as ``add(infer=False)`` would, a batch per transaction; see ``memlayer.bulk``."""
        self._check_open()
        from .bulk import bulk_add

        return await bulk_add(self, records, batch_size=batch_size, progress=progress)

    async def search(
        self, query: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: int = 10, filters: dict[str, Any] | None = None, threshold: float | None = None,
        max_tokens: int | None = None, as_of: datetime | str | float | None = None, include_expired: bool = False,
        config: SearchConfig | str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The memories of a scope most relevant to ``query`` (current ones unless ``as_of``/``include_expired``)."""
        self._check_open()
        if not isinstance(query, str):
            raise MemlayerError(f"query must be a string, got {type(query).__name__}")
        query, (limit, threshold, max_tokens) = clean_text(query), search_args(limit, threshold, max_tokens)
        scope = make_scope(user_id, agent_id, run_id)
        cfg = self.search_config if config is None else SearchConfig.coerce(config)
        return await run_search(
            self, query, scope, limit=limit, filters=filters, threshold=threshold, max_tokens=max_tokens,
            as_of=to_utc(as_of), include_expired=include_expired, config=cfg,
        )

    async def get(self, memory_id: str) -> dict[str, Any] | None:
        self._check_open()
        row = await asyncio.to_thread(self.store.get, memory_id)
        if row is not None:
            row.pop("hash", None)
        return row

    async def get_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: dict[str, Any] | None = None, limit: int = 100, as_of: datetime | str | float | None = None,
        include_expired: bool = False,
    ) -> dict[str, Any]:
        self._check_open()
        scope = make_scope(user_id, agent_id, run_id)
        where, params = self.store.where(scope, filters, as_of=to_utc(as_of), include_expired=include_expired)
        rows = await asyncio.to_thread(self.store.list_memories, where, params, limit)
        for r in rows:
            r.pop("hash", None)
        return {"results": rows}

    async def update(self, memory_id: str, text: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Replace a memory's text (and metadata, when given); the old text stays in history."""
        self._check_open()
        if not isinstance(text, str) or not text.strip():
            raise MemlayerError("update() needs non-empty text")
        text = clean_text(text)
        meta = None if metadata is None else _check_metadata(metadata)
        vec = (await self._embed([text]))[0]
        fresh = await asyncio.to_thread(self._update_sync, memory_id, text.strip(), meta, vec)
        await pipeline.run_derived(self, fresh, [])
        return {"id": memory_id, "memory": text.strip(), "event": "UPDATE"}

    def _update_sync(self, memory_id: str, text: str, meta: dict[str, Any] | None, vec: np.ndarray) -> dict[int, np.ndarray]:
        now = utcnow().timestamp()
        with self.store.transaction() as tx:
            row = tx.current_row(memory_id)
            if row is None:
                raise NotFoundError(f"no memory with id {memory_id!r}")
            tx.rewrite(row, text, pipeline.text_hash(text), vec, now, metadata=meta)
            tx.history([(memory_id, "UPDATE", row["text"], text, now, row["user_id"], row["agent_id"], row["run_id"],
                         None, "[]")])
        return {int(row["rid"]): vec}

    async def delete(self, memory_id: str) -> dict[str, Any]:
        """Remove a memory and its vector now; its history records the deletion."""
        self._check_open()
        from .forget import delete_one

        await asyncio.to_thread(delete_one, self, memory_id)
        await pipeline.run_derived(self, {}, [])
        return {"id": memory_id, "event": "DELETE", "message": "Memory deleted"}

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Forget a scope: memories, vectors, graph, history and raw messages. Leaves no trace."""
        self._check_open()
        from .forget import forget_scope

        scope = make_scope(user_id, agent_id, run_id)
        count = await asyncio.to_thread(forget_scope, self, scope)
        await pipeline.run_derived(self, {}, [])
        return {"deleted": count, "message": f"Forgot {count} memories"}

    async def history(self, memory_id: str) -> list[dict[str, Any]]:
        self._check_open()
        return await asyncio.to_thread(self.store.history, memory_id)

    async def reset(self) -> None:
        """Erase every memory, history entry, message and relation of this store."""
        self._check_open()
        from .forget import reset_all

        await asyncio.to_thread(reset_all, self)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        try:
            self.vectors.snapshot()
        finally:
            try:
                if self.graph_sync is not None:
                    self.graph_sync.close()  # releases the on-disk graph's lock even if the snapshot failed
            finally:
                self.store.close()

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def graph(self) -> Any:
        """The graph store (``.graph.graph(scope)`` is an rdflib Graph for SPARQL), or None."""
        return None if self.graph_sync is None else self.graph_sync.graph

    def __repr__(self) -> str:
        where = self.directory or IN_MEMORY
        return f"<{type(self).__name__} path={where!r} dims={self.dims} pid={os.getpid()} thread={threading.get_ident()}>"


def _check_metadata(metadata: Any) -> dict[str, Any]:
    meta = validate_metadata(metadata)
    clash = [k for k in RESERVED_METADATA if k in meta]
    if clash:
        raise ConfigError(
            f"metadata may not use the reserved key(s) {clash}: scope is given by the user_id/agent_id/run_id arguments"
        )
    return meta


def _summarise(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    added = [
        {k: e[k] for k in ("source", "relationship", "destination") if k in e}
        for e in events if e.get("event", "ADD") in ("ADD", "UPDATE")  # UPDATE: new, and closed an older value
    ]
    closed = [c for e in events for c in e.get("closed", [])]
    return {"added": added, "closed": closed}
