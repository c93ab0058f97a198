"""Fixtures shared by LangGraph's store tests run against MemlayerStore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.langchain.conformance.shims import OPEN, new_store


@pytest.fixture(autouse=True)
def _close_memories() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


@pytest.fixture
def store() -> object:
    """The ``store`` fixture of the SQL backends' tests, built as ours (no TTL: not supported yet)."""
    return new_store()
