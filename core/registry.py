"""A lazy provider registry keyed by (kind, name), fed by entry points.

Every provider, memlayer's own included, is declared once: as an entry point in its distribution's
metadata (memlayer's are in pyproject.toml, so the package must be installed, ``pip install -e .``
in development). ``register(kind, name, factory)`` adds or overrides one at runtime. Nothing is
imported until a provider is asked for.

Kinds and their entry-point groups::

    llms            memlayer.llms             -> memlayer.llm.LLM
    embedders       memlayer.embedders        -> memlayer.embeddings.Embedder
    vector_indexes  memlayer.vector_indexes   -> memlayer.vectors.base.VectorIndex
    graph_stores    memlayer.graph_stores     -> memlayer.graph.base.GraphStore
    extractors      memlayer.extractors       -> memlayer.extract.Extractor
    stores          memlayer.stores           -> memlayer.storage.Store (by URL scheme: sqlite, postgresql)
    rerankers       memlayer.rerankers        -> memlayer.rerank.Reranker

Lookups are typed: ``create("embedders", "hash")`` is an ``Embedder`` to a type checker.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

from .errors import ConfigError

if TYPE_CHECKING:
    from .embeddings.base import Embedder
    from .extract.base import Extractor
    from .graph.base import GraphStore
    from .llm.base import LLM
    from .rerank.base import Reranker
    from .storage.base import Store
    from .vectors.base import VectorIndex

log = logging.getLogger("memlayer")

Kind = Literal["llms", "embedders", "vector_indexes", "graph_stores", "extractors", "stores", "rerankers"]
KINDS: tuple[str, ...] = get_args(Kind)
DISTRIBUTION = "memlayer"  # its entry points win over another distribution's of the same name

_lock = threading.Lock()
_registered: dict[tuple[str, str], Callable[..., Any] | EntryPoint] = {}
_runtime: set[tuple[str, str]] = set()  # names given by register(): entry points never replace them
_loaded_groups: set[str] = set()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown provider kind {kind!r}; expected one of {', '.join(KINDS)}")


def register(kind: Kind, name: str, factory: Callable[..., Any] | str) -> None:
    """Register a provider factory (a class, a callable, or a 'module:attr' string, imported lazily).

    A registration wins over an entry point of the same name."""
    _check_kind(kind)
    if not name or not isinstance(name, str):
        raise ConfigError("a provider needs a non-empty name")
    target: Callable[..., Any] | EntryPoint
    if isinstance(factory, str):
        target = EntryPoint(name=name, value=factory, group=f"memlayer.{kind}")
    elif callable(factory):
        target = factory
    else:
        raise ConfigError(f"a provider factory must be callable or a 'module:attr' string, got {factory!r}")
    with _lock:
        _registered[(kind, name)] = target
        _runtime.add((kind, name))


def _load_entry_points(kind: str) -> None:
    """Read the group's entry points once (called with the lock held). Two of one name: memlayer's
    own wins, else the first found; the other is ignored with a warning."""
    if kind in _loaded_groups:
        return
    for ep in entry_points(group=f"memlayer.{kind}"):
        key = (kind, ep.name)
        if key in _runtime:
            continue
        current = _registered.get(key)
        if isinstance(current, EntryPoint) and current.value != ep.value:
            kept, ignored = (ep, current) if _distribution(ep) == DISTRIBUTION else (current, ep)
            log.warning(
                "two entry points name the %s %r: keeping %s (%s), ignoring %s (%s)", _label(kind), ep.name,
                kept.value, _distribution(kept), ignored.value, _distribution(ignored),
            )
            _registered[key] = kept
            continue
        _registered[key] = ep
    _loaded_groups.add(kind)


def _distribution(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else str(dist.metadata["Name"])


def names(kind: Kind) -> list[str]:
    """Every registered name of a kind (entry points and runtime registrations)."""
    _check_kind(kind)
    with _lock:
        _load_entry_points(kind)
        return sorted(n for (k, n) in _registered if k == kind)


@overload
def get(kind: Literal["llms"], name: str) -> Callable[..., LLM]: ...
@overload
def get(kind: Literal["embedders"], name: str) -> Callable[..., Embedder]: ...
@overload
def get(kind: Literal["vector_indexes"], name: str) -> Callable[..., VectorIndex]: ...
@overload
def get(kind: Literal["graph_stores"], name: str) -> Callable[..., GraphStore]: ...
@overload
def get(kind: Literal["extractors"], name: str) -> Callable[..., Extractor]: ...
@overload
def get(kind: Literal["stores"], name: str) -> Callable[..., Store]: ...
@overload
def get(kind: Literal["rerankers"], name: str) -> Callable[..., Reranker]: ...
def get(kind: Kind, name: str) -> Callable[..., Any]:
    """The factory registered under (kind, name), imported on first use."""
    _check_kind(kind)
    with _lock:
        _load_entry_points(kind)
        found = _registered.get((kind, name))
    if found is None:
        raise ConfigError(_unknown(kind, name))
    if isinstance(found, EntryPoint):
        try:
            loaded = found.load()
        except (ImportError, AttributeError) as exc:
            if isinstance(exc, ImportError) and "pip install" in str(exc):
                raise  # a missing extra, already explained
            raise ConfigError(f"the {_label(kind)} {name!r} ({found.value}) cannot be loaded: {exc}") from exc
        with _lock:
            if _registered.get((kind, name)) is found:
                _registered[(kind, name)] = loaded
        return loaded  # type: ignore[no-any-return]
    return found


def _label(kind: str) -> str:
    return kind[:-1].replace("_", " ")


def _unknown(kind: str, name: str) -> str:
    known = names(kind)  # type: ignore[arg-type]
    message = (
        f"no {_label(kind)} named {name!r}; registered: {', '.join(known) or 'none'}. "
        f"Register one with memlayer.registry.register({kind!r}, {name!r}, factory) or an entry point "
        f"in the 'memlayer.{kind}' group."
    )
    if not any(_distribution(ep) == DISTRIBUTION for ep in entry_points(group=f"memlayer.{kind}")):
        message += (
            " memlayer's own providers are entry points of the installed package, and none was found: "
            'install it (pip install -e . in a source checkout, or pip install "memlayer").'
        )
    return message


@overload
def create(kind: Literal["llms"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any) -> LLM: ...
@overload
def create(
    kind: Literal["embedders"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any
) -> Embedder: ...
@overload
def create(
    kind: Literal["vector_indexes"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any
) -> VectorIndex: ...
@overload
def create(
    kind: Literal["graph_stores"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any
) -> GraphStore: ...
@overload
def create(
    kind: Literal["extractors"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any
) -> Extractor: ...
@overload
def create(kind: Literal["stores"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any) -> Store: ...
@overload
def create(
    kind: Literal["rerankers"], spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any
) -> Reranker: ...
def create(kind: Kind, spec: Any, *, offer: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """Build a provider from a spec: an instance (returned as is), a registered name, or
    a ``{"provider": name, "config": {...}}`` mapping.

    ``kwargs`` are always passed (the spec's config overrides them). ``offer`` holds values passed
    only to factories that take a parameter of that name (and that the config does not set), e.g.
    the configured LLM offered to an extractor."""
    config: dict[str, Any]
    if isinstance(spec, str):
        name, config = spec, {}
    elif isinstance(spec, dict):
        unknown = set(spec) - {"provider", "config"}
        if unknown or not isinstance(spec.get("provider"), str):
            raise ConfigError(
                f"a {_label(kind)} spec mapping takes 'provider' (a name) and optional 'config'; got keys {sorted(spec)}"
            )
        config = spec.get("config") or {}
        if not isinstance(config, dict):
            raise ConfigError(f"the 'config' of {_label(kind)} {spec['provider']!r} must be a mapping, got {config!r}")
        name = spec["provider"]
    else:
        return spec
    factory = get(kind, name)
    arguments = {**_accepted(factory, offer or {}), **kwargs, **config}
    try:
        return factory(**arguments)
    except TypeError as exc:
        if _fits(factory, arguments):
            raise
        raise ConfigError(f"{_label(kind)} {name!r} does not take these settings ({exc}); check its config keys") from exc


def _parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    try:
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: nothing known
        return None


def _accepted(factory: Callable[..., Any], offer: Mapping[str, Any]) -> dict[str, Any]:
    params = _parameters(factory)
    if params is None:
        return {}
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {k: v for k, v in offer.items() if k in params and params[k].kind in keyword}


def _fits(factory: Callable[..., Any], arguments: Mapping[str, Any]) -> bool:
    """Whether ``arguments`` bind to the factory's signature (a TypeError then comes from inside it)."""
    try:
        inspect.signature(factory).bind(**arguments)
    except TypeError:
        return False
    except ValueError:
        return True
    return True
