"""LlamaIndex's own memory tests (llama-index-core's tests/memory/test_memory_base.py and
test_chat_memory_buffer.py, of the installed version) against MemlayerMemory: ``Memory(...)``,
``Memory.from_defaults(...)`` and ``ChatMemoryBuffer.from_defaults(...)`` build a MemlayerMemory over a
fresh in-memory memlayer store; every test body runs as shipped.

Where the tests come from: ``$MEMLAYER_LLAMA_INDEX_TESTS`` (the ``llama-index-core/tests`` folder of a
checkout of the installed version), else the version's sdist from PyPI. llama-index-core's sdists ship
no tests (its build includes only ``llama_index/``), so without a checkout these tests skip with that
reason, also under CI; a failed download fails under CI. The points these tests exercise are also
tests of ours: tests/llamaindex/test_issue22.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llamaindex_memlayer import MemlayerMemory
from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from tests.upstream import (
    NotShipped,
    Unavailable,
    adopt,
    installed_version,
    load_tests,
    sdist_root,
    unavailable,
)

OPEN: list[Memory] = []
INTERNALS = "tests LlamaIndex Memory's internals, not the BaseMemory contract: "
SKIPS = {
    "test_memory_base": {name: INTERNALS + "its token estimator" for name in (
        "test_estimate_token_count_text", "test_estimate_token_count_image", "test_estimate_token_count_video",
        "test_estimate_token_count_audio", "test_estimate_token_count_document", "test_estimate_token_count_tool_call",
        "test_estimate_token_count_thinking", "test_estimate_token_count_citable_block")},
    "test_chat_memory_buffer": {},
}


def build(*_: Any, **options: Any) -> MemlayerMemory:
    """What ``Memory(...)``/``*.from_defaults(...)`` build here: the same options, plus a memlayer store."""
    store = Memory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    OPEN.append(store)
    return MemlayerMemory.from_defaults(memory=store, user_id="llamaindex-tests", threshold=0.1, **options)


class Construct:
    """Stands in for the class a test constructs; ``Class(...)`` and ``Class.from_defaults(...)`` alike."""

    def __new__(cls, *args: Any, **options: Any) -> MemlayerMemory:  # type: ignore[misc]
        return build(*args, **options)

    from_defaults = staticmethod(build)


def _root() -> Path:
    given = os.environ.get("MEMLAYER_LLAMA_INDEX_TESTS")
    if given:
        return Path(given).resolve().parent
    return sdist_root("llama-index-core")


try:
    root = _root()
    modules = {name: load_tests(root, f"memory.{name}") for name in SKIPS}
except NotShipped as exc:
    unavailable(f"llama-index-core {installed_version('llama-index-core')}: {exc} (set MEMLAYER_LLAMA_INDEX_TESTS "
                "to a checkout's llama-index-core/tests to run them)", ci_fails=False)
except Unavailable as exc:
    unavailable(str(exc))
else:
    for name, module in modules.items():
        for constructed in ("Memory", "ChatMemoryBuffer"):
            if hasattr(module, constructed):
                setattr(module, constructed, Construct)  # the one change: what the tests construct
        adopt(globals(), module, SKIPS[name], suffix=f"_{name}", strict=False)  # a checkout may differ
