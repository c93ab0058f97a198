"""search(): candidates from each retriever, fused, then trimmed to the limit, threshold and budget."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tokens import count_tokens
from ..types import Scope
from .config import SearchConfig
from .lexical import lexical_search

if TYPE_CHECKING:
    from ..memory import AsyncMemory


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


async def run_search(
    mem: AsyncMemory, query: str, scope: Scope, *, limit: int, filters: dict[str, Any] | None,
    threshold: float | None, max_tokens: int | None, as_of: datetime | None, include_expired: bool,
    config: SearchConfig,
) -> dict[str, Any]:
    where, params = mem.store.where(scope, filters, as_of=as_of, include_expired=include_expired)
    allowed, qvec = await asyncio.gather(
        asyncio.to_thread(mem.store.candidate_rids, where, params), mem._embed([query])
    )
    relations_task = None
    if config.include_relations and mem.graph_sync is not None and config.relation_limit:
        relations_task = asyncio.create_task(mem.graph_sync.search(scope, query, as_of=as_of, config=config))
    results: list[dict[str, Any]] = []
    if len(allowed) and limit > 0:
        results = await asyncio.to_thread(
            _rank, mem, query, qvec[0], allowed, where, params, limit, threshold, config, scope, as_of
        )
    relations: list[dict[str, Any]] = []
    if relations_task is not None:
        relations = await relations_task
    if max_tokens is not None:
        results = trim_to_budget(results, max_tokens)
    return {"results": results, "relations": relations}


def _rank(
    mem: AsyncMemory, query: str, qvec: np.ndarray, allowed: np.ndarray, where: str, params: list[Any],
    limit: int, threshold: float | None, config: SearchConfig, scope: Scope, as_of: datetime | None,
) -> list[dict[str, Any]]:
    pool = max(limit, config.candidates)
    d_scores, d_ids = mem.vectors.search(qvec, pool, allowed)
    dense = {int(i): float(s) for i, s in zip(d_ids, d_scores, strict=True)}
    lists: list[tuple[list[int], float]] = [([int(i) for i in d_ids], config.dense_weight)]
    by_score: list[tuple[dict[int, float], float]] = [(dense, config.dense_weight)]
    if config.lexical_weight > 0:
        lex = lexical_search(mem.store, query, where, params, pool)
        lists.append(([r for r, _ in lex], config.lexical_weight))
        by_score.append((dict(lex), config.lexical_weight))
    if config.graph_weight > 0 and mem.graph_sync is not None:
        graph_hits = mem.graph_sync.memory_rids(scope, query, as_of=as_of, allowed=allowed)
        ordered = sorted(graph_hits, key=lambda r: -graph_hits[r])
        lists.append((ordered, config.graph_weight))
        by_score.append((graph_hits, config.graph_weight))
    if len(lists) == 1:
        fused = dense
    else:
        fused = rrf(lists, config.rrf_k) if config.fusion == "rrf" else weighted(by_score)
    missing = np.array([r for r in fused if r not in dense], dtype=np.int64)
    if len(missing):  # similarity of hits found only lexically or through the graph
        m_scores, m_ids = mem.vectors.search(qvec, len(missing), missing)
        dense.update({int(i): float(s) for i, s in zip(m_ids, m_scores, strict=True)})
    order = sorted(fused, key=lambda r: (-fused[r], -dense.get(r, -1.0), r))
    if threshold is not None:
        order = [r for r in order if dense.get(r, -1.0) >= threshold]
    order = order[:limit]
    rows = mem.store.get_by_rids(order)
    out = []
    for rid in order:
        row = rows.get(rid)
        if row is None:  # deleted between the two reads
            continue
        row.pop("hash", None)
        row["score"] = round(fused[rid], 6) if len(lists) > 1 else round(dense[rid], 6)
        row["similarity"] = round(dense.get(rid, 0.0), 6)
        out.append(row)
    return out


def trim_to_budget(results: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """Keep results in rank order while their memory texts fit in ``max_tokens`` (tiktoken)."""
    kept, used = [], 0
    for r in results:
        n = count_tokens(r["memory"])
        if used + n > max_tokens:
            break
        kept.append(r)
        used += n
    return kept
