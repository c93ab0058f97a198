"""Opening the rdflib store behind an RDFGraphStore: oxigraph (default), memory, sparql, or any plugin."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from rdflib import plugin
from rdflib.store import NO_STORE, VALID_STORE, Store

from ..errors import ConfigError, StoreError, missing_extra
from .vocab import DATASET_ID

logger = logging.getLogger("memlayer.graph")

# Kinds whose reads are safe to run concurrently with each other (writes are always serialised).
CONCURRENT_READS = frozenset({"oxigraph", "sparql"})


def open_store(
    kind: str,
    path: str | os.PathLike[str] | None,
    *,
    query_endpoint: str | None = None,
    update_endpoint: str | None = None,
    endpoint_options: dict[str, Any] | None = None,
) -> Store:
    """An opened rdflib Store of the given kind, with the fixed dataset identifier."""
    if kind == "oxigraph":
        return _oxigraph(path)
    if kind == "memory":
        if path is not None:
            logger.info("graph store 'memory' keeps nothing on disk; path %s is ignored", path)
        return plugin.get("Memory", Store)(identifier=DATASET_ID)
    if kind == "sparql":
        return _sparql(query_endpoint, update_endpoint, endpoint_options or {})
    return _plugin(kind, path)


def _oxigraph(path: str | os.PathLike[str] | None) -> Store:
    try:
        import pyoxigraph
        from oxrdflib import OxigraphStore
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("graph", "oxrdflib") from exc
    if path is None:
        logger.info("graph store 'oxigraph' without a path is in memory only; pass path= to persist it")
        return OxigraphStore(identifier=DATASET_ID, store=pyoxigraph.Store())
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
    return OxigraphStore(identifier=DATASET_ID, store=inner)


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
