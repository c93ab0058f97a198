"""LangGraph's own store tests (langgraph-checkpoint's tests/test_store.py, from its sdist) against
MemlayerStore: ``InMemoryStore(...)`` constructs a MemlayerStore, nothing else changes."""

from __future__ import annotations

from tests.langchain.conformance.shims import new_store
from tests.upstream import Unavailable, adopt, load_tests, sdist_root, unavailable

INTERNALS = "tests LangGraph's own machinery, not a store: "
SKIPS = {
    "test_async_batch_store_resilience": INTERNALS + "AsyncBatchedBaseStore's background task",
    "test_dedupe_ops_maps_repeated_reads_and_puts_to_one_op": INTERNALS + "the private _dedupe_ops helper",
    "test_get_text_at_path": INTERNALS + "the get_text_at_path helper",
    "test_get_text_at_path_with_non_dict_mapping": INTERNALS + "the get_text_at_path helper",
    "test_async_batch_store": INTERNALS + "AsyncBatchedBaseStore batching",
    "test_async_batch_store_handles_cancellation": INTERNALS + "AsyncBatchedBaseStore cancellation",
}

try:
    upstream = load_tests(sdist_root("langgraph-checkpoint"), "test_store")
except Unavailable as exc:
    unavailable(str(exc))
else:
    upstream.InMemoryStore = new_store  # the one change: what the tests construct
    adopt(globals(), upstream, SKIPS)
