"""RDFGraphStore: the knowledge graph as an rdflib Dataset with one named graph per scope.

Layout and vocabulary: see :mod:`memlayer.graph.vocab`. A write goes to the graph of exactly the given
scope. A read (search, forget, delete, export, sparql) covers every graph whose scope has all the given
fields: ``Scope(user_id="u")`` covers ``u``'s own graph and its per-agent / per-run graphs. Those graphs are
found through their self-description (``?g ml:userId "u"``), an indexed lookup, cached per scope.

Stores: ``oxigraph`` (default; persistent at ``path`` via oxrdflib), ``memory`` (tests), ``sparql`` (a
remote SPARQL 1.1 endpoint through rdflib's SPARQLUpdateStore), or any graph-aware rdflib Store plugin.
Entity labels are cached per graph in memory; the cache is updated on this store's writes. Call
:meth:`refresh` after editing the graph by other means (or set ``cache_ttl`` for shared endpoints).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import OWL, PROV, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from ..errors import ConfigError, ScopeError, StoreError
from ..types import Relation, Scope, to_utc, utcnow
from . import io
from .backends import CONCURRENT_READS, open_store
from .maintain import Maintenance
from .resolve import EmbeddingResolver, EntityIndex, entity_key, logger, tokens
from .traverse import (
    Q_ALIASES,
    Q_CURRENT,
    Q_LABELS,
    Q_NAMED_GRAPHS,
    Q_SCOPE_GRAPHS,
    Q_SCOPE_GRAPHS_ALL,
    Q_SPO,
    as_datetime,
    neighbourhood,
    relation_dict,
)
from .vocab import (
    DEFAULT_FUNCTIONAL,
    ML,
    NAMESPACES,
    SCOPE_FIELDS,
    entity_iri,
    graph_iri,
    memory_iri,
    message_iri,
    predicate_iri,
    relationship_id,
    scope_of,
    scope_triples,
    statement_iri,
)

Triple = tuple[Node, Node, Node]


def _covers(query: Scope, scope: Scope | None) -> bool:
    if scope is None:
        return False
    return all(getattr(query, a) is None or getattr(query, a) == getattr(scope, a) for a, _, _ in SCOPE_FIELDS)


def _dt(value: datetime) -> Literal:
    return Literal(value, datatype=XSD.dateTime)


class RDFGraphStore(Maintenance):
    """The graph pillar over rdflib; implements :class:`memlayer.graph.base.GraphStore`."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        store: str = "oxigraph",
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        endpoint_options: dict[str, Any] | None = None,
        embedder: Any = None,
        similarity_threshold: float = 0.9,
        functional: list[str] | tuple[str, ...] | set[str] | frozenset[str] | None = None,
        cache_ttl: float | None = None,
    ) -> None:
        if not 0.0 < similarity_threshold <= 1.0:
            raise ConfigError(f"similarity_threshold must be in (0, 1], got {similarity_threshold}")
        self.kind = store
        #: whether the data outlives this object (the core rebuilds non-persistent stores from its outbox)
        self.persistent = store == "sparql" or (path is not None and store != "memory")
        self._store = open_store(
            store, path, query_endpoint=query_endpoint, update_endpoint=update_endpoint,
            endpoint_options=endpoint_options,
        )
        self._ds = Dataset(store=self._store, default_union=True)
        for prefix, ns in NAMESPACES.items():
            self._ds.bind(prefix, ns)
        names = DEFAULT_FUNCTIONAL if functional is None else functional
        self.functional: frozenset[str] = frozenset(relationship_id(n) for n in names)
        self._resolver = EmbeddingResolver(embedder, similarity_threshold) if embedder is not None else None
        self._lock = threading.RLock()
        self._reading: AbstractContextManager[Any] = nullcontext() if store in CONCURRENT_READS else self._lock
        self._ttl = cache_ttl if cache_ttl is not None else (30.0 if store == "sparql" else None)
        self._indexes: dict[URIRef, EntityIndex] = {}
        self._scopes: dict[Scope, tuple[float, list[URIRef]]] = {}
        self._registered: set[URIRef] = set()
        self._contexts: dict[URIRef, Graph] = {}
        self._closed = False

    # -- plumbing -------------------------------------------------------------------------------------

    def _check(self) -> None:
        if self._closed:
            raise StoreError("this graph store is closed; create a new RDFGraphStore to use it again")

    def _select(self, text: str, **bindings: Node) -> list[Any]:
        return list(self._ds.query(text, initNs=NAMESPACES, initBindings=bindings))

    def _ctx(self, graph: URIRef) -> Graph:
        ctx = self._contexts.get(graph)
        if ctx is None:
            ctx = self._contexts[graph] = Graph(store=self._store, identifier=graph)
        return ctx

    def _write(self, graph: URIRef, adds: list[Triple] = (), removes: list[Triple] = ()) -> None:  # type: ignore[assignment]
        ctx = self._ctx(graph)
        for triple in removes:
            self._store.remove(triple, context=ctx)  # type: ignore[arg-type]
        if adds:
            self._store.addN((s, p, o, ctx) for s, p, o in adds)  # type: ignore[misc]

    def _commit(self) -> None:
        self._store.commit()

    def _fresh(self, loaded_at: float) -> bool:
        return self._ttl is None or time.monotonic() - loaded_at < self._ttl

    def _index(self, graph: URIRef) -> EntityIndex:
        index = self._indexes.get(graph)
        if index is not None and self._fresh(index.loaded_at):
            return index
        with self._lock:
            index = EntityIndex()
            for row in self._select(Q_LABELS, g=graph):
                index.add_label(row.e, str(row.l))
            for row in self._select(Q_ALIASES, g=graph):
                index.add_alias(row.e, str(row.l))
            self._indexes[graph] = index
        return index

    def _name(self, graph: URIRef, entity: URIRef) -> str:
        name = self._index(graph).names.get(entity)
        if name is None:
            label = self._ctx(graph).value(entity, RDFS.label)
            name = str(label) if label is not None else str(entity).rsplit("/", 1)[-1]
        return name

    def _graphs(self, scope: Scope) -> list[URIRef]:
        """The graphs a (possibly partial) scope covers."""
        if scope.is_empty():
            raise ScopeError("graph operations need a scope with a user_id, agent_id or run_id")
        hit = self._scopes.get(scope)
        if hit is not None and self._fresh(hit[0]):
            return hit[1]
        attr = next(a for a, _, _ in SCOPE_FIELDS if getattr(scope, a) is not None)
        rows = self._select(Q_SCOPE_GRAPHS[attr], v=Literal(str(getattr(scope, attr))))
        graphs = sorted({URIRef(str(r.g)) for r in rows if _covers(scope, scope_of(r.g))})
        self._scopes[scope] = (time.monotonic(), graphs)
        return graphs

    def _register(self, scope: Scope) -> URIRef:
        if scope.is_empty():
            raise ScopeError("graph operations need a scope with a user_id, agent_id or run_id")
        graph = graph_iri(scope)
        if graph not in self._registered:
            self._write(graph, adds=scope_triples(scope))  # type: ignore[arg-type]
            self._registered.add(graph)
            self._scopes.clear()
        return graph

    def _forget_caches(self, graph: URIRef | None = None) -> None:
        if graph is None:
            self._indexes.clear()
            self._registered.clear()
        else:
            self._indexes.pop(graph, None)
            self._registered.discard(graph)
        self._scopes.clear()

    # -- writes ---------------------------------------------------------------------------------------

    def add(
        self,
        scope: Scope,
        relations: list[Relation],
        *,
        memory_id: str,
        source_text: str,
        message_ids: list[str] | None = None,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Store relations; one result per relation: event ADD (new), UPDATE (new, superseding the old
        object of a functional predicate, listed in ``closed``) or NONE (already current)."""
        self._check()
        when = to_utc(at) or utcnow()
        ids = [str(i) for i in (message_ids or [])]
        with self._lock:
            graph = self._register(scope)
            if not relations:
                return []
            index = self._index(graph)
            mem, msg = memory_iri(scope, memory_id), message_iri(scope, source_text, ids)
            base: list[Triple] = [
                (mem, RDF.type, ML.Memory), (mem, ML.memoryId, Literal(memory_id)),
                (mem, PROV.wasDerivedFrom, msg), (msg, RDF.type, ML.Message),
                (msg, PROV.value, Literal(source_text)), *((msg, ML.messageId, Literal(i)) for i in ids),
            ]
            self._write(graph, adds=base)
            merges: dict[str, tuple[URIRef, float]] = {}
            if self._resolver is not None:
                names = [n for r in relations for n in (r.source, r.destination) if n.strip()]
                merges = self._resolver.best(index, [n for n in names if index.lookup(n)[0] is None])
            out = [self._add_one(scope, graph, index, rel, mem, msg, when, merges) for rel in relations]
            self._commit()
        return out

    def _entity(
        self, scope: Scope, graph: URIRef, index: EntityIndex, name: str, kind: str | None,
        merges: dict[str, tuple[URIRef, float]], adds: list[Triple],
    ) -> URIRef:
        entity, _ = index.lookup(name)
        if entity is None and name in merges:
            entity, similarity = merges[name]
            adds.append((entity, SKOS.altLabel, Literal(name)))
            index.add_alias(entity, name)
            logger.info(
                "graph %s: merged entity %r into %r (cosine %.3f); undo with unmerge(scope, %r)",
                graph, name, index.names.get(entity), similarity, name,
            )
        if entity is None:
            entity = entity_iri(scope, entity_key(name))
            adds += [(entity, RDF.type, ML.Entity), (entity, RDFS.label, Literal(name))]
            index.add_label(entity, name)
        if kind:
            adds.append((entity, ML.entityType, Literal(kind)))
        return entity

    def _add_one(
        self, scope: Scope, graph: URIRef, index: EntityIndex, rel: Relation, mem: URIRef, msg: URIRef,
        at: datetime, merges: dict[str, tuple[URIRef, float]],
    ) -> dict[str, Any]:
        pid = relationship_id(rel.relationship)
        result: dict[str, Any] = {
            "source": rel.source, "relationship": pid, "destination": rel.destination, "closed": [],
        }
        if not (rel.source.strip() and rel.destination.strip() and rel.relationship.strip()):
            return {**result, "event": "NONE", "skipped": "empty source, relationship or destination"}
        adds: list[Triple] = []
        removes: list[Triple] = []
        s = self._entity(scope, graph, index, rel.source, rel.source_type, merges, adds)
        o = self._entity(scope, graph, index, rel.destination, rel.destination_type, merges, adds)
        p = predicate_iri(rel.relationship)
        adds += [(p, RDF.type, RDF.Property), (p, RDFS.label, Literal(rel.relationship))]
        functional = pid in self.functional
        if functional:
            adds.append((p, RDF.type, OWL.FunctionalProperty))
        result.update(source=index.names.get(s, rel.source), destination=index.names.get(o, rel.destination))
        current = self._select(Q_CURRENT, g=graph, s=s, p=p)
        same = [row.st for row in current if row.o == o]
        if not same:  # the very same fact at the same time (a replayed write) is not added twice
            same = [r.st for r in self._select(Q_SPO, g=graph, s=s, p=p, o=o) if as_datetime(r.vf) == at]
        if same:
            adds += [(same[0], PROV.wasDerivedFrom, mem), (same[0], PROV.hadPrimarySource, msg)]
            is_current = any(row.st == same[0] for row in current)
            if is_current:
                adds.append((s, p, o))
            self._write(graph, adds, removes)
            return {**result, "event": "NONE", "current": is_current, "statement": str(same[0])}
        st = statement_iri(scope, uuid.uuid4().hex)
        adds += [
            (st, RDF.type, RDF.Statement), (st, RDF.subject, s), (st, RDF.predicate, p), (st, RDF.object, o),
            (st, ML.validFrom, _dt(at)), (st, PROV.wasDerivedFrom, mem), (st, PROV.hadPrimarySource, msg),
            (st, ML.subjectLabel, Literal(rel.source)), (st, ML.objectLabel, Literal(rel.destination)),
        ]
        others = [row for row in current if row.o != o] if functional else []
        later = [row for row in others if (as_datetime(row.vf) or at) > at]
        if later:  # an older fact arriving late: store it as already superseded by the newer one
            first = min(later, key=lambda row: as_datetime(row.vf) or at)
            adds += [(st, ML.validTo, first.vf), (st, ML.supersededBy, first.st)]
        else:
            for row in others:
                adds += [(row.st, ML.validTo, _dt(at)), (row.st, ML.supersededBy, st)]
                removes.append((s, p, row.o))
                result["closed"].append(
                    {"source": result["source"], "relationship": pid, "destination": self._name(graph, row.o)}
                )
            adds.append((s, p, o))
        self._write(graph, adds, removes)
        event = "UPDATE" if result["closed"] else "ADD"
        return {**result, "event": event, "current": not later, "statement": str(st)}

    # -- reads ----------------------------------------------------------------------------------------

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
                    self._select, graph, self._index(graph), query, query_tokens,
                    hops=min(max(hops, 0), 2), as_of=when, include_expired=include_expired, limit=limit,
                )
                for score, hop, edge in found:
                    item = relation_dict(edge, lambda e, g=graph: self._name(g, e), score, hop)
                    key = (entity_key(item["source"]), item["relationship"], entity_key(item["destination"]),
                           item["valid_from"], item["valid_to"])
                    prior = merged.get(key)
                    if prior is None:
                        merged[key] = item
                    else:
                        prior["memory_ids"] = sorted(set(prior["memory_ids"]) | set(item["memory_ids"]))
                        prior["score"] = max(prior["score"], item["score"])
        ranked = sorted(merged.values(), key=lambda r: (-r["score"], r["hops"], r["valid_from"] or ""))
        return ranked[: max(limit, 0)]

    def memory_ids_for(
        self, scope: Scope, query: str, *, as_of: datetime | str | float | None = None, limit: int = 100
    ) -> dict[str, float]:
        """Memory id -> best graph score of the relations the query reaches (for boosting vector hits)."""
        out: dict[str, float] = {}
        for item in self.search(scope, query, as_of=as_of, limit=limit):
            for mid in item["memory_ids"]:
                out[mid] = max(out.get(mid, 0.0), item["score"])
        return out

    def graph(self, scope: Scope) -> Graph:
        """The named graph of exactly this scope (live: reads and writes go to the store)."""
        self._check()
        if scope.is_empty():
            raise ScopeError("graph(scope) needs a scope with a user_id, agent_id or run_id")
        g = Graph(store=self._store, identifier=graph_iri(scope))
        for prefix, ns in NAMESPACES.items():
            g.bind(prefix, ns)
        return g

    def sparql(
        self, query: str, bindings: dict[str, Any] | None = None, *, scope: Scope | None = None
    ) -> list[dict[str, Any]]:
        """Run a read-only SPARQL query; values go in ``bindings`` (bound as RDF terms, never spliced
        into the text). With ``scope`` the default graph is the union of the scope's graphs; without it,
        the union of all graphs (on a remote endpoint: the server's default graph), plus GRAPH ?g.
        With the oxigraph store, every bound variable must appear in the SELECT clause."""
        self._check()
        init = {k.lstrip("?$"): io.to_term(v) for k, v in (bindings or {}).items()}
        with self._reading:
            target: Graph = self._ds
            if scope is not None:
                graphs = self._graphs(scope)
                if not graphs:
                    return []
                ctxs = [self._ctx(g) for g in graphs]
                target = ctxs[0] if len(ctxs) == 1 else ReadOnlyGraphAggregate(ctxs)
            try:
                result = target.query(query, initNs=NAMESPACES, initBindings=init)
                return io.result_rows(result)
            except Exception as exc:  # parse/evaluation errors of user queries, whatever the backend
                raise ConfigError(
                    f"SPARQL query failed: {exc}. Pass values through bindings= (and, with the oxigraph "
                    "store, project every bound variable in SELECT)."
                ) from exc

    def export(self, fmt: str = "trig", scope: Scope | None = None) -> str:
        """Serialise the whole dataset (or the graphs a scope covers): trig, json-ld, nquads, turtle."""
        self._check()
        with self._reading:
            if scope is None:
                graphs = sorted(URIRef(str(r.g)) for r in self._select(Q_NAMED_GRAPHS))
            else:
                graphs = self._graphs(scope)
            quads = [(s, p, o, g) for g in graphs for s, p, o in self._ctx(g)]
        return io.serialize(quads, fmt)  # type: ignore[arg-type]

    def import_(self, data: str, fmt: str = "trig", *, scope: Scope | None = None) -> int:
        """Load serialised data (named graphs kept); returns the number of triples written."""
        self._check()
        target = graph_iri(scope) if scope is not None and not scope.is_empty() else None
        quads = list(io.parse(data, fmt, target))
        with self._lock:
            for i in range(0, len(quads), 10_000):
                self._store.addN((s, p, o, self._ctx(g)) for s, p, o, g in quads[i : i + 10_000])  # type: ignore[misc]
            self._commit()
            self._forget_caches()
        return len(quads)

    def counts(self) -> dict[str, int]:
        """Sizes of the whole dataset: graphs, entities, relations (current), memories, messages, triples."""
        self._check()
        patterns = {
            "graphs": "?g a ml:ScopeGraph", "entities": "?x a ml:Entity", "relations": "?x a rdf:Statement",
            "current_relations": "?x a rdf:Statement FILTER NOT EXISTS { ?x ml:validTo ?t }",
            "memories": "?x a ml:Memory", "messages": "?x a ml:Message", "triples": "?s ?p ?o",
        }
        out: dict[str, int] = {}
        with self._reading:
            for name, pattern in patterns.items():
                rows = self._select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ {pattern} }} }}")
                out[name] = int(rows[0].n) if rows else 0
        return out

    def reset(self) -> None:
        """Drop every memlayer scope graph (other graphs in a shared store are left alone)."""
        self._check()
        with self._lock:
            for row in self._select(Q_SCOPE_GRAPHS_ALL):
                self._store.remove_graph(self._ctx(URIRef(str(row.g))))
            self._commit()
            self._forget_caches()

    def refresh(self) -> None:
        """Drop the in-memory label and scope caches (after editing the graph by other means)."""
        with self._lock:
            self._forget_caches()

    def close(self) -> None:
        """Flush and close the store; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._commit()
            inner = getattr(self._store, "_store", None)
            if inner is not None and hasattr(inner, "flush"):
                inner.flush()
            self._store.close()
            self._contexts.clear()
            self._forget_caches()

    def __enter__(self) -> RDFGraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RDFGraphStore(store={self.kind!r}{', closed' if self._closed else ''})"
