"""The vector index protocol. Indexes are derived data: SQLite holds every embedding."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised float32 vectors keyed by int64 ids.

    ``search(..., allowed=ids)`` must return the exact top-k among ``allowed`` (the caller's scope and
    filters, computed in SQLite): never rows outside it and never fewer than ``min(k, len(allowed))``.
    """

    dims: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors under new ids (a re-embedded row is removed first, then added)."""

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), best first, for one query vector of shape (dims,)."""
        ...

    def __len__(self) -> int: ...

    def ids(self) -> np.ndarray: ...

    def save(self, path: str) -> int | None:
        """Write the index to ``path``; return how many vectors the file holds, or None (then the caller keeps
        the index unchanged while it writes). An index whose class sets ``saves_while_in_use = True`` writes the
        state it had when the call started, while searches and writes go on, and returns the count."""
        ...

    def load(self, path: str) -> None: ...
