"""search(): candidates from each retriever, fused, given context and priors, then trimmed to the limit,
threshold and budget. Every candidate lies in the selection (scope, validity, filters) the store computed.

All of it is blocking work on the calling thread (``AsyncMemory.search`` runs it on a worker thread, the sync
``Memory.search`` on the caller's). The graph is traversed once per search: the relations it returns are both
the answer's ``relations`` and, through the memories behind them, the graph retriever's candidates. It runs on
the engine's helper thread while the scope is read and the query embedded.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from typing import Any

import numpy as np

from ..engine import Engine
from ..records import RelationRecord, SearchAnswer, SearchHit
from ..search import rerank
from ..search.config import SearchConfig
from ..search.context import Links, expand, length_bonus, propagate
from ..search.decay import lifetime_bonus
from ..search.expand import strip_names
from ..search.fusion import rrf, scaled_sum, trim_to_budget
from ..search.hints import cooccurring, scaled, time_window
from ..search.lexical import terms
from ..search.scope import MAX_ASK_FACTOR, SearchScope
from ..search.scores import Scores, id_array, search_order, union
from ..storage.base import Selection
from .retention import unlapsed

GRAPH_CANDIDATES = 100  # relations read for the graph retriever (the answer shows ``relation_limit``)
SCORE_ALL = 2_048  # a scope up to this size is scored whole by the dense retriever (no re-scoring afterwards)


def search(
    engine: Engine, query: str, selection: Selection, *, limit: int, threshold: float | None,
    max_tokens: int | None, config: SearchConfig,
) -> SearchAnswer:
    """Blocking, on the calling thread (AsyncMemory.search awaits it on a worker thread)."""
    if config.rerank_weight:
        engine.reranker()  # a memory without one is told so whatever the scope holds (and the model loads once)
    graph = engine.graph if (config.include_relations and config.relation_limit) or config.graph_weight > 0 else None
    relations: Future[list[dict[str, Any]]] | None = None
    if graph is not None:
        wanted = max(config.relation_limit, GRAPH_CANDIDATES if config.graph_weight > 0 else 0)
        relations = engine.background(unlapsed, engine, selection, graph.search, selection.scope, query,
                                      hops=config.relation_hops, as_of=selection.as_of, limit=wanted)
    hits, rids = _ranked(engine, query, selection, limit, threshold, config, relations)
    found = relations.result() if relations is not None else []
    shown = found[: config.relation_limit] if config.include_relations else []
    if max_tokens is not None:
        hits = trim_to_budget(hits, max_tokens)
    engine.recalls.note(rids[h.id] for h in hits)  # counted in memory, written in batches (storage.recalls)
    return SearchAnswer(hits, [RelationRecord.from_dict(r) for r in shown])


def _ranked(
    engine: Engine, query: str, selection: Selection, limit: int, threshold: float | None, config: SearchConfig,
    relations: Future[list[dict[str, Any]]] | None,
) -> tuple[list[SearchHit], dict[str, int]]:
    """The hits, and the row id of each (by memory id)."""
    scope = SearchScope.read(engine.store, selection, config)
    if scope.empty or limit <= 0:
        return [], {}  # nothing to rank: the query is not even embedded
    if config.strip_speakers and config.uses_speakers:  # the dense query leaves out the speakers it names
        qvec = engine.embed([strip_names(query, scope.strip_names(query))])
    else:
        qvec = engine.embed([query])
    graph_hits: dict[int, float] = {}
    if config.graph_weight > 0 and relations is not None:
        graph_hits = _graph_hits(engine, relations.result(), scope)
    return _rank(engine, query, qvec[0], scope, limit, threshold, config, graph_hits)


def _graph_hits(engine: Engine, relations: list[dict[str, Any]], scope: SearchScope) -> dict[int, float]:
    """Rows of the selection linked to the relations the query reached, with the relation's score."""
    by_id: dict[str, float] = {}
    for rel in relations:
        for mid in rel["memory_ids"]:
            by_id[mid] = max(by_id.get(mid, 0.0), float(rel["score"]))
    if not by_id:
        return {}
    rids = engine.store.rids_of(list(by_id))
    kept = set(scope.keep(list(rids.values())))
    return {rid: by_id[mid] for mid, rid in rids.items() if rid in kept}


def _dense(engine: Engine, qvec: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, Scores]:
    scores, ids = engine.vectors.search(qvec, k, allowed)
    return ids, Scores.of(ids, scores.astype(np.float64))


def _dense_scope(engine: Engine, qvec: np.ndarray, k: int, scope: SearchScope) -> tuple[np.ndarray, Scores, Scores | None]:
    """The scope's best ``k`` (ranked ids, their similarity), and the similarity of every memory of the scope when
    it is small enough to score whole at once (``SCORE_ALL``: later candidates need no scoring of their own).
    Exactly among the scope's ids, or for a selection too large to list, from the index over the whole store,
    kept when the selection covers them, asking for more until ``k`` are kept."""
    if scope.allowed is not None:
        if k < len(scope.allowed) <= SCORE_ALL:
            ranked, every = _dense(engine, qvec, len(scope.allowed), scope.allowed)
            best = ranked[:k]
            return best, Scores.of(best, every.get(best, 0.0)), every
        ranked, found = _dense(engine, qvec, k, scope.allowed)
        return ranked, found, (found if len(ranked) == len(scope.allowed) else None)
    total = len(engine.vectors.index)
    ask = 4 * k
    while True:
        scores, ids = engine.vectors.search(qvec, min(ask, total), None)
        kept = set(scope.keep(ids.tolist()))
        pairs = [(i, s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i in kept][:k]
        if len(pairs) >= k or ask >= total:
            return id_array(r for r, _ in pairs), Scores.of_pairs(pairs), None
        if ask >= MAX_ASK_FACTOR * k:  # the selection is a small share of the store after all: list it
            return (*_dense(engine, qvec, k, engine.store.select_rids(scope.selection)), None)
        ask *= 4


def _rescore(engine: Engine, qvec: np.ndarray, dense: Scores, rids: np.ndarray, every: Scores | None) -> Scores:
    """``dense`` with the exact similarity of the memories among ``rids`` it did not hold (from ``every``, the
    whole scope's, when it was scored whole)."""
    held, _ = dense.find(rids)
    missing = rids[~held]
    if not len(missing):
        return dense
    if every is not None:
        known, values = every.find(missing)
        return dense.with_values(missing[known], values[known])
    found = _dense(engine, qvec, len(missing), np.sort(missing))[1]
    return dense.with_values(found.ids, found.values)


def _rank(
    engine: Engine, query: str, qvec: np.ndarray, scope: SearchScope, limit: int, threshold: float | None,
    config: SearchConfig, graph_hits: dict[int, float],
) -> tuple[list[SearchHit], dict[str, int]]:
    graph = config.graph_weight > 0 and engine.graph is not None
    dense_only = not (config.lexical_weight > 0 or graph or config.uses_context or config.speaker_boost
                      or config.length_prior or config.uses_lifetimes or config.rerank_weight)
    pool = limit if dense_only else max(limit, config.candidates)  # dense alone: its top `limit` is the answer
    d_ranked, dense, every = _dense_scope(engine, qvec, pool, scope)
    lists: list[tuple[list[int], float]] = [(d_ranked.tolist(), config.dense_weight)]
    others: list[tuple[Scores, float]] = []
    if config.lexical_weight > 0:
        lex = engine.store.lexical(scope.selection, terms(query), pool, scope.size, scope.allowed)
        lists.append(([r for r, _ in lex], config.lexical_weight))
        others.append((Scores.of_pairs(lex), config.lexical_weight))
    if graph:
        lists.append((sorted(graph_hits, key=lambda r: -graph_hits[r]), config.graph_weight))
        others.append((Scores.of_dict(graph_hits), config.graph_weight))
    if not scope.complete and (config.uses_context or config.speaker_boost or config.temporal_boost):
        scope.read_around(union(dense.ids, *(o.ids for o, _ in others)).tolist())

    links: Links | None = None
    if config.fusion == "rrf" or (len(lists) == 1 and not config.uses_context):
        fused = Scores.of_dict(rrf(lists, config.rrf_k)) if len(lists) > 1 else dense
        if config.uses_context or config.speaker_boost or config.length_prior or config.uses_lifetimes:
            fused = Scores(fused.ids, fused.values / (fused.best() or 1.0))  # on the scale of the boosts below
        if config.uses_context:
            links, _ = expand(scope.order, fused, config.context_pool, config.context_gap_s)
    else:
        lo = float(dense.values.min()) if len(dense) else 0.0
        hi = float(dense.values.max()) if len(dense) else 1.0
        rids = union(dense.ids, *(o.ids for o, _ in others))
        if config.uses_context:
            prelim = scaled_sum(dense, lo, hi, config.dense_weight, others, rids)
            links, involved = expand(scope.order, prelim, config.context_pool, config.context_gap_s)
            rids = union(rids, involved)
        dense = _rescore(engine, qvec, dense, rids, every)  # dense re-scoring of lexical, graph and context candidates
        fused = scaled_sum(dense, lo, hi, config.dense_weight, others, rids)
    if links is not None:
        fused = propagate(fused, links, config.context_inherit, config.context_prev_weight, config.context_next_weight,
                          scope.order)
    if config.speaker_boost and config.speaker_key:
        fused = _boost_speakers(fused, scope, query, config.speaker_boost)
    if config.temporal_boost:
        fused = _boost_times(fused, scope, query, config.temporal_boost, engine.clock.now())
    if config.expansion_weight:
        fused = _expand(engine, fused, query, scope, pool, config)
    if config.length_prior:
        counted, counts = scope.token_counts(fused.ids)
        fused = fused.added(counted, length_bonus(counts.astype(np.float64), config.length_prior))
    if config.uses_lifetimes:  # recency and reinforcement (search/decay.py)
        when = scope.selection.as_of or scope.selection.now or engine.clock.now()
        fused = Scores.of_dict(lifetime_bonus(fused.to_dict(), engine.store.rows(fused.ids.tolist()),
                                              when.timestamp(), config))

    dense = _rescore(engine, qvec, dense, fused.ids, every)  # the similarity reported for every result
    similarity = dense.get(fused.ids, -1.0)
    if config.rerank_weight:  # last: the best candidates read beside the query (search/rerank.py)
        fused = _rerank(engine, query, fused, similarity, config)
    order = search_order(fused.values, similarity, fused.ids)
    if threshold is not None:
        order = order[similarity[order] >= threshold]
    order = order[:limit]
    ranked = fused.ids[order].tolist()
    rows = engine.store.rows(ranked)
    scores, sims = fused.values[order].tolist(), dense.get(fused.ids[order], 0.0).tolist()
    hits = [SearchHit.of(rows[rid], round(score, 6), round(sim, 6))
            for rid, score, sim in zip(ranked, scores, sims, strict=True) if rid in rows]  # a row deleted between reads
    return hits, {rows[rid].id: rid for rid in ranked if rid in rows}


def _rerank(engine: Engine, query: str, fused: Scores, similarity: np.ndarray, config: SearchConfig) -> Scores:
    at = search_order(fused.values, similarity, fused.ids)[:config.rerank_pool]
    rows = engine.store.rows(fused.ids[at].tolist())
    at = np.asarray([i for i in at.tolist() if int(fused.ids[i]) in rows], dtype=np.int64)  # deleted meanwhile
    if len(at) < 2:
        return fused
    scores = engine.rerank(query, [rows[int(rid)].memory for rid in fused.ids[at].tolist()])
    values = fused.values.copy()
    values[at] = rerank.blend(values[at], scores, config.rerank_weight)
    return Scores(fused.ids, values)


def _boost_times(fused: Scores, scope: SearchScope, query: str, boost: float, now: datetime) -> Scores:
    """Memories created in the time span the query names (relative to ``as_of``, else the engine's clock) gain
    ``boost``."""
    window = time_window(query, scope.selection.as_of or now)
    if window is None:
        return fused
    found, times = scope.order.times_of(fused.ids)
    inside = found[(window[0] <= times) & (times < window[1])]
    return fused.added(inside, np.full(len(inside), boost))


def _expand(engine: Engine, fused: Scores, query: str, scope: SearchScope, pool: int, config: SearchConfig) -> Scores:
    """Pseudo-relevance feedback: the words co-occurring in the best memories, searched lexically; a memory
    found gains ``expansion_weight`` times its score over the best one (a new candidate starts from that)."""
    best = fused.top(config.expansion_docs).tolist()
    rows = engine.store.rows(best)
    extra = cooccurring(query, (rows[r].memory for r in best if r in rows), config.expansion_terms)
    if not extra:
        return fused
    gains = scaled(engine.store.lexical(scope.selection, extra, pool, scope.size, scope.allowed), config.expansion_weight)
    return fused.added(id_array(gains), np.fromiter(gains.values(), np.float64, len(gains)))


def _boost_speakers(fused: Scores, scope: SearchScope, query: str, boost: float) -> Scores:
    """Memories said by a speaker the query names gain ``boost`` (not when it names every speaker)."""
    named = scope.speakers_named(query)
    if not named or scope.names_everyone(named):
        return fused
    said = scope.order.speakers_of(fused.ids)
    if said is None:
        return fused
    hit = np.fromiter((w in named for w in said), dtype=bool, count=len(said))
    return Scores(fused.ids, fused.values + np.where(hit, boost, 0.0))
