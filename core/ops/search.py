"""search(): candidates from each retriever, fused, given context and priors, then trimmed to the limit,
threshold and budget. Every candidate lies in the selection (scope, validity, filters) the store computed.

The graph is traversed once per search: the relations it returns are both the answer's ``relations`` and,
through the memories behind them, the graph retriever's candidates. It runs on its own thread while the
scope is read and the query embedded.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import numpy as np

from ..engine import Engine
from ..records import RelationRecord, SearchAnswer, SearchHit
from ..search.config import SearchConfig
from ..search.context import Links, ScopeOrder, expand, length_bonus, propagate
from ..search.decay import lifetime_bonus
from ..search.expand import strip_names
from ..search.fusion import rrf, scaled_sum, trim_to_budget
from ..search.lexical import terms
from ..storage.base import Selection
from .retention import unlapsed

GRAPH_CANDIDATES = 100  # relations read for the graph retriever (the answer shows ``relation_limit``)


async def search(
    engine: Engine, query: str, selection: Selection, *, limit: int, threshold: float | None,
    max_tokens: int | None, config: SearchConfig,
) -> SearchAnswer:
    graph = engine.graph if (config.include_relations and config.relation_limit) or config.graph_weight > 0 else None
    relations: Future[list[dict[str, Any]]] | None = None
    if graph is not None:
        wanted = max(config.relation_limit, GRAPH_CANDIDATES if config.graph_weight > 0 else 0)
        relations = engine.background(unlapsed, engine, selection, graph.search, selection.scope, query,
                                      hops=config.relation_hops, as_of=selection.as_of, limit=wanted)
    # one worker-thread call for the scope, the query embedding and the ranking: each hop between the
    # event loop and a thread costs about as much as scoring a user's memories
    hits = await asyncio.to_thread(_search_now, engine, query, selection, limit, threshold, config, relations)
    found = await asyncio.wrap_future(relations) if relations is not None else []
    shown = found[: config.relation_limit] if config.include_relations else []
    if max_tokens is not None:
        hits = trim_to_budget(hits, max_tokens)
    engine.recalls.note(h.id for h in hits)  # counted in memory, written in batches (storage.recalls)
    return SearchAnswer(hits, [RelationRecord.from_dict(r) for r in shown])


def _search_now(
    engine: Engine, query: str, selection: Selection, limit: int, threshold: float | None, config: SearchConfig,
    relations: Future[list[dict[str, Any]]] | None,
) -> list[SearchHit]:
    speakers = config.speaker_key if config.uses_speakers else None
    keys = [k for k in (config.context_key, speakers) if k is not None]
    order = ScopeOrder.from_rows(engine.store.scope_rows(selection, keys), config.context_key, speakers)
    if not len(order) or limit <= 0:
        return []  # nothing to rank: the query is not even embedded
    if config.strip_speakers and config.uses_speakers:  # the dense query leaves out the speakers it names
        qvec = engine.embed([strip_names(query, order.speakers_named(query))])
    else:
        qvec = engine.embed([query])
    graph_hits: dict[int, float] = {}
    if config.graph_weight > 0 and relations is not None:
        graph_hits = _graph_hits(engine, relations.result(), order.rids)
    return _rank(engine, query, qvec[0], order, selection, limit, threshold, config, graph_hits)


def _graph_hits(engine: Engine, relations: list[dict[str, Any]], allowed: np.ndarray) -> dict[int, float]:
    """Rows of the selection linked to the relations the query reached, with the relation's score."""
    by_id: dict[str, float] = {}
    for rel in relations:
        for mid in rel["memory_ids"]:
            by_id[mid] = max(by_id.get(mid, 0.0), float(rel["score"]))
    if not by_id:
        return {}
    allowed_set = set(allowed.tolist())
    return {rid: by_id[mid] for mid, rid in engine.store.rids_of(list(by_id)).items() if rid in allowed_set}


def _dense(engine: Engine, qvec: np.ndarray, k: int, allowed: np.ndarray) -> tuple[list[int], dict[int, float]]:
    scores, ids = engine.vectors.search(qvec, k, allowed)
    return [int(i) for i in ids], {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def _rescore(engine: Engine, qvec: np.ndarray, dense: dict[int, float], rids: set[int]) -> None:
    """Exact dense similarity for the memories among ``rids`` that the dense list did not hold."""
    missing = np.array(sorted(r for r in rids if r not in dense), dtype=np.int64)
    if len(missing):
        dense.update(_dense(engine, qvec, len(missing), missing)[1])


def _rank(
    engine: Engine, query: str, qvec: np.ndarray, order: ScopeOrder, selection: Selection, limit: int,
    threshold: float | None, config: SearchConfig, graph_hits: dict[int, float],
) -> list[SearchHit]:
    allowed = order.rids
    graph = config.graph_weight > 0 and engine.graph is not None
    dense_only = not (config.lexical_weight > 0 or graph or config.uses_context or config.speaker_boost
                      or config.length_prior or config.uses_lifetimes)
    pool = limit if dense_only else max(limit, config.candidates)  # dense alone: its top `limit` is the answer
    d_ranked, dense = _dense(engine, qvec, pool, allowed)
    lists: list[tuple[list[int], float]] = [(d_ranked, config.dense_weight)]
    others: list[tuple[dict[int, float], float]] = []
    if config.lexical_weight > 0:
        lex = engine.store.lexical(selection, terms(query), pool)
        lists.append(([r for r, _ in lex], config.lexical_weight))
        others.append((dict(lex), config.lexical_weight))
    if graph:
        lists.append((sorted(graph_hits, key=lambda r: -graph_hits[r]), config.graph_weight))
        others.append((graph_hits, config.graph_weight))

    links: Links = {}
    if config.fusion == "rrf" or (len(lists) == 1 and not config.uses_context):
        fused = rrf(lists, config.rrf_k) if len(lists) > 1 else dict(dense)
        if config.uses_context or config.speaker_boost or config.length_prior or config.uses_lifetimes:
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
        _rescore(engine, qvec, dense, rids)  # dense re-scoring of lexical, graph and context candidates
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
        for rid, bonus in length_bonus(engine.store.text_lengths(list(fused)), config.length_prior).items():
            fused[rid] += bonus
    if config.uses_lifetimes:  # recency and reinforcement (search/decay.py)
        when = selection.as_of or selection.now or engine.clock.now()
        fused = lifetime_bonus(fused, engine.store.rows(list(fused)), when.timestamp(), config)

    _rescore(engine, qvec, dense, set(fused))  # the similarity reported for every result
    ranked = sorted(fused, key=lambda r: (-fused[r], -dense.get(r, -1.0), r))
    if threshold is not None:
        ranked = [r for r in ranked if dense.get(r, -1.0) >= threshold]
    ranked = ranked[:limit]
    rows = engine.store.rows(ranked)
    return [SearchHit.of(rows[rid], round(fused[rid], 6), round(dense.get(rid, 0.0), 6))
            for rid in ranked if rid in rows]  # a row deleted between the two reads is skipped
