"""The store tests of langgraph-checkpoint-postgres (its sdist's tests/test_store.py and
tests/test_async_store.py) against MemlayerStore: the ``store`` fixture, ``_create_vector_store`` and
``PostgresStore``/``AsyncPostgresStore.from_conn_string`` construct a MemlayerStore (no database is
created); every test body runs as shipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from tests.langchain.conformance.shims import AsyncBackend, AsyncNewStore, NewStore, SyncBackend
from tests.upstream import Unavailable, adopt, load_tests, loaded, sdist_root, unavailable

SQL = "tests the PostgreSQL backend's internals, not the store contract: "
TTL = "TTL: MemlayerStore refuses ttl until memlayer memories get lifetimes (issue 20, not built yet)"
SKIPS = {
    "test_escape_like_literal": SQL + "its private LIKE escaping",
    "test_namespace_match_pattern": SQL + "its private LIKE pattern builder",
    "test_nonnull_migrations": SQL + "its SQL migrations",
    "test_store_ttl": TTL,
    "test_omit_expired_filters_read_paths": TTL,
    "test_omit_expired_disabled_preserves_expired_rows": TTL,
    "test_omit_expired_refresh_ttl_only_refreshes_live_rows": TTL,
    "test_omit_expired_search_pagination": TTL,
}
# Tens of thousands of concurrent operations (minutes here): they run in CI, not with -m "not slow".
LARGE_BATCHES = ("test_large_batches", "test_large_batches_async")
ASYNC_SKIPS = {
    "test_no_running_loop": SQL + "AsyncPostgresStore's refusal of sync calls on its own event loop "
                            "(MemlayerStore serves sync calls from any thread)",
    "test_abatch_uses_single_pool_checkout": SQL + "its connection pool",
    "test_store_ttl": TTL,
    "test_omit_expired_filters_read_paths": TTL,
    "test_omit_expired_disabled_preserves_expired_rows": TTL,
    "test_omit_expired_refresh_ttl_only_refreshes_live_rows": TTL,
    "test_omit_expired_search_pagination": TTL,
}


def _index(vector_type: str, distance_type: str, embeddings: Any, text_fields: list[str] | None) -> dict[str, Any]:
    return {"dims": embeddings.dims, "embed": embeddings, "ann_index_config": {"vector_type": vector_type},
            "distance_type": distance_type, "fields": text_fields}


@contextmanager
def _create_vector_store(vector_type: str, distance_type: str, fake_embeddings: Any,
                         text_fields: list[str] | None = None, enable_ttl: bool = True) -> Iterator[NewStore]:
    yield NewStore(index=_index(vector_type, distance_type, fake_embeddings, text_fields))


@asynccontextmanager
async def _acreate_vector_store(vector_type: str, distance_type: str, fake_embeddings: Any,
                                text_fields: list[str] | None = None) -> AsyncIterator[NewStore]:
    yield AsyncNewStore(index=_index(vector_type, distance_type, fake_embeddings, text_fields))


@pytest.fixture
def store() -> NewStore:
    return NewStore()


try:
    root = sdist_root("langgraph-checkpoint-postgres")
    sync_tests = load_tests(root, "test_store")
    async_tests = load_tests(root, "test_async_store")
except Unavailable as exc:
    unavailable(str(exc))
else:
    sync_tests.PostgresStore = SyncBackend  # what the tests construct, and nothing else, changes
    sync_tests._create_vector_store = _create_vector_store
    async_tests.AsyncPostgresStore = AsyncBackend
    async_tests._create_vector_store = _acreate_vector_store
    fake_embeddings = loaded(root, "conftest").fake_embeddings  # its one fixture that needs no database
    adopt(globals(), sync_tests, SKIPS)
    adopt(globals(), async_tests, ASYNC_SKIPS, slow=LARGE_BATCHES, suffix="_async")
