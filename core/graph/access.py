"""User-facing access: the live rdflib Graph, SPARQL with bindings, export/import, counts, reset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdflib import Graph, URIRef
from rdflib.query import Result
from rdflib.term import Identifier

from ..errors import MemlayerError, ProviderError, QueryError, ScopeError
from ..types import Scope
from . import disk, engines, io
from .engines import Graphs
from .plumbing import StoreCore, guarded
from .query import Prepared, prepare
from .scoped import ScopedStore
from .traverse import Q_NAMED_GRAPHS, Q_SCOPE_GRAPHS_ALL
from .vocab import DATASET_ID, NAMESPACES, QUERY_PREFIXES, graph_iri


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

    @guarded
    def sparql(
        self, query: str, bindings: dict[str, Any] | None = None, *, scope: Scope | None = None
    ) -> list[dict[str, Any]]:
        """Run a read-only SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE); values go in ``bindings`` (bound
        as RDF terms, never spliced into the text).

        With ``scope`` the query runs over a dataset of that scope's graphs only: its default graph is their
        merge and ``GRAPH ?g`` ranges over them alone, so no other scope's data can be reached. A dataset
        clause may pick among those graphs. Without a scope the query acts for the store's owner:
        every graph of the store. Either way ``SERVICE`` and a dataset clause naming a graph that is not
        there are refused before anything runs (:class:`QueryError`): nothing is ever fetched from elsewhere."""
        self._check()
        prepared = prepare(query, QUERY_PREFIXES)
        init = {k.lstrip("?$"): io.to_term(v) for k, v in (bindings or {}).items()}
        with self._reading:
            default, named = self._dataset_for(prepared, scope)
            return io.result_rows(self._execute(prepared, default, named, init))

    def _dataset_for(self, prepared: Prepared, scope: Scope | None) -> tuple[Graphs, Graphs]:
        """(default graphs, named graphs) of the query's dataset; None is "all graphs" (owner only)."""
        allowed: list[URIRef] | None = None if scope is None else self._graphs(scope)
        clauses = [("FROM", iri) for iri in prepared.from_default] + [("FROM NAMED", iri) for iri in prepared.from_named]
        for clause, iri in clauses:
            if allowed is None and not self._has_graph(iri):
                raise QueryError(f"SPARQL query refused: {clause} <{iri}> names no graph of this store; "
                                 "memlayer never loads data from elsewhere")
            if allowed is not None and iri not in allowed:
                raise QueryError(f"SPARQL query refused: {clause} <{iri}> is not a graph of scope {scope.key()}; "  # type: ignore[union-attr]
                                 "a scoped query reaches only that scope's graphs")
        if prepared.names_dataset:
            return list(prepared.from_default), list(prepared.from_named)
        return allowed, allowed

    def _has_graph(self, iri: URIRef) -> bool:
        return bool(self._select("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1", g=iri))

    def _execute(self, prepared: Prepared, default: Graphs, named: Graphs, init: Mapping[str, Identifier]) -> Result:
        """The query on this store's engine over exactly (default, named), evaluated (a failure while
        reading results is raised here too); every failure a memlayer error."""
        empty = default is not None and named is not None and not default and not named
        try:
            if self.kind == "oxigraph" and not empty:
                try:
                    result = engines.run_oxigraph(self._store._store, prepared, default, named, init)  # type: ignore[attr-defined]
                except engines.ProjectionNeeded:  # rdflib's engine binds variables the SELECT does not project
                    result = engines.run_rdflib(self._store, prepared, default, named, init)
            elif self.kind == "sparql" and not empty:
                result = engines.run_endpoint(self._store, prepared, default, named, init)
            else:
                result = engines.run_rdflib(self._store, prepared, default, named, init)
            if result.type == "SELECT":
                result.bindings = list(result.bindings)
            return result
        except MemlayerError:
            raise
        except Exception as exc:
            if self.location is not None and disk.is_damage(exc):
                raise  # guarded(): the store replaces itself
            raise self._query_error(exc) from exc

    def _query_error(self, exc: Exception) -> MemlayerError:
        if isinstance(exc, RecursionError):
            return QueryError("SPARQL query failed: it nests too deeply to evaluate; simplify it")
        if isinstance(exc, OSError):  # an unreachable endpoint, a failing disk
            return ProviderError(f"SPARQL query failed: the {self.kind} graph store could not answer: {exc}")
        return QueryError(f"SPARQL query failed: {type(exc).__name__}: {exc}")

    @guarded
    def scoped_graph(self, scope: Scope | None) -> Graph:
        """A read-only rdflib Graph of the merge of the scope's graphs (every graph without a scope); its
        ``query()`` runs through :meth:`sparql`'s checks over that scope."""
        self._check()
        graphs = None if scope is None else self._graphs(scope)
        union = graph_iri(scope) if scope is not None else DATASET_ID

        def run(text: str, prefixes: Mapping[str, Any], bindings: Mapping[str, Identifier]) -> Any:
            prepared = prepare(text, {**QUERY_PREFIXES, **prefixes})
            init = {k.lstrip("?$"): io.to_term(v) for k, v in bindings.items()}
            with self._reading:
                default, named = self._dataset_for(prepared, scope)
                return self._execute(prepared, default, named, init)

        return Graph(store=ScopedStore(self._store, graphs, graphs, union_id=union, runner=run), identifier=union)

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
    def reset(self) -> None:
        """Drop every memlayer scope graph (other graphs in a shared store are left alone)."""
        self._check()
        with self._lock:
            for row in self._select(Q_SCOPE_GRAPHS_ALL):
                self._store.remove_graph(self._ctx(URIRef(str(row.g))))
                self._commit()  # one DROP per request (see delete_scope)
            self._forget_caches()
            self._forgot()
