"""Opening the rdflib store behind an RDFGraphStore: oxigraph (default), memory, sparql, or any plugin."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rdflib import Literal, URIRef, plugin
from rdflib.store import NO_STORE, VALID_STORE, Store
from rdflib.term import Identifier, Node

from ..errors import ConfigError, StoreError, missing_extra
from .vocab import DATASET_ID

logger = logging.getLogger("memlayer.graph")
Triple = tuple[Node, Node, Node]
#: writes one graph's (adds, removes) as one transaction; False when it cannot (then nothing was written)
AtomicWrite = Callable[[Identifier, Sequence[Triple], Sequence[Triple]], bool]

# Kinds whose reads are safe to run concurrently with each other (writes are always serialised).
CONCURRENT_READS = frozenset({"oxigraph", "sparql"})


def open_store(
    kind: str,
    path: str | os.PathLike[str] | None,
    *,
    query_endpoint: str | None = None,
    update_endpoint: str | None = None,
    endpoint_options: dict[str, Any] | None = None,
) -> tuple[Store, AtomicWrite | None]:
    """An opened rdflib Store of the given kind, with the fixed dataset identifier, and its
    single-transaction writer when it has one (Oxigraph; it holds the store open until dropped)."""
    if kind == "oxigraph":
        return _oxigraph(path)
    if kind == "memory":
        if path is not None:
            logger.info("graph store 'memory' keeps nothing on disk; path %s is ignored", path)
        return plugin.get("Memory", Store)(identifier=DATASET_ID), None
    if kind == "sparql":
        return _sparql(query_endpoint, update_endpoint, endpoint_options or {}), None
    return _plugin(kind, path), None


def _oxigraph(path: str | os.PathLike[str] | None) -> tuple[Store, AtomicWrite]:
    try:
        import pyoxigraph
        from oxrdflib import OxigraphStore
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("graph", "oxrdflib") from exc
    if path is None:
        logger.info("graph store 'oxigraph' without a path is in memory only; pass path= to persist it")
        inner = pyoxigraph.Store()
    else:
        location = Path(path)
        if location.exists() and not location.is_dir():
            raise ConfigError(f"graph store path {location} is a file; the oxigraph store needs a directory")
        location.mkdir(parents=True, exist_ok=True)
        try:
            inner = pyoxigraph.Store(str(location))
        except OSError as exc:
            raise StoreError(
                f"cannot open the oxigraph graph store at {location}: {exc}. Is another process using it? "
                "Close it there, or serve it with `oxigraph serve` and use store='sparql'."
            ) from exc
    return OxigraphStore(identifier=DATASET_ID, store=inner), _oxigraph_writer(inner)


def _oxigraph_writer(inner: Any) -> AtomicWrite:
    """Applies one graph's removals and additions in a single Oxigraph transaction (one SPARQL update,
    which Oxigraph applies entirely or not at all). Returns False, having done nothing, for terms it does
    not write this way (blank nodes); the caller then writes those itself."""
    import pyoxigraph as ox

    def term(node: Node) -> Any:
        if isinstance(node, URIRef):
            return ox.NamedNode(str(node))
        if isinstance(node, Literal):
            kind = ox.NamedNode(str(node.datatype)) if node.datatype is not None else None
            return ox.Literal(str(node), language=node.language, datatype=kind)
        return None

    def write(graph: Identifier, adds: Sequence[Triple], removes: Sequence[Triple]) -> bool:
        name = ox.NamedNode(str(graph))
        add = [[term(n) for n in t] for t in adds]
        rem = [[term(n) for n in t] for t in removes]
        if not isinstance(graph, URIRef) or any(x is None for t in (*add, *rem) for x in t):
            return False
        if not rem:
            if add:
                inner.extend([ox.Quad(t[0], t[1], t[2], name) for t in add])  # one transaction already
            return True

        def block(triples: list[list[Any]]) -> str:
            return " .\n".join(" ".join(str(x) for x in t) for t in triples)  # N-Triples syntax of each term

        parts = [f"DELETE DATA {{ GRAPH {name} {{\n{block(rem)} }} }}"]
        if add:
            parts.append(f"INSERT DATA {{ GRAPH {name} {{\n{block(add)} }} }}")
        inner.update(" ;\n".join(parts))
        return True

    return write


def _sparql(query_endpoint: str | None, update_endpoint: str | None, options: dict[str, Any]) -> Store:
    if not query_endpoint:
        raise ConfigError(
            "graph store 'sparql' needs query_endpoint= (and update_endpoint= when updates go elsewhere), "
            "e.g. query_endpoint='http://localhost:7878/query', update_endpoint='http://localhost:7878/update'"
        )
    from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

    # autocommit=False queues writes; rdflib sends them before the next read and on commit().
    return SPARQLUpdateStore(
        query_endpoint=query_endpoint,
        update_endpoint=update_endpoint or query_endpoint,
        context_aware=True,
        autocommit=False,
        dirty_reads=False,
        **options,
    )


def _plugin(kind: str, path: str | os.PathLike[str] | None) -> Store:
    try:
        cls = plugin.get(kind, Store)
    except plugin.PluginException as exc:
        raise ConfigError(
            f"unknown graph store {kind!r}: use 'oxigraph' (persistent, recommended), 'memory', 'sparql', "
            "or the name of an installed rdflib Store plugin"
        ) from exc
    store = cls(identifier=DATASET_ID)
    if not (store.context_aware and getattr(store, "graph_aware", False)):
        raise ConfigError(f"rdflib store {kind!r} is not graph-aware; memlayer needs named graphs")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        state = store.open(str(path), create=False)
        if state == NO_STORE:
            state = store.open(str(path), create=True)
        if state not in (VALID_STORE, None):
            raise StoreError(f"rdflib store {kind!r} could not open {path} (state {state})")
    return store
