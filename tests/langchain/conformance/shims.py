"""Construction shims: what LangGraph's store tests construct (``InMemoryStore(...)``,
``SqliteStore.from_conn_string(...)``, ``PostgresStore.from_conn_string(...)`` and their async twins)
builds a ``MemlayerStore`` over a fresh in-memory memlayer ``Memory`` instead. The index configuration is
passed on as LangGraph defines it; a backend's own connection options are dropped. Only construction
changes: every test body runs as shipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langchain_memlayer import MemlayerStore
from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder

OPEN: list[Memory] = []  # closed after each test by the conformance conftest


class ConformanceStore(MemlayerStore):
    """A MemlayerStore with the ``setup()`` the SQL backends' tests call (nothing to set up here)."""

    def setup(self) -> None:
        return None


def index_config(index: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not index:
        return None
    config = dict(index)
    if index.get("text_fields") is not None and not index.get("fields"):
        config["fields"] = list(index["text_fields"])  # the SQLite store's name for LangGraph's "fields"
    return config


class NewStore(ConformanceStore):
    """Stands in for ``InMemoryStore``: a MemlayerStore over a fresh in-memory Memory (a class, so tests
    that spy on ``InMemoryStore.batch`` spy on ours)."""

    def __init__(self, *_: Any, index: Mapping[str, Any] | None = None, ttl: Mapping[str, Any] | None = None,
                 **_backend_options: Any) -> None:
        memory = Memory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
        OPEN.append(memory)
        super().__init__(memory, index=index_config(index), ttl=ttl)  # type: ignore[arg-type]


new_store = NewStore


class AsyncNewStore(NewStore):
    """What ``AsyncSqliteStore``/``AsyncPostgresStore`` build: ``await store.setup()`` and their awaitable
    TTL sweeper controls work on it (MemlayerStore's own are plain methods, callable from any code)."""

    async def setup(self) -> None:  # type: ignore[override]
        return None

    async def sweep_ttl(self) -> int:  # type: ignore[override]
        return await self.asweep_ttl()

    async def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> Any:  # type: ignore[override]
        return MemlayerStore.start_ttl_sweeper(self, sweep_interval_minutes)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        return MemlayerStore.stop_ttl_sweeper(self, timeout)


class SyncBackend:
    """Stands in for ``SqliteStore`` / ``PostgresStore``."""

    @classmethod
    @contextmanager
    def from_conn_string(cls, *_: Any, index: Any = None, **options: Any) -> Iterator[ConformanceStore]:
        yield NewStore(index=index, **options)


class AsyncBackend:
    """Stands in for ``AsyncSqliteStore`` / ``AsyncPostgresStore``."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, *_: Any, index: Any = None, **options: Any) -> AsyncIterator[ConformanceStore]:
        yield AsyncNewStore(index=index, **options)
