"""Every knowledge-graph call the server makes, in one place: ``memory.graph`` (the graph view) with a
scope that already lies in the caller's tenant. The view catches up with the store before each call and
runs SPARQL over a dataset of the scope's graphs only (GRAPH, FROM and FROM NAMED cannot leave it;
SERVICE and remote FROM are refused). The calls are synchronous (rdflib); callers run them in a thread.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from ..errors import ConfigError

GRAPH_FORMATS = {"turtle": "turtle", "ttl": "turtle", "trig": "trig", "json-ld": "json-ld", "jsonld": "json-ld",
                 "nquads": "nquads"}


class GraphDisabled(ConfigError):
    """The store was opened with graph=False."""


def _graph(memory: Any) -> Any:
    graph = memory.graph
    if graph is None:
        raise GraphDisabled("this store has no knowledge graph (its config says graph=False)")
    return graph


def relations(memory: Any, scope: dict[str, str | None], query: str | None, *, as_of: Any = None,
              include_expired: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """The scope's relations (with ``query``: those near the entities it names, best first)."""
    found: list[dict[str, Any]] = _graph(memory).relations(query, **scope, as_of=as_of,
                                                          include_expired=include_expired, limit=limit)
    return found


def sparql(memory: Any, scope: dict[str, str | None], query: str,
           bindings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A read-only SPARQL query over the scope's graphs; rows of JSON values."""
    rows = _graph(memory).sparql(query, bindings, **scope)
    return [{str(k): _json_value(v) for k, v in row.items()} for row in rows]


def export(memory: Any, scope: dict[str, str | None], fmt: str) -> str:
    """The scope's graphs serialised as Turtle, TriG, JSON-LD or N-Quads."""
    text: str = _graph(memory).export(GRAPH_FORMATS[fmt], **scope)
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
