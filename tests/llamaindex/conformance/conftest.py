"""Close the memlayer stores LlamaIndex's tests constructed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    from tests.llamaindex.conformance.test_llamaindex_memory import OPEN

    yield
    while OPEN:
        OPEN.pop().close()
