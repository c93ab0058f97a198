"""Fusing the ranked lists of several retrievers into one score per memory, and trimming to a budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ..records import MemoryRecord
from ..tokens import count_tokens

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
    dense: dict[int, float], lo: float, hi: float, dense_weight: float, others: list[tuple[dict[int, float], float]],
    rids: set[int],
) -> dict[int, float]:
    """Dense similarity min-max scaled by (lo, hi) of its candidate list, plus each other retriever's
    score divided by its best, weighted; a retriever that did not propose a memory adds 0."""
    span = (hi - lo) or 1.0
    out = {r: dense_weight * (dense[r] - lo) / span if r in dense else 0.0 for r in rids}
    for by_id, weight in others:
        top = max(by_id.values(), default=0.0) or 1.0
        for r, v in by_id.items():
            if r in out:
                out[r] += weight * v / top
    return out


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
