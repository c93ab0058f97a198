"""The embedder protocol: any object with ``dims`` and ``embed(texts)`` works."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Embeds a batch of texts into an (n, dims) float array.

    Vectors need not be normalised: memlayer L2-normalises them and searches by cosine similarity.
    ``embed`` is called with a whole batch whenever there are several texts. It may be blocking; the
    async core runs it in a worker thread.
    """

    dims: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def as_matrix(vectors: object, n: int, dims: int) -> np.ndarray:
    """Check an embedder's answer and return it as a C-contiguous float32 (n, dims) array."""
    from ..errors import ProviderError

    arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if arr.ndim == 1 and n == 1:
        arr = arr.reshape(1, -1)
    if arr.shape != (n, dims):
        raise ProviderError(f"embedder returned shape {arr.shape}, expected ({n}, {dims}); check its dims")
    if not np.isfinite(arr).all():
        raise ProviderError("embedder returned NaN or infinite values")
    return arr
