"""RDFGraphStore: the knowledge graph as an rdflib Dataset with one named graph per scope.

Layout and vocabulary: see :mod:`memlayer.graph.vocab`. A write goes to the graph of exactly the given
scope. A read (search, forget, delete, export, sparql) covers every graph whose scope has all the given
fields: ``Scope(user_id="u")`` covers ``u``'s own graph and its per-agent / per-run graphs. Those graphs are
found through their self-description (``?g ml:userId "u"``), an indexed lookup, cached per scope.

Stores: ``oxigraph`` (default; persistent at ``path`` via oxrdflib), ``memory`` (tests), ``sparql`` (a
remote SPARQL 1.1 endpoint through rdflib's SPARQLUpdateStore), or any graph-aware rdflib Store plugin.
Search matches the query's word n-grams against an in-memory label/alias index per graph (no scan of the
entities), then reads the statements around each matched entity with one indexed SPARQL query per entity,
cached per entity (:mod:`memlayer.graph.cache`). Both caches follow this store's own writes; call
:meth:`refresh` after editing the graph by other means, and set ``cache_ttl`` (30 s by default for
``sparql``) when other processes write to a shared endpoint.

Parts: :mod:`.plumbing` (state, low-level I/O), :mod:`.write` (add), :mod:`.maintain` (forget, delete,
merge/unmerge), :mod:`.access` (graph, sparql, export/import, counts), :mod:`.traverse` (search).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from ..errors import StoreError
from ..types import Scope, to_utc
from . import disk
from .access import Access
from .maintain import Maintenance
from .plumbing import guarded
from .resolve import entity_key, logger, tokens
from .traverse import Q_STATEMENTS, edges_from_rows, is_valid, neighbourhood, relation_dict
from .write import Writer


class RDFGraphStore(Writer, Maintenance, Access):
    """The graph pillar over rdflib; implements :class:`memlayer.graph.base.GraphStore`.

    ``RDFGraphStore(path, store="oxigraph")`` (default, persistent), ``store="memory"``,
    ``store="sparql", query_endpoint=..., update_endpoint=...``, or any graph-aware rdflib Store plugin.
    ``embedder`` (optional, ``.embed(texts)``) enables fuzzy entity resolution at ``similarity_threshold``;
    ``functional`` names the single-valued relationships (default LIVES_IN, WORKS_AT, AGE, MARRIED_TO).
    """

    @guarded
    def search(
        self,
        scope: Scope,
        query: str,
        *,
        hops: int = 2,
        as_of: datetime | str | float | None = None,
        limit: int = 20,
        include_expired: bool = False,
    ) -> list[dict[str, Any]]:
        """Relations within ``hops`` (1-2) of the entities named in ``query``, best first. Current ones
        only, unless ``as_of`` (true at that time) or ``include_expired`` (all history)."""
        self._check()
        when = to_utc(as_of)
        query_tokens = set(tokens(query))
        merged: dict[tuple[str, str, str, str | None, str | None], dict[str, Any]] = {}
        with self._reading:
            for graph in self._graphs(scope):
                found = neighbourhood(
                    partial(self._around, graph), self._index(graph), query, query_tokens,
                    hops=min(max(hops, 0), 2), as_of=when, include_expired=include_expired, limit=limit,
                )
                for score, hop, edge in found:
                    self._merge(merged, relation_dict(edge, partial(self._name, graph), score, hop))
        ranked = sorted(merged.values(), key=lambda r: (-r["score"], r["hops"], r["valid_from"] or ""))
        return ranked[: max(limit, 0)]

    @guarded
    def relations(
        self,
        scope: Scope,
        *,
        as_of: datetime | str | float | None = None,
        include_expired: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every relation of the scope's graphs (current ones unless ``as_of`` or ``include_expired``),
        oldest first, in :meth:`search`'s shape with ``score`` 1.0 and ``hops`` 1; the same relation in two
        of the scope's graphs comes once, with the memory ids of both."""
        self._check()
        when = to_utc(as_of)
        merged: dict[tuple[str, str, str, str | None, str | None], dict[str, Any]] = {}
        with self._reading:
            for graph in self._graphs(scope):
                for edge in edges_from_rows(self._select(Q_STATEMENTS, g=graph)).values():
                    if is_valid(edge, when, include_expired):
                        item = relation_dict(edge, partial(self._name, graph), 1.0, 1)
                        self._merge(merged, item)
        ordered = sorted(merged.values(), key=lambda r: (r["valid_from"] or "", r["source"], r["relationship"],
                                                         r["destination"]))
        return ordered if limit is None else ordered[: max(limit, 0)]

    @staticmethod
    def _merge(merged: dict[tuple[str, str, str, str | None, str | None], dict[str, Any]], item: dict[str, Any]) -> None:
        key = (entity_key(item["source"]), item["relationship"], entity_key(item["destination"]),
               item["valid_from"], item["valid_to"])
        prior = merged.get(key)
        if prior is None:
            merged[key] = item
        else:
            prior["memory_ids"] = sorted(set(prior["memory_ids"]) | set(item["memory_ids"]))
            prior["score"] = max(prior["score"], item["score"])

    def memory_ids_for(
        self, scope: Scope, query: str, *, as_of: datetime | str | float | None = None, limit: int = 100
    ) -> dict[str, float]:
        """Memory id -> best graph score of the relations the query reaches (for boosting vector hits)."""
        out: dict[str, float] = {}
        for item in self.search(scope, query, as_of=as_of, limit=limit):
            for mid in item["memory_ids"]:
                out[mid] = max(out.get(mid, 0.0), item["score"])
        return out

    def refresh(self) -> None:
        """Drop the in-memory label, neighbourhood and scope caches (after editing the graph by other means)."""
        with self._lock:
            self._forget_caches()

    def compact(self) -> None:
        """Rewrite the on-disk Oxigraph directory now, so that nothing deleted or forgotten remains in its
        files (:mod:`memlayer.graph.disk` says why a rewrite is needed). ``close()`` does this by itself when
        anything was deleted since the last rewrite. It copies everything the store holds, so it costs time
        in proportion to the store's size; call it when no other thread is using this store. Nothing to do
        for the memory store or a SPARQL endpoint (the server keeps its own files)."""
        self._check()
        if self.location is not None:
            self._rewrite()

    def close(self) -> None:
        """Flush and close the store; idempotent. An on-disk Oxigraph store that had data deleted is first
        rewritten (see :meth:`compact`; ``compact_on_close=False`` leaves that to the next open)."""
        with self._lock:
            if self._closed:
                return
            damage = None
            try:
                self._commit()
                if self.location is not None and self.compact_on_close and (self.location / disk.PENDING).exists():
                    try:
                        self._rewrite()
                    except StoreError as busy:  # held open elsewhere in this process: the next open does it
                        logger.warning("%s", busy)
                inner = getattr(self._store, "_store", None)
                if inner is not None and hasattr(inner, "flush"):
                    inner.flush()
                del inner
            except Exception as exc:
                if self.location is None or not disk.is_damage(exc):
                    raise
                damage = f"{type(exc).__name__}: {exc}"
            finally:
                self._closed = True
                self._atomic = None  # the writer holds the store open (Oxigraph's lock file)
                self._store.close()
                self._contexts.clear()
                self._forget_caches()
            if damage is not None:
                assert self.location is not None
                logger.warning("graph store at %s is damaged (%s); it is replaced when next opened", self.location, damage)
                disk.mark_damaged(self.location, damage)

    def __enter__(self) -> RDFGraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RDFGraphStore(store={self.kind!r}{', closed' if self._closed else ''})"
