"""The store tests of langgraph-checkpoint-postgres (its sdist's tests/test_store.py and
tests/test_async_store.py) against MemlayerStore: the ``store`` fixture, ``_create_vector_store`` and
``PostgresStore``/``AsyncPostgresStore.from_conn_string`` construct a MemlayerStore (no database is
created), and the TTL tests' helpers that reach into the PostgreSQL table (backdating an item's expiry,
reading it back, checking the row is there) do the same through memlayer; every test body runs as shipped."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from langchain_memlayer._store_values import encode_namespace
from memlayer.records import MemoryRecord
from tests.langchain.conformance.shims import AsyncBackend, AsyncNewStore, NewStore, SyncBackend
from tests.upstream import Unavailable, adopt, load_tests, loaded, sdist_root, unavailable

SQL = "tests the PostgreSQL backend's internals, not the store contract: "
REORDERED = ("reorders rows by rewriting updated_at with SQL inside the test body (store._cursor()), which no "
             "store but PostgreSQL's has; tests/langchain/test_store_ttl.py pages past an expired item instead")
SKIPS = {
    "test_escape_like_literal": SQL + "its private LIKE escaping",
    "test_namespace_match_pattern": SQL + "its private LIKE pattern builder",
    "test_nonnull_migrations": SQL + "its SQL migrations",
    "test_omit_expired_search_pagination": REORDERED,
}
# Tens of thousands of concurrent operations (minutes here), and TTL tests that sleep 17 s: they run in CI,
# not with -m "not slow".
LARGE_BATCHES = ("test_large_batches", "test_large_batches_async")
SLEEPING = ("test_store_ttl",)
ASYNC_SKIPS = {
    "test_no_running_loop": SQL + "AsyncPostgresStore's refusal of sync calls on its own event loop "
                            "(MemlayerStore serves sync calls from any thread)",
    "test_abatch_uses_single_pool_checkout": SQL + "its connection pool",
    "test_omit_expired_search_pagination": REORDERED,
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
def store(request: pytest.FixtureRequest) -> Iterator[NewStore]:
    """As theirs: a store with a TTL config of 6 seconds, refreshed on read and swept every 3, sweeper running
    (the async tests get the store whose sweeper controls they await)."""
    minutes = sync_tests.TTL_MINUTES
    ttl = {"default_ttl": minutes, "refresh_on_read": True, "sweep_interval_minutes": minutes / 2}
    new = AsyncNewStore(ttl=ttl) if inspect.iscoroutinefunction(request.function) else NewStore(ttl=ttl)
    NewStore.start_ttl_sweeper(new)
    yield new
    NewStore.stop_ttl_sweeper(new)


def _row(store: NewStore, ns: tuple[str, ...], key: str) -> MemoryRecord | None:
    """The item's memory, expired or not (what their helpers read from the store table)."""
    rows = store.memory.get_all(agent_id="langgraph", include_expired=True,
                                filters={"lg_store": store.name, "lg_ns": encode_namespace(ns), "lg_key": key})
    return MemoryRecord.from_dict(rows["results"][0]) if rows["results"] else None


def _expire_now(store: NewStore, ns: tuple[str, ...], key: str) -> None:
    """Backdate the item's expiry a minute into the past without deleting it (unswept), in the store itself as
    theirs does in its table: memlayer's update() takes no expiry that has already passed."""
    row = _row(store, ns, key)
    assert row is not None
    db = store.memory.async_memory.store
    with db.transaction() as tx:
        tx.set_expiry(row.id, (datetime.now(timezone.utc) - timedelta(minutes=1)).timestamp(), db.get(row.id).ttl)


def _row_exists(store: NewStore, ns: tuple[str, ...], key: str) -> bool:
    return _row(store, ns, key) is not None


def _stored_expires_at(store: NewStore, ns: tuple[str, ...], key: str) -> datetime | None:
    row = _row(store, ns, key)
    assert row is not None
    return None if row.expires_at is None else datetime.fromisoformat(row.expires_at)


async def _aexpire_now(store: NewStore, ns: tuple[str, ...], key: str) -> None:
    _expire_now(store, ns, key)


async def _arow_exists(store: NewStore, ns: tuple[str, ...], key: str) -> bool:
    return _row_exists(store, ns, key)


async def _astored_expires_at(store: NewStore, ns: tuple[str, ...], key: str) -> datetime | None:
    return _stored_expires_at(store, ns, key)


try:
    root = sdist_root("langgraph-checkpoint-postgres")
    sync_tests = load_tests(root, "test_store")
    async_tests = load_tests(root, "test_async_store")
except Unavailable as exc:
    unavailable(str(exc))
else:
    sync_tests.PostgresStore = SyncBackend  # what the tests construct, and the table helpers, change
    sync_tests._create_vector_store = _create_vector_store
    sync_tests._expire_now, sync_tests._row_exists = _expire_now, _row_exists
    sync_tests._stored_expires_at = _stored_expires_at
    async_tests.AsyncPostgresStore = AsyncBackend
    async_tests._create_vector_store = _acreate_vector_store
    async_tests._aexpire_now, async_tests._arow_exists = _aexpire_now, _arow_exists
    async_tests._astored_expires_at = _astored_expires_at
    fake_embeddings = loaded(root, "conftest").fake_embeddings  # its one fixture that needs no database
    adopt(globals(), sync_tests, SKIPS, slow=SLEEPING)
    adopt(globals(), async_tests, ASYNC_SKIPS, slow=LARGE_BATCHES + SLEEPING, suffix="_async")
