"""The ``sparql`` graph store: the knowledge graph on a SPARQL 1.1 server that many processes share.

``graph={"provider": "sparql", "config": {"query_endpoint": "http://host:7878/query",
"update_endpoint": "http://host:7878/update"}}`` — the Oxigraph server, Apache Jena Fuseki, GraphDB and
Amazon Neptune speak the protocol. It is an :class:`~memlayer.graph.rdf.RDFGraphStore` over rdflib's
SPARQLUpdateStore; the core applies the store's graph outbox to it once, whichever process does it
(``projections.graph``, shared mode).
"""

from __future__ import annotations

from typing import Any

from .rdf import RDFGraphStore


def sparql_graph_store(query_endpoint: str | None = None, update_endpoint: str | None = None,
                       **options: Any) -> RDFGraphStore:
    """An RDFGraphStore on the endpoint (``update_endpoint`` defaults to ``query_endpoint``); other options
    (``embedder``, ``functional``, ``cache_ttl``, ``endpoint_options``...) are RDFGraphStore's."""
    return RDFGraphStore(store="sparql", query_endpoint=query_endpoint, update_endpoint=update_endpoint, **options)
