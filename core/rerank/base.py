"""The reranker protocol: scores for (query, candidate text) pairs, read together.

A search whose config sets ``rerank_weight`` hands the text of its ``rerank_pool`` best candidates to the
memory's reranker, and blends the answer into their ranking (``search/rerank.py``). Rerankers see the query
and a candidate at once, which the retrievers, each of which embeds or indexes texts alone, never do.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers the query: higher is better, one float per text, in order.

    Only the order and spread of the scores within one call matter (they are standardised before they are
    blended), so any scale will do. ``score`` may be blocking: a search runs on a worker thread. ``settings``
    says what makes its scores (a second ``Memory`` on an open store must agree).
    """

    settings: dict[str, Any]

    def score(self, query: str, texts: list[str]) -> np.ndarray: ...


def as_scores(values: object, n: int) -> np.ndarray:
    """Check a reranker's answer and return it as a float64 array of ``n`` finite scores."""
    from ..errors import ProviderError

    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ProviderError(f"reranker returned {arr.shape[0]} scores for {n} texts; it must score every text once")
    if not np.isfinite(arr).all():
        raise ProviderError("reranker returned NaN or infinite scores")
    return arr
