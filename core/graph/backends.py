"""Opening the rdflib store behind an RDFGraphStore: oxigraph (default), memory, sparql, or any plugin."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import Literal, URIRef, plugin
from rdflib.store import NO_STORE, VALID_STORE, Store
from rdflib.term import Identifier, Node

from ..errors import ConfigError, StoreError, missing_extra
from . import disk
from .vocab import DATASET_ID

logger = logging.getLogger("memlayer.graph")
Triple = tuple[Node, Node, Node]
#: writes one graph's (adds, removes) as one transaction; False when it cannot (then nothing was written)
AtomicWrite = Callable[[Identifier, Sequence[Triple], Sequence[Triple]], bool]

# Kinds whose reads are safe to run concurrently with each other (writes are always serialised).
CONCURRENT_READS = frozenset({"oxigraph", "sparql"})


@dataclass
class Opened:
    """An opened rdflib Store with the fixed dataset identifier; its single-transaction writer when it has
    one (Oxigraph; it holds the store open until dropped); its directory when it is Oxigraph on disk; and,
    when that directory was missing or damaged so the store started empty, the reason."""

    store: Store
    atomic: AtomicWrite | None = None
    location: Path | None = None
    recreated: str | None = None


def open_store(
    kind: str,
    path: str | os.PathLike[str] | None,
    *,
    query_endpoint: str | None = None,
    update_endpoint: str | None = None,
    endpoint_options: dict[str, Any] | None = None,
) -> Opened:
    if kind == "oxigraph":
        return _oxigraph(path)
    if kind == "memory":
        if path is not None:
            logger.info("graph store 'memory' keeps nothing on disk; path %s is ignored", path)
        return Opened(plugin.get("Memory", Store)(identifier=DATASET_ID))
    if kind == "sparql":
        return Opened(_sparql(query_endpoint, update_endpoint, endpoint_options or {}))
    return Opened(_plugin(kind, path))


def _oxigraph(path: str | os.PathLike[str] | None) -> Opened:
    try:
        import pyoxigraph
        from oxrdflib import OxigraphStore
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("graph", "oxrdflib") from exc
    if path is None:
        logger.info("graph store 'oxigraph' without a path is in memory only; pass path= to persist it")
        inner = pyoxigraph.Store()
        return Opened(OxigraphStore(identifier=DATASET_ID, store=inner), oxigraph_writer(inner))
    location = Path(path)
    if location.exists() and not location.is_dir():
        raise ConfigError(f"graph store path {location} is a file; the oxigraph store needs a directory")
    inner, recreated = disk.open_dir(location)
    return Opened(OxigraphStore(identifier=DATASET_ID, store=inner), oxigraph_writer(inner), location, recreated)


def oxigraph_writer(inner: Any) -> AtomicWrite:
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
