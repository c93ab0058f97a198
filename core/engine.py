"""The engine: everything an operation needs, opened once per store — the system of record, the two
projections derived from it (vector index, graph), the providers (embedder, LLM, extractor) and the
settings. ``AsyncMemory`` is a thin facade over it; the operations in ``memlayer.ops`` take it as their
first argument and never reach into the facade.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from . import registry
from .clock import Clock, SystemClock, resolve_clock
from .config import IN_MEMORY, MemoryConfig
from .embeddings.base import as_matrix
from .errors import ConfigError, StoreError
from .projections.graph import GraphProjection
from .projections.vectors import VectorProjection
from .providers import (
    built_here,
    close_provider,
    resolve_embedder,
    resolve_extractor,
    resolve_graph,
    resolve_llm,
    resolve_reranker,
)
from .rerank.base import Reranker, as_scores
from .search.config import SearchConfig
from .storage import Selection, Store, StoredMemory, open_store
from .storage.recalls import RecallBuffer
from .types import Scope, Usage

log = logging.getLogger("memlayer")
T = TypeVar("T")
_OPEN: dict[str, Engine] = {}  # open engines by store location: one per store and process
_OPEN_LOCK = threading.Lock()


class Engine:
    """One open store with its projections and providers.

    ``Engine.acquire(config)`` opens it once per store and process: a second ``Memory()`` on the same path
    (a re-run notebook cell, a CLI command inside a running app) shares the open engine, and ``release()``
    closes it when the last user is done. A second opener with different settings is refused, naming them.
    """

    _users = 0
    _key: str | None = None

    @classmethod
    def acquire(cls, config: MemoryConfig) -> Engine:
        key = _share_key(config)
        if key is None:
            engine = cls(config)
            engine._users = 1
            return engine
        with _OPEN_LOCK:
            found = _OPEN.get(key)
            if found is not None and getattr(found.store, "closed", False):
                found = None  # its store was closed under it (a simulated crash): open afresh
            if found is None:
                engine = _OPEN[key] = cls(config)
                engine._key = key
            else:
                engine = found
                differ = _differences(engine.config, config)
                if differ:
                    raise ConfigError(
                        f"the store at {key} is already open in this process with other settings ({', '.join(differ)}); "
                        "close that Memory first, or open this one with the same settings"
                    )
            engine._users += 1
            return engine

    async def release(self) -> None:
        """One user is done; the last one closes the engine."""
        with _OPEN_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            if self._key is not None:
                _OPEN.pop(self._key, None)
        await self.aclose()

    def __init__(self, config: MemoryConfig) -> None:
        self.config = config
        location = config.resolved_path()
        self.directory = None if location == IN_MEMORY else location
        self.embedder = resolve_embedder(config.embedder)
        self.llm = resolve_llm(config.llm)
        self.dims = int(self.embedder.dims)
        self.store: Store = open_store(config.store, self.directory)
        self.graph: GraphProjection | None = None
        try:
            self._check_dims()
            self.vectors = VectorProjection(
                self.store, lambda: registry.create("vector_indexes", config.vector_index, dims=self.dims),
                self.directory, snapshot_min=config.snapshot_min,
            )
            self.vectors.open()
            graph, mode = resolve_graph(config.graph, self.directory, self.embedder,
                                        remote=bool(getattr(self.store, "remote", False)))
            if graph is not None:
                self.graph = GraphProjection(self.store, graph, self.directory, mode=mode)
                self.graph.open()
            watch = getattr(self.store, "watch", None)  # other processes' writes wake the projections
            self._unwatch: Callable[[], None] = watch(self._catch_up) if callable(watch) else (lambda: None)
        except BaseException:
            self.store.close()
            raise
        self.search_config = SearchConfig.coerce(config.search)
        self.clock: Clock = resolve_clock(config.clock)
        self.retention = config.retention
        self.next_sweep = 0.0  # this process's estimate of when the next automatic sweep is due (ops.sweep)
        # recall counts of a remote store are written on the helper thread (the server does the work); a local
        # store's by the search that completes a batch, so that no write runs on this host beside the next searches
        self.recalls = RecallBuffer(self.store, self.clock.now, enabled=config.retention.track_recalls,
                                    flush_size=config.retention.recall_flush_size,
                                    flush_interval=config.retention.recall_flush_interval,
                                    background=self.background if self.store.remote else None)
        self.usage = Usage()
        self._extractor: Any = None
        self._reranker: Any = None
        self._reranker_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def background(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` on the engine's helper threads (e.g. a graph traversal beside a search's ranking);
        the future can be waited for from a worker thread or awaited with ``asyncio.wrap_future``."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memlayer-engine")
        return self._pool.submit(fn, *args, **kwargs)

    def _check_dims(self) -> None:
        stored = self.store.get_meta("dims")
        if stored is None:
            self.store.set_meta("dims", str(self.dims))
        elif int(stored) != self.dims:
            raise StoreError(
                f"this store was built with a {stored}-dimensional embedder but the configured one has {self.dims} "
                "dimensions; use the original embedder, or a new store (another directory, or for PostgreSQL "
                "another database or ?schema=...)"
            )

    @property
    def extractor(self) -> Any:
        """The extractor used by add(infer=True), built on first use."""
        if self._extractor is None:
            self._extractor = resolve_extractor(self.config.extractor, self.llm, self.config.related_memories)
        return self._extractor

    def reranker(self) -> Reranker:
        """The reranker of searches with a ``rerank_weight``, built on first use (once); a ConfigError when
        this memory has none."""
        with self._reranker_lock:
            if self._reranker is None:
                self._reranker = resolve_reranker(self.config.reranker)  # None when none is configured (or False)
            if self._reranker is None:
                raise ConfigError(
                    "this search asks for reranking (rerank_weight > 0) but the memory has no reranker: open it "
                    "with reranker='late' (the embedder's model, no download) or a cross-encoder, or search "
                    "without rerank_weight"
                )
            return self._reranker

    def rerank(self, query: str, texts: list[str]) -> np.ndarray:
        """The reranker's scores of ``texts`` for ``query``, checked (blocking, on the calling thread)."""
        return as_scores(self.reranker().score(query, list(texts)), len(texts))

    # -- embeddings -----------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-normalised float32 embeddings, computed on the calling thread (blocking)."""
        mat = as_matrix(self.embedder.embed(list(texts)), len(texts), self.dims)
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        return np.ascontiguousarray(mat / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)

    # -- the memories an extractor decides against ----------------------------------------------
    def related(self, scope: Scope, texts: list[str], attributes: set[str]) -> list[StoredMemory]:
        """Current (unexpired) memories of exactly ``scope`` near any of ``texts``, plus those holding
        ``attributes`` (blocking). Never a memory of another scope: decisions may only touch the scope given."""
        now = self.clock.now()
        allowed = self.store.select_rids(Selection(scope, exact=True, now=now))
        rids: list[int] = []
        if len(allowed) and texts:
            for v in self.embed(texts):
                _, ids = self.vectors.search(v, self.config.related_memories, allowed)
                rids.extend(int(i) for i in ids if int(i) not in rids)
        rows = self.store.rows(rids)
        out = [rows[r] for r in rids if r in rows]
        seen = {m.id for m in out}
        extra = self.store.current_by_attribute(scope, sorted(attributes), at=now.timestamp()) if attributes else []
        return out + [m for m in extra if m.id not in seen]

    # -- projections ----------------------------------------------------------------------------
    async def project(self, fresh: dict[int, np.ndarray], graph_seqs: list[int]) -> list[dict[str, Any]]:
        """The vector index and the graph catch up concurrently after a commit; returns the graph events of
        the given outbox entries."""
        tasks: list[Any] = [asyncio.to_thread(self.vectors.catch_up, fresh)]
        if self.graph is not None:
            tasks.append(asyncio.to_thread(self.graph.catch_up))
        done = await asyncio.gather(*tasks)
        if self.graph is None:
            return []
        applied: dict[int, Any] = done[1]
        return [r for seq in graph_seqs for r in (applied.get(seq) or [])]

    def _catch_up(self) -> None:
        """Another process wrote to the store (or it is time to look): bring the projections up to date now,
        in the background, rather than in the next call that needs them."""
        self.vectors.catch_up()
        if self.graph is not None:
            self.graph.catch_up()

    def health(self) -> dict[str, Any]:
        """Whether the store answers and each projection is caught up (and why not)."""
        out: dict[str, Any] = {"store": self.store.location}
        try:
            out["memories"] = self.store.count()
            out["vectors"] = self.vectors.health()
            out["graph"] = None if self.graph is None else self.graph.health()
        except StoreError as exc:
            out.update(ok=False, error=str(exc))
            return out
        out["ok"] = out["vectors"]["ok"] and (out["graph"] is None or out["graph"]["ok"])
        return out

    # -- closing --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        try:
            await asyncio.to_thread(self.close)
        finally:  # the LLM and embedder built from the config close their HTTP clients; objects passed in stay open
            for provider, spec in ((self.llm, self.config.llm), (self.embedder, self.config.embedder)):
                if provider is not None and built_here(spec):
                    await close_provider(provider)

    def close(self) -> None:
        self._unwatch()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.recalls.try_flush()  # counts only: a store that cannot take them now loses them
        try:
            self.vectors.close()
        finally:
            try:
                if self.graph is not None:
                    self.graph.close()  # releases the on-disk graph's lock even if the snapshot failed
            finally:
                self.store.close()


def _share_key(config: MemoryConfig) -> str | None:
    """What identifies a store to share within the process (None: never shared, e.g. in memory)."""
    location = config.resolved_path()
    if location == IN_MEMORY or not (config.store is None or isinstance(config.store, str)):
        return None
    store = None if config.store is None else re.sub(r"(://[^:/@]*):[^@/]*@", r"\1@", config.store)  # no password
    return location if store is None else f"{store} ({location})"  # (the key appears in error messages)


def _describe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {k: _describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    kind = type(value)  # a provider object: what it says its settings are, else its kind, size and model
    settings = getattr(value, "settings", None)
    if isinstance(settings, dict):
        return (kind.__module__, kind.__qualname__, _describe(settings))
    return (kind.__module__, kind.__qualname__, getattr(value, "dims", None), getattr(value, "model", None))


def _differences(old: MemoryConfig, new: MemoryConfig) -> list[str]:
    a, b = old.model_dump(), new.model_dump()
    differ = {k for k in a if k != "clock" and _describe(a[k]) != _describe(b[k])}
    if _clock(old.clock) is not _clock(new.clock):  # a clock object is state its caller moves: only itself is the same
        differ.add("clock")
    return sorted(differ)


def _clock(clock: Any) -> Any:
    return None if clock is None or isinstance(clock, SystemClock) else clock
