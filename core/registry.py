"""A lazy provider registry keyed by (kind, name), fed by entry points.

Built-in providers are declared as entry points in pyproject.toml exactly like third-party ones, so
adding a provider never changes the core. Nothing is imported until a provider is asked for.

Kinds and their entry-point groups::

    llms            memlayer.llms
    embedders       memlayer.embedders
    vector_indexes  memlayer.vector_indexes
    graph_stores    memlayer.graph_stores
    extractors      memlayer.extractors
    stores          memlayer.stores
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigError

KINDS = ("llms", "embedders", "vector_indexes", "graph_stores", "extractors", "stores")

# Built-ins, also declared as entry points; listed here too so a source checkout that was never
# installed (no entry-point metadata) still finds them.
_BUILTINS: dict[tuple[str, str], str] = {
    ("embedders", "sentence-transformers"): "memlayer.embeddings.sentence_transformers:SentenceTransformerEmbedder",
    ("embedders", "local"): "memlayer.embeddings.sentence_transformers:SentenceTransformerEmbedder",
    ("embedders", "openai"): "memlayer.embeddings.openai:OpenAIEmbedder",
    ("embedders", "hash"): "memlayer.embeddings.hashing:HashingEmbedder",
    ("llms", "openai"): "memlayer.llm.openai:OpenAILLM",
    ("vector_indexes", "faiss"): "memlayer.vectors.faiss:FaissIndex",
    ("extractors", "pattern"): "memlayer.extract.patterns:PatternExtractor",
    ("extractors", "llm"): "memlayer.extract.llm:LLMExtractor",
    ("graph_stores", "rdf"): "memlayer.graph.rdf:RDFGraphStore",
    ("stores", "sqlite"): "memlayer.storage.sqlite:SQLiteStore.from_url",
}

_lock = threading.Lock()
_registered: dict[tuple[str, str], Callable[..., Any] | str] = {}
_loaded_entry_points: set[str] = set()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown provider kind {kind!r}; expected one of {', '.join(KINDS)}")


def register(kind: str, name: str, factory: Callable[..., Any] | str) -> None:
    """Register a provider factory (a class, a callable, or a 'module:attr' string, imported lazily)."""
    _check_kind(kind)
    with _lock:
        _registered[(kind, name)] = factory


def _load_entry_points(kind: str) -> None:
    if kind in _loaded_entry_points:
        return
    group = f"memlayer.{kind}"
    for ep in entry_points(group=group):
        _registered.setdefault((kind, ep.name), ep.value)
    _loaded_entry_points.add(kind)


def names(kind: str) -> list[str]:
    """Every registered name of a kind (built-ins, entry points, runtime registrations)."""
    _check_kind(kind)
    with _lock:
        _load_entry_points(kind)
        found = {n for (k, n) in _registered if k == kind} | {n for (k, n) in _BUILTINS if k == kind}
    return sorted(found)


def _import(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def get(kind: str, name: str) -> Callable[..., Any]:
    """The factory registered under (kind, name), imported on first use."""
    _check_kind(kind)
    with _lock:
        _load_entry_points(kind)
        factory = _registered.get((kind, name)) or _BUILTINS.get((kind, name))
    if factory is None:
        raise ConfigError(
            f"no {kind[:-1].replace('_', ' ')} named {name!r}; registered: {', '.join(names(kind)) or 'none'}. "
            f"Register one with memlayer.registry.register({kind!r}, {name!r}, factory) or an entry point "
            f"in the 'memlayer.{kind}' group."
        )
    if isinstance(factory, str):
        factory = _import(factory)
        with _lock:
            _registered[(kind, name)] = factory
    return factory


def create(kind: str, spec: Any, **kwargs: Any) -> Any:
    """Build a provider from a spec: an instance (returned as is), a registered name, or
    a ``{"provider": name, "config": {...}}`` mapping."""
    if isinstance(spec, str):
        return get(kind, spec)(**kwargs)
    if isinstance(spec, dict):
        unknown = set(spec) - {"provider", "config"}
        if unknown or "provider" not in spec:
            raise ConfigError(
                f"a {kind[:-1]} spec mapping takes 'provider' and optional 'config'; got keys {sorted(spec)}"
            )
        return get(kind, spec["provider"])(**{**kwargs, **(spec.get("config") or {})})
    return spec
