"""ScopedStore: a read-only rdflib Store that shows only some graphs of another store.

rdflib's SPARQL engine reads data through its Store (``triples`` for patterns, ``contexts`` for
``GRAPH ?g``), so evaluating a query over a Dataset backed by a ScopedStore cannot reach any other graph,
whatever the query text says: ``GRAPH ?g`` enumerates only the named graphs given here, ``GRAPH <iri>`` of
any other graph is empty, and the default graph is the merge (duplicates removed) of the default graphs
given here. Writes are refused.

``default``/``named`` of ``None`` mean "every graph of the underlying store" (the store owner's view).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from rdflib import Graph, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.query import Result
from rdflib.store import Store
from rdflib.term import Identifier, Node

from ..errors import QueryError
from .vocab import NAMESPACES

Runner = Callable[[str, Mapping[str, Any], Mapping[str, Identifier]], Result]
_NONE: Iterator[Any] = iter(())


class ScopedStore(Store):
    context_aware = True
    graph_aware = True
    formula_aware = False
    transaction_aware = False

    def __init__(
        self,
        base: Store,
        default: Sequence[URIRef] | None,
        named: Sequence[URIRef] | None,
        *,
        union_id: URIRef | None = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__()
        self.base = base
        self.default = None if default is None else tuple(default)
        self.named = None if named is None else frozenset(named)
        #: a graph identifier that, like the dataset's default graph, reads as the merge of ``default``
        self.union_id = union_id
        self._runner = runner
        self._prefixes: dict[str, URIRef] = {p: URIRef(str(ns)) for p, ns in NAMESPACES.items()}

    # -- reads ----------------------------------------------------------------------------------------

    def _graphs_for(self, context: Graph | None) -> Sequence[URIRef] | None | bool:
        """The underlying graphs a context reads from: a list, None (all of them), or False (none)."""
        ident = None if context is None else context.identifier
        if ident is None or ident == DATASET_DEFAULT_GRAPH_ID or ident == self.union_id:
            return self.default
        if isinstance(ident, URIRef) and (self.named is None or ident in self.named):
            return (ident,)
        return False

    def triples(  # type: ignore[override]
        self, triple_pattern: Any, context: Graph | None = None
    ) -> Iterator[tuple[tuple[Node, Node, Node], Iterator[Any]]]:
        graphs = self._graphs_for(context)
        if graphs is False:
            return _NONE
        if graphs is None:
            return self._unique(t for t, _ in self.base.triples(triple_pattern, None))
        assert not isinstance(graphs, bool)
        if len(graphs) == 1:
            return ((t, iter(())) for t, _ in self.base.triples(triple_pattern, Graph(self.base, graphs[0])))
        return self._unique(t for g in graphs for t, _ in self.base.triples(triple_pattern, Graph(self.base, g)))

    @staticmethod
    def _unique(found: Iterable[tuple[Node, Node, Node]]) -> Iterator[tuple[tuple[Node, Node, Node], Iterator[Any]]]:
        seen: set[tuple[Node, Node, Node]] = set()
        for triple in found:
            if triple not in seen:
                seen.add(triple)
                yield triple, iter(())

    def __len__(self, context: Graph | None = None) -> int:
        return sum(1 for _ in self.triples((None, None, None), context))

    def contexts(self, triple: Any = None) -> Generator[Graph, None, None]:  # type: ignore[override]
        if self.named is None:
            names = sorted({c.identifier if isinstance(c, Graph) else c for c in self.base.contexts(triple)})
        else:
            names = sorted(self.named)
        for name in names:
            graph = Graph(self, name)
            if triple is None or next(self.triples(triple, graph), None) is not None:
                yield graph

    def query(self, query: Any, initNs: Mapping[str, Any], initBindings: Mapping[str, Identifier],  # noqa: N803
              queryGraph: Any, **kwargs: Any) -> Result:
        """``Graph.query`` on a graph of this store runs through memlayer's checked query path."""
        if self._runner is None or not isinstance(query, str):
            raise NotImplementedError  # rdflib evaluates the (already checked) query over this store
        return self._runner(query, initNs, initBindings)

    # -- namespaces (kept here: binding a prefix must not write to the underlying store) --------------

    def bind(self, prefix: str, namespace: URIRef, override: bool = True) -> None:
        if override or prefix not in self._prefixes:
            self._prefixes[prefix] = URIRef(str(namespace))

    def namespace(self, prefix: str) -> URIRef | None:
        return self._prefixes.get(prefix)

    def prefix(self, namespace: URIRef) -> str | None:
        return next((p for p, ns in self._prefixes.items() if ns == namespace), None)

    def namespaces(self) -> Iterator[tuple[str, URIRef]]:
        yield from list(self._prefixes.items())

    # -- writes are refused -----------------------------------------------------------------------------

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise QueryError("this graph is a read-only view of a scope; change memories through the memory API")

    add = addN = remove = remove_graph = update = _read_only  # type: ignore[assignment]

    def add_graph(self, graph: Graph) -> None:
        """Accepted and ignored: rdflib's Dataset announces its (empty) default graph this way."""
