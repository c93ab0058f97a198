"""Serialisation (Turtle, TriG, JSON-LD, N-Quads) and SPARQL result conversion."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.namespace import RDF, XSD
from rdflib.query import Result
from rdflib.term import Identifier, Node

from ..errors import ConfigError
from .vocab import ML, NAMESPACES

Quad = tuple[Node, Node, Node, URIRef]

FORMATS = {
    "turtle": "turtle", "ttl": "turtle", "trig": "trig", "json-ld": "json-ld", "jsonld": "json-ld",
    "nquads": "nquads", "nq": "nquads",
}
QUAD_FORMATS = frozenset({"trig", "json-ld", "nquads"})


def rdflib_format(fmt: str) -> str:
    try:
        return FORMATS[fmt.lower()]
    except KeyError:
        raise ConfigError(f"unknown graph format {fmt!r}; use one of {', '.join(sorted(FORMATS))}") from None


def plain(term: Node) -> Node:
    """RDF 1.1 treats "x" and "x"^^xsd:string as one literal; stores differ, so use the plain form."""
    if isinstance(term, Literal) and term.datatype == XSD.string and term.language is None:
        return Literal(str(term))
    return term


def serialize(quads: Iterable[Quad], fmt: str) -> str:
    """Serialise quads; Turtle holds one graph only (its self-description lets import_ place it)."""
    name = rdflib_format(fmt)
    ds = Dataset()
    for prefix, ns in NAMESPACES.items():
        ds.bind(prefix, ns)
    graphs: set[URIRef] = set()
    for s, p, o, g in quads:
        graphs.add(g)
        ds.graph(g).add((s, p, plain(o)))  # type: ignore[arg-type]
    if name == "turtle":
        if len(graphs) > 1:
            raise ConfigError(
                f"Turtle has no named graphs and this export spans {len(graphs)} graphs; "
                "export one full scope, or use fmt='trig' or 'json-ld'"
            )
        out = Graph()
        for prefix, ns in NAMESPACES.items():
            out.bind(prefix, ns)
        for g in graphs:
            for triple in ds.graph(g):
                out.add(triple)
        return out.serialize(format="turtle")
    return ds.serialize(format=name)


def parse(data: str, fmt: str, default_target: URIRef | None) -> Iterator[Quad]:
    """Quads of serialised data; triples outside any named graph go to ``default_target`` or, failing
    that, to the one ``ml:ScopeGraph`` they describe."""
    name = rdflib_format(fmt)
    ds = Dataset()
    with warnings.catch_warnings():  # rdflib's TriG/JSON-LD parsers use its own deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        ds.parse(data=data, format=name)
    default = [t for t in ds.graph(DATASET_DEFAULT_GRAPH_ID)]
    if default:
        target = default_target
        if target is None:
            described = {s for s, p, o in default if p == RDF.type and o == ML.ScopeGraph}
            if len(described) != 1:
                raise ConfigError(
                    f"the {name} data has triples outside a named graph and describes {len(described)} "
                    "ml:ScopeGraph(s); pass scope= to import_ to say where they belong"
                )
            target = URIRef(str(next(iter(described))))
        for s, p, o in default:
            yield s, p, plain(o), target
    for s, p, o, g in ds.quads((None, None, None, None)):
        if g is not None and g != DATASET_DEFAULT_GRAPH_ID:
            yield s, p, plain(o), URIRef(str(g))


def to_term(value: Any) -> Identifier:
    """A user binding as an RDF term: terms pass through, everything else becomes a typed literal."""
    if isinstance(value, Identifier):
        return value
    if isinstance(value, datetime):
        return Literal(value, datatype=XSD.dateTime)
    return Literal(value)


def to_python(term: Node | None) -> Any:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return str(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        value = term.toPython()
        return str(value) if isinstance(value, Literal) else value
    return str(term)


def result_rows(result: Result) -> list[dict[str, Any]]:
    """SELECT -> one dict per row; ASK -> [{"ask": bool}]; CONSTRUCT/DESCRIBE -> triples as dicts."""
    if result.type == "ASK":
        return [{"ask": bool(result.askAnswer)}]
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        graph = result.graph
        assert graph is not None
        return [{"subject": to_python(s), "predicate": to_python(p), "object": to_python(o)} for s, p, o in graph]
    names = [str(v) for v in (result.vars or [])]
    return [{n: to_python(row[i]) for i, n in enumerate(names)} for row in result]  # type: ignore[index]
