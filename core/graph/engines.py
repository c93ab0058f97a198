"""Running a checked query (:mod:`memlayer.graph.query`) over exactly the dataset the caller allows.

Three engines, one rule: the dataset is given to the engine, never taken from the query text.

- **Oxigraph** (the default store): pyoxigraph's own engine with ``default_graph=`` / ``named_graphs=``,
  which replace whatever ``FROM`` / ``FROM NAMED`` the text has, so ``GRAPH ?g`` sees only those graphs.
- **rdflib**: rdflib's engine over a :class:`~memlayer.graph.scoped.ScopedStore`, with the query's own
  dataset clause removed, so it neither loads ``FROM`` IRIs from the web nor sees other graphs.
- **a SPARQL endpoint**: the SPARQL 1.1 Protocol's ``default-graph-uri`` / ``named-graph-uri`` parameters,
  which the protocol says override the query's dataset.

``dataset`` is ``(default, named)``: lists of graph IRIs, or None for "every graph" (the store owner).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from rdflib import BNode, Dataset, Graph, Literal, URIRef, Variable
from rdflib.namespace import XSD
from rdflib.query import Result
from rdflib.store import Store
from rdflib.term import Identifier

from .query import Prepared
from .scoped import Runner, ScopedStore

Graphs = Sequence[URIRef] | None
ENDPOINT_TIMEOUT = 120.0  # seconds for one query to a remote endpoint


def run_rdflib(
    store: Store, prepared: Prepared, default: Graphs, named: Graphs, bindings: Mapping[str, Identifier],
    runner: Runner | None = None,
) -> Result:
    scoped = ScopedStore(store, default, named, runner=runner)
    view = Dataset(store=scoped, default_union=True)
    return view.query(prepared.query, initBindings=dict(bindings), use_store_provided=False)


class ProjectionNeeded(Exception):
    """Oxigraph substitutes values only for variables the SELECT clause projects."""


def run_oxigraph(
    inner: Any, prepared: Prepared, default: Graphs, named: Graphs, bindings: Mapping[str, Identifier]
) -> Result:
    import pyoxigraph as ox

    options: dict[str, Any] = {}
    if default is None:
        options["use_default_graph_as_union"] = True
    else:
        options["default_graph"] = [ox.NamedNode(str(g)) for g in default]
    if named is not None:
        options["named_graphs"] = [ox.NamedNode(str(g)) for g in named]
    try:
        found = inner.query(
            prepared.text, prefixes=prepared.prefixes,
            substitutions={ox.Variable(k): _to_ox(v) for k, v in bindings.items()}, **options,
        )
    except RuntimeError as exc:
        if bindings and "projection" in str(exc).lower():
            raise ProjectionNeeded(str(exc)) from exc
        raise
    if isinstance(found, ox.QueryBoolean):
        out = Result("ASK")
        out.askAnswer = bool(found)
    elif isinstance(found, ox.QuerySolutions):
        out = Result("SELECT")
        out.vars = [Variable(v.value) for v in found.variables]
        out.bindings = [
            {var: _from_ox(value) for var, value in zip(out.vars, row, strict=True) if value is not None}
            for row in found
        ]
    else:  # QueryTriples (CONSTRUCT, DESCRIBE)
        out = Result("CONSTRUCT")
        graph = Graph()
        for t in found:
            graph.add((_from_ox(t.subject), _from_ox(t.predicate), _from_ox(t.object)))
        out.graph = graph
    return out


def run_endpoint(
    store: Any, prepared: Prepared, default: Graphs, named: Graphs, bindings: Mapping[str, Identifier]
) -> Result:
    """POST the query to the store's endpoint with the dataset as protocol parameters (rdflib's connector
    sends at most one ``default-graph-uri``; a scope may have several graphs)."""
    text = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prepared.prefixes.items()) + prepared.text
    if bindings:  # as rdflib's SPARQLStore does: a trailing VALUES block of N-Triples terms
        names = list(bindings)
        text += "\nVALUES ( {} )\n{{ ( {} ) }}\n".format(
            " ".join("?" + n for n in names), " ".join(bindings[n].n3() for n in names))
    fields: list[tuple[str, str]] = [("query", text)]
    fields += [("default-graph-uri", str(g)) for g in default or ()]
    fields += [("named-graph-uri", str(g)) for g in named or ()]
    if default is not None and not default:
        fields.append(("default-graph-uri", EMPTY_GRAPH))
    if named is not None and not named:
        fields.append(("named-graph-uri", EMPTY_GRAPH))
    options = getattr(store, "kwargs", {}) or {}
    fields += list((options.get("params") or {}).items())
    headers = {**(options.get("headers") or {}), "Accept": store.response_mime_types(),
               "Content-Type": "application/x-www-form-urlencoded"}
    request = Request(store.query_endpoint, data=urlencode(fields).encode(), headers=headers, method="POST")
    with urlopen(request, timeout=ENDPOINT_TIMEOUT) as reply:  # noqa: S310 - the operator's configured endpoint
        body = reply.read()
        kind = (reply.headers.get("Content-Type") or "application/sparql-results+xml").split(";")[0].strip()
    return Result.parse(io.BytesIO(body), content_type=kind)


#: a graph name no memlayer graph has (an empty list of graphs cannot be said in protocol parameters)
EMPTY_GRAPH = "https://memlayer.dev/graph/-"


def _to_ox(term: Identifier) -> Any:
    import pyoxigraph as ox

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        kind = None if term.datatype is None else ox.NamedNode(str(term.datatype))
        return ox.Literal(str(term), language=term.language, datatype=kind)
    raise TypeError(f"cannot bind {term!r} in a SPARQL query")


def _from_ox(term: Any) -> Identifier:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        kind = term.datatype.value
        return Literal(term.value, datatype=None if kind == str(XSD.string) else URIRef(kind))
    return Literal(str(term))  # an RDF-star triple term: its N-Triples text
