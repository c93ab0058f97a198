"""StoreCore: the state and plumbing shared by RDFGraphStore's parts (store, caches, queries, writes)."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDFS
from rdflib.term import Identifier

from ..errors import ConfigError, MemlayerError, ScopeError, StoreError
from ..types import Scope
from . import disk
from .backends import CONCURRENT_READS, Triple, open_store, oxigraph_writer
from .cache import EdgeCache
from .resolve import EmbeddingResolver, EntityIndex
from .traverse import Q_ALIASES, Q_EDGES, Q_LABELS, Q_SCOPE_GRAPHS, Edge, edges_from_rows
from .vocab import (
    DEFAULT_FUNCTIONAL,
    NAMESPACES,
    QUERY_PREFIXES,
    SCOPE_FIELDS,
    graph_iri,
    relationship_id,
    scope_of,
    scope_triples,
)

F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Damage of an on-disk Oxigraph store found during ``method``: the store is replaced by an empty one
    (see ``recreated``) and the call fails with a :class:`StoreError` saying so."""

    @functools.wraps(method)
    def wrapper(self: StoreCore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except MemlayerError:
            raise
        except Exception as exc:
            if self.location is None or not disk.is_damage(exc):
                raise
            damage = f"{type(exc).__name__}: {exc}"
        # outside the except block: the failed call's frames, which still hold the store, are gone
        self._recreate(damage)
        raise StoreError(f"{self.recreated}. The call failed; rebuild the graph (memlayer replays its "
                         "outbox into it) and try again")

    return wrapper  # type: ignore[return-value]


def covers(query: Scope, scope: Scope | None) -> bool:
    """Whether a graph of ``scope`` is covered by a (possibly partial) ``query`` scope."""
    if scope is None:
        return False
    return all(getattr(query, a) is None or getattr(query, a) == getattr(scope, a) for a, _, _ in SCOPE_FIELDS)


class StoreCore:
    """Opening the store, caches, and the low-level reads and writes every part uses."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        store: str = "oxigraph",
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        endpoint_options: dict[str, Any] | None = None,
        embedder: Any = None,
        similarity_threshold: float = 0.9,
        functional: list[str] | tuple[str, ...] | set[str] | frozenset[str] | None = None,
        cache_ttl: float | None = None,
        compact_on_close: bool = True,
    ) -> None:
        if not 0.0 < similarity_threshold <= 1.0:
            raise ConfigError(f"similarity_threshold must be in (0, 1], got {similarity_threshold}")
        self.kind = store
        #: whether the data outlives this object (the core rebuilds non-persistent stores from its outbox)
        self.persistent = store == "sparql" or (path is not None and store != "memory")
        opened = open_store(
            store, path, query_endpoint=query_endpoint, update_endpoint=update_endpoint,
            endpoint_options=endpoint_options,
        )
        self._store, self._atomic, self.location = opened.store, opened.atomic, opened.location
        #: why this on-disk Oxigraph store started empty (its directory was missing, as on first use, or
        #: damaged and moved aside, at open or when damage showed later), else None: its owner should then
        #: replay everything into it
        self.recreated: str | None = opened.recreated
        del opened  # a rewrite below must hold the only reference to the Oxigraph store
        self.compact_on_close = compact_on_close
        self._ds = Dataset(store=self._store, default_union=True)
        for prefix, ns in NAMESPACES.items():
            self._ds.bind(prefix, ns)
        names = DEFAULT_FUNCTIONAL if functional is None else functional
        self.functional: frozenset[str] = frozenset(relationship_id(n) for n in names)
        self._resolver = EmbeddingResolver(embedder, similarity_threshold) if embedder is not None else None
        self._lock = threading.RLock()
        self._reading: AbstractContextManager[Any] = nullcontext() if store in CONCURRENT_READS else self._lock
        self._ttl = cache_ttl if cache_ttl is not None else (30.0 if store == "sparql" else None)
        self._indexes: dict[URIRef, EntityIndex] = {}
        self._edges = EdgeCache(self._ttl)
        self._scopes: dict[Scope, tuple[float, list[URIRef]]] = {}
        self._registered: set[URIRef] = set()
        self._contexts: dict[URIRef, Graph] = {}
        self._closed = False
        if self.location is not None and (self.location / disk.PENDING).exists():
            self._rewrite()  # a process forgot data and stopped before its close() rewrote the files

    # -- plumbing -------------------------------------------------------------------------------------

    # -- the Oxigraph directory ------------------------------------------------------------------------

    def _inner(self) -> Any:
        """The pyoxigraph Store behind the rdflib one (Oxigraph only)."""
        return self._store._store  # type: ignore[attr-defined]

    def _use_inner(self, inner: Any) -> None:
        """Continue on another pyoxigraph Store (rewritten or recreated); rdflib objects keep working."""
        self._store._store = inner  # type: ignore[attr-defined]
        self._atomic = None if inner is None else oxigraph_writer(inner)

    def _forgot(self) -> None:
        """Data was deleted: mark the directory for a rewrite (done at close, or at the next open)."""
        if self.location is not None:
            (self.location / disk.PENDING).touch()

    def _rewrite(self) -> None:
        """Copy the data into a fresh directory so nothing deleted stays in the files (:func:`disk.rewrite`)."""
        assert self.location is not None
        with self._lock:
            box = [self._inner()]
            self._use_inner(None)  # rewrite() must hold the only reference: it closes the store
            try:
                inner = disk.rewrite(box, self.location)
            except disk.StoreInUse:
                self._use_inner(box.pop())  # nothing was done: go on with the same store
                raise
            except StoreError:
                self._closed = True  # the store was closed but cannot be reopened from here
                raise
            self._use_inner(inner)

    def _recreate(self, damage: str) -> None:
        """The directory is damaged: move it aside and go on with an empty store (``recreated`` says why)."""
        assert self.location is not None
        with self._lock:
            self._use_inner(None)
            inner, self.recreated = disk.replace_damaged(self.location, damage)
            self._use_inner(inner)
            self._forget_caches()

    def _check(self) -> None:
        if self._closed:
            raise StoreError("this graph store is closed; create a new RDFGraphStore to use it again")

    def _select(self, text: str, **bindings: Identifier) -> list[Any]:
        return list(self._ds.query(text, initNs=QUERY_PREFIXES, initBindings=bindings))

    def _ctx(self, graph: URIRef) -> Graph:
        ctx = self._contexts.get(graph)
        if ctx is None:
            ctx = self._contexts[graph] = Graph(store=self._store, identifier=graph)
        return ctx

    def _write(self, graph: URIRef, adds: list[Triple] = (), removes: list[Triple] = ()) -> None:  # type: ignore[assignment]
        """Remove, then add. On Oxigraph the whole write is one transaction (a kill leaves it done or not
        done, never half done); other stores apply it triple by triple (the memory store is rebuilt at
        open; a SPARQL endpoint gets the queued writes in one request at commit)."""
        ctx = self._ctx(graph)
        if self._atomic is not None:
            concrete = [t for pattern in removes for t in (ctx.triples(pattern) if None in pattern else [pattern])]
            if self._atomic(graph, adds, concrete):
                return
        for triple in removes:
            self._store.remove(triple, context=ctx)  # type: ignore[arg-type]
        if adds:
            self._store.addN((s, p, o, ctx) for s, p, o in adds)  # type: ignore[misc]

    def _commit(self) -> None:
        self._store.commit()

    def _fresh(self, loaded_at: float) -> bool:
        return self._ttl is None or time.monotonic() - loaded_at < self._ttl

    def _index(self, graph: URIRef) -> EntityIndex:
        index = self._indexes.get(graph)
        if index is not None and self._fresh(index.loaded_at):
            return index
        with self._lock:
            index = EntityIndex()
            for row in self._select(Q_LABELS, g=graph):
                index.add_label(row.e, str(row.l))
            for row in self._select(Q_ALIASES, g=graph):
                index.add_alias(row.e, str(row.l))
            self._indexes[graph] = index
        return index

    def _around(self, graph: URIRef, entity: URIRef) -> dict[URIRef, Edge]:
        """Every statement (current or closed) with the entity as subject or object, cached."""
        return self._edges.get(graph, entity, lambda: edges_from_rows(self._select(Q_EDGES, g=graph, e=entity)))

    def _name(self, graph: URIRef, entity: URIRef) -> str:
        name = self._index(graph).names.get(entity)
        if name is None:
            label = self._ctx(graph).value(entity, RDFS.label)
            name = str(label) if label is not None else str(entity).rsplit("/", 1)[-1]
        return name

    def _graphs(self, scope: Scope) -> list[URIRef]:
        """The graphs a (possibly partial) scope covers."""
        if scope.is_empty():
            raise ScopeError("graph operations need a scope with a user_id, agent_id or run_id")
        hit = self._scopes.get(scope)
        if hit is not None and self._fresh(hit[0]):
            return hit[1]
        attr = next(a for a, _, _ in SCOPE_FIELDS if getattr(scope, a) is not None)
        rows = self._select(Q_SCOPE_GRAPHS[attr], v=Literal(str(getattr(scope, attr))))
        graphs = sorted({URIRef(str(r.g)) for r in rows if covers(scope, scope_of(r.g))})
        self._scopes[scope] = (time.monotonic(), graphs)
        return graphs

    def _register(self, scope: Scope) -> URIRef:
        if scope.is_empty():
            raise ScopeError("graph operations need a scope with a user_id, agent_id or run_id")
        graph = graph_iri(scope)
        if graph not in self._registered:
            self._write(graph, adds=scope_triples(scope))  # type: ignore[arg-type]
            self._registered.add(graph)
            self._scopes.clear()
        return graph

    def _forget_caches(self, graph: URIRef | None = None) -> None:
        if graph is None:
            self._indexes.clear()
            self._registered.clear()
            self._edges.clear()
        else:
            self._indexes.pop(graph, None)
            self._registered.discard(graph)
            self._edges.invalidate(graph)
        self._scopes.clear()

