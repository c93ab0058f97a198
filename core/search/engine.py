"""search(): candidates from each retriever, fused, given context and priors, then trimmed to the
limit, threshold and budget. Every candidate comes from the scope+filter WHERE clause in SQLite."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tokens import count_tokens
from ..types import Scope
from .config import SearchConfig
from .context import Links, ScopeOrder, expand, length_bonus, propagate
from .expand import strip_names
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


async def run_search(
    mem: AsyncMemory, query: str, scope: Scope, *, limit: int, filters: dict[str, Any] | None,
    threshold: float | None, max_tokens: int | None, as_of: datetime | None, include_expired: bool,
    config: SearchConfig,
) -> dict[str, Any]:
    where, params = mem.store.where(scope, filters, as_of=as_of, include_expired=include_expired)
    relations_task = None
    if config.include_relations and mem.graph_sync is not None and config.relation_limit:
        relations_task = asyncio.create_task(mem.graph_sync.search(scope, query, as_of=as_of, config=config))
    # one worker-thread call for the scope, the query embedding and the ranking: each hop between the
    # event loop and a thread costs about as much as scoring a user's memories
    results = await asyncio.to_thread(_search_now, mem, query, where, params, limit, threshold, config, scope, as_of)
    relations: list[dict[str, Any]] = []
    if relations_task is not None:
        relations = await relations_task
    if max_tokens is not None:
        results = trim_to_budget(results, max_tokens)
    return {"results": results, "relations": relations}


def _search_now(
    mem: AsyncMemory, query: str, where: str, params: list[Any], limit: int, threshold: float | None,
    config: SearchConfig, scope: Scope, as_of: datetime | None,
) -> list[dict[str, Any]]:
    speakers = config.speaker_key if config.uses_speakers else None
    order = ScopeOrder.load(mem.store, where, params, config.context_key, speakers)
    if not len(order) or limit <= 0:
        return []  # nothing to rank: the query is not even embedded
    if config.strip_speakers and config.uses_speakers:  # the dense query leaves out the speakers it names
        qvec = mem.embed_now([strip_names(query, order.speakers_named(query))])
    else:
        qvec = mem.embed_now([query])
    return _rank(mem, query, qvec[0], order, where, params, limit, threshold, config, scope, as_of)


def _dense(mem: AsyncMemory, qvec: np.ndarray, k: int, allowed: np.ndarray) -> tuple[list[int], dict[int, float]]:
    scores, ids = mem.vectors.search(qvec, k, allowed)
    return [int(i) for i in ids], {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def _rescore(mem: AsyncMemory, qvec: np.ndarray, dense: dict[int, float], rids: set[int]) -> None:
    """Exact dense similarity for the memories among ``rids`` that the dense list did not hold."""
    missing = np.array(sorted(r for r in rids if r not in dense), dtype=np.int64)
    if len(missing):
        dense.update(_dense(mem, qvec, len(missing), missing)[1])


def _rank(
    mem: AsyncMemory, query: str, qvec: np.ndarray, order: ScopeOrder, where: str, params: list[Any],
    limit: int, threshold: float | None, config: SearchConfig, scope: Scope, as_of: datetime | None,
) -> list[dict[str, Any]]:
    allowed = order.rids
    graph = config.graph_weight > 0 and mem.graph_sync is not None
    dense_only = not (config.lexical_weight > 0 or graph or config.uses_context or config.speaker_boost
                      or config.length_prior)
    pool = limit if dense_only else max(limit, config.candidates)  # dense alone: its top `limit` is the answer
    d_ranked, dense = _dense(mem, qvec, pool, allowed)
    lists: list[tuple[list[int], float]] = [(d_ranked, config.dense_weight)]
    others: list[tuple[dict[int, float], float]] = []
    if config.lexical_weight > 0:
        lex = lexical_search(mem.store, query, where, params, pool)
        lists.append(([r for r, _ in lex], config.lexical_weight))
        others.append((dict(lex), config.lexical_weight))
    if graph:
        assert mem.graph_sync is not None
        graph_hits = mem.graph_sync.memory_rids(scope, query, as_of=as_of, allowed=allowed)
        lists.append((sorted(graph_hits, key=lambda r: -graph_hits[r]), config.graph_weight))
        others.append((graph_hits, config.graph_weight))

    links: Links = {}
    if config.fusion == "rrf" or (len(lists) == 1 and not config.uses_context):
        fused = rrf(lists, config.rrf_k) if len(lists) > 1 else dict(dense)
        if config.uses_context or config.speaker_boost or config.length_prior:
            top = max(fused.values(), default=0.0) or 1.0  # on the scale of the boosts below
            fused = {r: v / top for r, v in fused.items()}
        if config.uses_context:
            links, _ = expand(order, fused, config.context_pool, config.context_gap_s)
    else:
        lo, hi = min(dense.values(), default=0.0), max(dense.values(), default=1.0)
        rids = set(dense).union(*(set(by_id) for by_id, _ in others))
        if config.uses_context:
            prelim = scaled_sum(dense, lo, hi, config.dense_weight, others, rids)
            links, involved = expand(order, prelim, config.context_pool, config.context_gap_s)
            rids |= involved
        _rescore(mem, qvec, dense, rids)  # dense re-scoring of lexical, graph and context candidates
        fused = scaled_sum(dense, lo, hi, config.dense_weight, others, rids)
    if links:
        fused = propagate(fused, links, config.context_inherit, config.context_prev_weight, config.context_next_weight)
    if config.speaker_boost and config.speaker_key:
        named = order.speakers_named(query)
        if named and named != order.all_speakers():  # naming everyone says nothing about whom
            for rid, who in order.speaker_of(fused).items():
                if who in named:
                    fused[rid] += config.speaker_boost
    if config.length_prior:
        for rid, bonus in length_bonus(_lengths(mem, list(fused)), config.length_prior).items():
            fused[rid] += bonus

    _rescore(mem, qvec, dense, set(fused))  # the similarity reported for every result
    ranked = sorted(fused, key=lambda r: (-fused[r], -dense.get(r, -1.0), r))
    if threshold is not None:
        ranked = [r for r in ranked if dense.get(r, -1.0) >= threshold]
    ranked = ranked[:limit]
    rows = mem.store.get_by_rids(ranked)
    out = []
    for rid in ranked:
        row = rows.get(rid)
        if row is None:  # deleted between the two reads
            continue
        row.pop("hash", None)
        row["score"] = round(fused[rid], 6)
        row["similarity"] = round(dense.get(rid, 0.0), 6)
        out.append(row)
    return out


def _lengths(mem: AsyncMemory, rids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for start in range(0, len(rids), 900):
        chunk = rids[start:start + 900]
        marks = ",".join("?" * len(chunk))
        out.update({int(r): int(n) for r, n in mem.store.query(
            f"SELECT rid, length(text) FROM memories WHERE rid IN ({marks})", chunk)})
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
