"""The store tests of langgraph-checkpoint-sqlite (its sdist's tests/test_store.py and
tests/test_async_store.py) against MemlayerStore: ``SqliteStore``/``AsyncSqliteStore.from_conn_string``
and the ``store`` fixture construct a MemlayerStore; every test body runs as shipped."""

from __future__ import annotations

from tests.langchain.conformance.shims import AsyncBackend, SyncBackend
from tests.upstream import Unavailable, adopt, load_tests, sdist_root, unavailable

SQL = "tests the SQLite backend's internals, not the store contract: "
SYNC_SKIPS = {
    "test_nonnull_migrations": SQL + "its SQL migrations",
    "test_escape_glob_literal": SQL + "its private GLOB escaping",
    "test_namespace_match_pattern": SQL + "its private GLOB pattern builder",
    "test_list_namespaces_prefix_uses_indexable_condition": SQL + "the SQL it generates",
    "test_vector_store_initialization": SQL + "its vector tables in sqlite_master (store.conn)",
    "test_sql_injection_vulnerability": SQL + "its refusal of filter keys that are not SQL-safe (MemlayerStore "
                                        "takes any key: keys are percent-encoded data, never SQL)",
}
# Tens of thousands of concurrent operations (minutes here): they run in CI, not with -m "not slow".
LARGE_BATCHES = ("test_large_batches_async",)
ASYNC_SKIPS = {
    "test_no_running_loop": SQL + "AsyncSqliteStore's refusal of sync calls on its own event loop "
                            "(MemlayerStore serves sync calls from any thread)",
}

try:
    root = sdist_root("langgraph-checkpoint-sqlite")
    sync_tests = load_tests(root, "test_store")
    async_tests = load_tests(root, "test_async_store")
except Unavailable as exc:
    unavailable(str(exc))
else:
    sync_tests.SqliteStore = SyncBackend  # the one change: what the tests construct
    async_tests.AsyncSqliteStore = AsyncBackend
    adopt(globals(), sync_tests, SYNC_SKIPS)
    adopt(globals(), async_tests, ASYNC_SKIPS, slow=LARGE_BATCHES, suffix="_async")
