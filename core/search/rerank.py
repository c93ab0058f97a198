"""Blending a reranker's scores into a search's ranking.

The reranker reads the query beside each of the ``rerank_pool`` best candidates (in the search's own order,
``scores.search_order``). Its scores are standardised over the pool (their scale is the reranker's own:
cosines, logits) and added with ``rerank_weight`` times the spread of the candidates' fused scores over the same
pool: within the pool the order is that of ``z(fused) + rerank_weight * z(reranker)``, and the result stays on
the fused scale, so a memory outside the pool keeps its score and its place against them.
"""

from __future__ import annotations

import numpy as np


def blend(values: np.ndarray, reranked: np.ndarray, weight: float) -> np.ndarray:
    """``values`` (the pool's fused scores) with the reranker's scores added as described above."""
    if len(values) < 2 or weight <= 0:
        return values
    spread = float(reranked.std())
    if spread == 0.0:
        return values  # the reranker cannot tell them apart: nothing to add
    scale = float(values.std()) or 1.0  # fused scores all alike: the reranker alone orders them
    return values + weight * scale * (reranked - float(reranked.mean())) / spread
