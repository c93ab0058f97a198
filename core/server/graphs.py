"""Every knowledge-graph call the server makes, in one place.

``memory.graph`` is either the user-facing graph view (``relations``/``sparql``/``export`` taking
``user_id=``/``agent_id=``/``run_id=``) or, on older cores, the raw graph store (``search``/``sparql``/
``export`` taking a ``Scope``); both are handled here so the rest of the server never touches the graph.
Scopes arrive already mapped into the caller's tenant. The calls are synchronous (rdflib); callers run
them in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from ..errors import ConfigError
from ..types import Scope, to_utc

GRAPH_FORMATS = {"turtle": "turtle", "ttl": "turtle", "trig": "trig", "json-ld": "json-ld", "jsonld": "json-ld",
                 "nquads": "nquads"}


class GraphDisabled(ConfigError):
    """The store was opened with graph=False."""


def _graph(memory: Any) -> Any:
    graph = memory.graph
    if graph is None:
        raise GraphDisabled("this store has no knowledge graph (its config says graph=False)")
    return graph


def _catch_up(memory: Any) -> None:
    """Apply graph writes other processes committed (the view does this itself)."""
    projection = getattr(getattr(memory, "engine", None), "graph", None)
    catch_up = getattr(projection, "catch_up", None)
    if callable(catch_up):
        catch_up()


def _is_view(graph: Any) -> bool:
    return callable(getattr(graph, "relations", None))


def relations(memory: Any, scope: dict[str, str | None], query: str | None, *, as_of: Any = None,
              include_expired: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """The scope's relations (with ``query``: those near the entities it names, best first)."""
    graph = _graph(memory)
    if _is_view(graph):
        found: list[dict[str, Any]] = graph.relations(query, **scope, as_of=as_of, include_expired=include_expired,
                                                      limit=limit)
        return found
    _catch_up(memory)
    when = to_utc(as_of)
    if query:
        hits: list[dict[str, Any]] = graph.search(Scope(**scope), query, as_of=when, limit=limit,
                                                  include_expired=include_expired)
        return hits
    rows = _all_relations(graph, Scope(**scope))
    keep = [r for r in rows if include_expired or _valid(r, when)]
    keep.sort(key=lambda r: r["valid_from"] or "", reverse=True)
    return keep[:limit]


# Every reified relation of the scope's graphs with its validity and the memories it came from.
Q_RELATIONS = """SELECT ?st ?sl ?p ?ol ?vf ?vt ?mid WHERE {
  ?st a rdf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ml:validFrom ?vf .
  ?s rdfs:label ?sl . ?o rdfs:label ?ol .
  OPTIONAL { ?st ml:validTo ?vt }
  OPTIONAL { ?st prov:wasDerivedFrom ?m . ?m ml:memoryId ?mid }
}"""


def _all_relations(graph: Any, scope: Scope) -> list[dict[str, Any]]:
    from ..graph.vocab import predicate_name

    merged: dict[str, dict[str, Any]] = {}
    for row in graph.sparql(Q_RELATIONS, None, scope=scope):
        item = merged.setdefault(str(row["st"]), {
            "source": row["sl"], "relationship": predicate_name(row["p"]), "destination": row["ol"],
            "valid_from": _json_value(row["vf"]), "valid_to": _json_value(row["vt"]), "memory_ids": [],
            "statement": str(row["st"]),
        })
        if row.get("mid") and row["mid"] not in item["memory_ids"]:
            item["memory_ids"].append(row["mid"])
    return list(merged.values())


def _valid(row: dict[str, Any], when: dt.datetime | None) -> bool:
    if when is None:
        return row["valid_to"] is None
    start, end = to_utc(row["valid_from"]), to_utc(row["valid_to"])
    return (start is None or start <= when) and (end is None or when < end)


def check_scoped_query(query: str) -> None:
    """A tenant's query must be a read-only query whose dataset is its scope: GRAPH, FROM, FROM NAMED and
    SERVICE are refused (at the network boundary, whatever the graph store does with them)."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    from ..graph.vocab import QUERY_PREFIXES

    try:
        parsed = prepareQuery(query, initNs=QUERY_PREFIXES)
    except Exception as exc:  # pyparsing's ParseException and friends
        raise ConfigError(f"not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE): {str(exc)[:300]}") from None
    names: set[str] = set()
    pending: list[Any] = [parsed.algebra]
    while pending:
        node = pending.pop()
        if isinstance(node, CompValue):
            names.add(node.name)
            pending.extend(node.values())
        elif isinstance(node, (list, tuple)):
            pending.extend(node)
    if parsed.algebra.get("datasetClause") or names & {"Graph", "ServiceGraphPattern"}:
        raise ConfigError("a SPARQL query here runs over its scope's graphs only: GRAPH, FROM, FROM NAMED and "
                          "SERVICE are not allowed (name the scope with user_id/agent_id/run_id instead)")


def sparql(memory: Any, scope: dict[str, str | None], query: str,
           bindings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A read-only SPARQL query over the scope's graphs only; rows of JSON values."""
    check_scoped_query(query)
    graph = _graph(memory)
    if _is_view(graph):
        rows = graph.sparql(query, bindings, **scope)
    else:
        _catch_up(memory)
        rows = graph.sparql(query, bindings, scope=Scope(**scope))
    return [{str(k): _json_value(v) for k, v in row.items()} for row in rows]


def export(memory: Any, scope: dict[str, str | None], fmt: str) -> str:
    """The scope's graphs serialised as Turtle, TriG, JSON-LD or N-Quads."""
    graph = _graph(memory)
    name = GRAPH_FORMATS[fmt]
    if _is_view(graph):
        text: str = graph.export(name, **scope)
        return text
    _catch_up(memory)
    text = graph.export(name, scope=Scope(**scope))
    return text


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
