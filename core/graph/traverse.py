"""SPARQL texts and the 1-2 hop neighbourhood search with validity filtering and scoring.

Every query takes its values through ``initBindings`` (never formatted into the text). The bound variables
are projected (Oxigraph requires it) and used only in basic graph patterns, because rdflib's
SPARQLUpdateStore binds them with a trailing ``VALUES`` clause.

Scores: a relation touching a query entity scores 0.6, +0.2 when both ends are query entities, +0.2 x the
share of the relationship's words the query mentions ("works" for WORKS_AT); a 2-hop relation scores
0.3 + 0.1 x that share. So 1 hop always outranks 2 hops, and more matched entities rank higher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import PROV, RDF

from .resolve import EntityIndex, relation_overlap
from .vocab import ML, SCOPE_FIELDS, memory_id, predicate_name

EDGE_LIMIT = 50_000  # rows (about 10 per statement) fetched per entity; bounds the cost of hubs
FRONTIER_MIN = 10  # 2-hop expansion starts from at most max(limit, FRONTIER_MIN) neighbours

Q_SCOPE_GRAPHS = {
    attr: f"SELECT ?g ?v WHERE {{ GRAPH ?g {{ ?g a ml:ScopeGraph ; {prop.n3()} ?v }} }}"
    for attr, _, prop in SCOPE_FIELDS
}
Q_LABELS = "SELECT ?e ?l ?g WHERE { GRAPH ?g { ?e a ml:Entity ; rdfs:label ?l } }"
Q_ALIASES = "SELECT ?e ?l ?g WHERE { GRAPH ?g { ?e a ml:Entity ; skos:altLabel ?l } }"
Q_CURRENT = """SELECT ?st ?o ?vf ?g ?s ?p WHERE { GRAPH ?g {
  ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ml:validFrom ?vf .
  FILTER NOT EXISTS { ?st ml:validTo ?vt } } }"""
# The statements around an entity as (statement, property, value) rows. A star-shaped query with a plain
# FILTER: Oxigraph's planner scans the whole graph for a wide BGP joined to the UNION, or a VALUES block.
Q_EDGES = f"""SELECT ?st ?k ?v ?g ?e WHERE {{ GRAPH ?g {{
  {{ ?st rdf:subject ?e }} UNION {{ ?st rdf:object ?e }}
  ?st ?k ?v . FILTER (?k IN (rdf:subject, rdf:predicate, rdf:object, ml:validFrom, ml:validTo, prov:wasDerivedFrom))
}} }} LIMIT {EDGE_LIMIT}"""
Q_SPO = """SELECT ?st ?vf ?vt ?g ?s ?p ?o WHERE { GRAPH ?g {
  ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ml:validFrom ?vf . OPTIONAL { ?st ml:validTo ?vt } } }"""
# Every statement of one graph as (statement, property, value) rows, for listing a scope's relations.
Q_STATEMENTS = """SELECT ?st ?k ?v ?g WHERE { GRAPH ?g {
  ?st a rdf:Statement ; ?k ?v . FILTER (?k IN (rdf:subject, rdf:predicate, rdf:object, ml:validFrom, ml:validTo, prov:wasDerivedFrom))
} }"""
Q_SCOPE_GRAPHS_ALL = "SELECT ?g WHERE { GRAPH ?g { ?g a ml:ScopeGraph } }"
Q_NAMED_GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"

def as_datetime(term: Any) -> datetime | None:
    if not isinstance(term, Literal):
        return None
    value = term.toPython()
    return value if isinstance(value, datetime) else None


@dataclass
class Edge:
    st: URIRef
    s: URIRef
    p: URIRef
    o: URIRef
    valid_from: datetime | None
    valid_to: datetime | None
    memory_ids: set[str] = field(default_factory=set)


def edges_from_rows(rows: Iterable[Any]) -> dict[URIRef, Edge]:
    """Assemble statements from (statement, property, value) rows."""
    props: dict[URIRef, dict[URIRef, dict[Any, None]]] = {}
    for row in rows:  # a self-loop statement comes twice through the UNION: keep values unique
        props.setdefault(row.st, {}).setdefault(row.k, {})[row.v] = None
    out: dict[URIRef, Edge] = {}
    for st, p in props.items():
        try:
            (s,), (pred,), (o,) = p[RDF.subject], p[RDF.predicate], p[RDF.object]
        except (KeyError, ValueError):
            continue  # not a well-formed statement (foreign data)
        valid_from = as_datetime(next(iter(p.get(ML.validFrom, {None: None}))))
        valid_to = as_datetime(next(iter(p.get(ML.validTo, {None: None}))))
        memories = {memory_id(m) for m in p.get(PROV.wasDerivedFrom, {})}
        out[st] = Edge(st, s, pred, o, valid_from, valid_to, memories)
    return out


def is_valid(edge: Edge, as_of: datetime | None, include_expired: bool) -> bool:
    if as_of is None:
        return include_expired or edge.valid_to is None
    started = edge.valid_from is None or edge.valid_from <= as_of
    return started and (edge.valid_to is None or as_of < edge.valid_to)


def neighbourhood(
    fetch: Callable[[URIRef], dict[URIRef, Edge]],
    index: EntityIndex,
    query: str,
    query_tokens: set[str],
    *,
    hops: int,
    as_of: datetime | None,
    include_expired: bool,
    limit: int,
) -> list[tuple[float, int, Edge]]:
    """(score, hops, edge) for the relations around the query's entities in one graph; ``fetch(entity)``
    gives all statements (current and closed) around an entity."""
    seeds = index.match(query)
    if not seeds or hops < 1:
        return []
    def around(entity: URIRef) -> dict[URIRef, Edge]:
        return {st: e for st, e in fetch(entity).items() if is_valid(e, as_of, include_expired)}

    scored: dict[URIRef, tuple[float, int, Edge]] = {}
    for seed in seeds:
        for st, edge in around(seed).items():
            if st in scored:
                continue
            both = edge.s in seeds and edge.o in seeds
            overlap = relation_overlap(predicate_name(edge.p), query_tokens)
            scored[st] = (0.6 + 0.2 * both + 0.2 * overlap, 1, edge)
    if hops >= 2 and scored:
        best: dict[URIRef, float] = {}
        for score, _, edge in scored.values():
            for node in (edge.s, edge.o):
                if node not in seeds:
                    best[node] = max(best.get(node, 0.0), score)
        frontier = sorted(best, key=lambda n: -best[n])[: max(limit, FRONTIER_MIN)]
        for node in frontier:
            for st, edge in around(node).items():
                if st not in scored:
                    overlap = relation_overlap(predicate_name(edge.p), query_tokens)
                    scored[st] = (0.3 + 0.1 * overlap, 2, edge)
    return list(scored.values())


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def relation_dict(edge: Edge, names: Callable[[URIRef], str], score: float, hops: int) -> dict[str, Any]:
    return {
        "source": names(edge.s),
        "relationship": predicate_name(edge.p),
        "destination": names(edge.o),
        "valid_from": iso(edge.valid_from),
        "valid_to": iso(edge.valid_to),
        "memory_ids": sorted(edge.memory_ids),
        "score": round(score, 4),
        "hops": hops,
        "statement": str(edge.st),
    }

