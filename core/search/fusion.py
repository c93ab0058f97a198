"""Fusing the ranked lists of several retrievers into one score per memory, and trimming to a budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from ..records import MemoryRecord
from ..tokens import count_tokens
from .scores import Scores

R = TypeVar("R", bound=MemoryRecord)


def rrf(ranked: list[tuple[list[int], float]], k: int) -> dict[int, float]:
    """Weighted reciprocal-rank fusion of several ranked id lists."""
    scores: dict[int, float] = {}
    for ids, weight in ranked:
        for rank, rid in enumerate(ids):
            scores[rid] = scores.get(rid, 0.0) + weight / (k + rank + 1)
    return scores


def weighted(ranked: list[tuple[dict[int, float], float]]) -> dict[int, float]:
    """Weighted sum of min-max normalised retriever scores."""
    scores: dict[int, float] = {}
    for by_id, weight in ranked:
        if not by_id:
            continue
        lo, hi = min(by_id.values()), max(by_id.values())
        span = (hi - lo) or 1.0
        for rid, s in by_id.items():
            scores[rid] = scores.get(rid, 0.0) + weight * (s - lo) / span
    return scores


def scaled_sum(
    dense: Scores, lo: float, hi: float, dense_weight: float, others: list[tuple[Scores, float]], rids: np.ndarray,
) -> Scores:
    """Over ``rids``: dense similarity min-max scaled by (lo, hi) of its candidate list, plus each other
    retriever's score divided by its best, weighted; a retriever that did not propose a memory adds 0."""
    span = (hi - lo) or 1.0
    held, sim = dense.find(rids)
    out = np.where(held, dense_weight * (sim - lo) / span, 0.0)
    for scores, weight in others:
        top = scores.best() or 1.0
        held, value = scores.find(rids)
        out = out + np.where(held, weight * value / top, 0.0)
    return Scores(rids, out)


def trim_to_budget(results: Sequence[R], max_tokens: int) -> list[R]:
    """Keep results in rank order while their memory texts fit in ``max_tokens`` (tiktoken)."""
    kept, used = [], 0
    for r in results:
        n = count_tokens(r.memory)
        if used + n > max_tokens:
            break
        kept.append(r)
        used += n
    return kept
