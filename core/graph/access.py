"""User-facing access: the live rdflib Graph, SPARQL with bindings, export/import, counts, reset."""

from __future__ import annotations

from typing import Any

from rdflib import Graph, URIRef
from rdflib.graph import ReadOnlyGraphAggregate

from ..errors import ConfigError, ScopeError
from ..types import Scope
from . import io
from .plumbing import StoreCore
from .traverse import Q_NAMED_GRAPHS, Q_SCOPE_GRAPHS_ALL
from .vocab import NAMESPACES, QUERY_PREFIXES, graph_iri


class Access(StoreCore):
    """graph, sparql, export, import_, counts, reset."""

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
        Queries run on the store's own engine; if it rejects the bindings (Oxigraph wants bound variables
        in the SELECT clause), rdflib's engine runs the query over the store instead (slower)."""
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
                result = target.query(query, initNs=QUERY_PREFIXES, initBindings=init)
            except Exception as exc:  # e.g. Oxigraph wants bound variables projected: use rdflib's engine
                if not init:
                    raise ConfigError(f"SPARQL query failed: {exc}") from exc
                try:
                    result = target.query(query, initNs=QUERY_PREFIXES, initBindings=init, use_store_provided=False)
                except Exception as again:
                    raise ConfigError(f"SPARQL query failed: {again}") from again
            return io.result_rows(result)

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
                self._commit()  # one DROP per request (see delete_scope)
            self._forget_caches()
