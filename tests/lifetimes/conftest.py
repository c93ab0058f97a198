"""A Memory on a manual clock: tests move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memlayer import Memory
from memlayer.clock import ManualClock

START = "2025-06-02T09:00:00+00:00"  # a Monday


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_memory(tmp_path, hash_embedder, clock) -> Iterator[Callable[..., Any]]:
    """``make_memory(**options)``: a Memory on disk (no graph, the cheap embedder, the manual clock);
    automatic sweeps are off unless the options turn them on. Closed at the end of the test."""
    opened: list[Memory] = []

    def make(**options: Any) -> Memory:
        retention = {"sweep_interval": None, **options.pop("retention", {})}
        m = Memory(str(tmp_path / f"store{len(opened)}"), embedder=hash_embedder, graph=options.pop("graph", False),
                   clock=clock, retention=retention, **options)
        opened.append(m)
        return m

    yield make
    for m in opened:
        m.close()


@pytest.fixture
def memory(make_memory) -> Any:
    return make_memory()
