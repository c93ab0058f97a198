"""Per-entity neighbourhood cache: the statements around an entity, kept in step with this store's writes.

Entries are keyed (graph, entity) and hold current and closed statements alike. Writes by this store patch the cached neighbourhoods of
the statement's ends (write-through), rare bulk edits drop a whole graph. A generation counter keeps a load
that raced a write from being stored. Entries also expire after ``ttl`` seconds when one is set (shared
remote endpoints), and everything is dropped when ``max_edges`` would be exceeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from rdflib import URIRef

from .traverse import Edge

Change = Callable[[Edge | None], Edge | None]


class EdgeCache:
    def __init__(self, ttl: float | None, max_edges: int = 250_000) -> None:
        self.ttl = ttl
        self.max_edges = max_edges
        self._data: dict[URIRef, dict[Any, tuple[float, dict[URIRef, Edge]]]] = {}
        self._size = 0
        self._generation = 0

    def get(self, graph: URIRef, entity: URIRef, load: Callable[[], dict[URIRef, Edge]]) -> dict[URIRef, Edge]:
        """The cached statements around ``entity`` (never mutated in place), loading them on a miss."""
        hit = self._data.get(graph, {}).get(entity)
        if hit is not None and (self.ttl is None or time.monotonic() - hit[0] < self.ttl):
            return hit[1]
        generation = self._generation
        edges = load()
        if generation == self._generation:
            if self._size + len(edges) > self.max_edges:
                self.clear()
            self._data.setdefault(graph, {})[entity] = (time.monotonic(), edges)
            self._size += len(edges)
        return edges

    def patch(self, graph: URIRef, ends: Iterable[Any], st: URIRef, change: Change) -> None:
        """Apply ``change`` to statement ``st`` in the cached neighbourhoods of ``ends`` (copy-on-write);
        a result of None removes it there."""
        self._generation += 1
        per = self._data.get(graph)
        if not per:
            return
        for entity in set(ends):
            hit = per.get(entity)
            if hit is None:
                continue
            edges = dict(hit[1])
            edge = change(edges.get(st))
            if edge is None:
                edges.pop(st, None)
            else:
                edges[st] = edge
            per[entity] = (hit[0], edges)
            self._size += len(edges) - len(hit[1])

    def invalidate(self, graph: URIRef) -> None:
        self._generation += 1
        per = self._data.pop(graph, None)
        if per:
            self._size -= sum(len(edges) for _, edges in per.values())

    def clear(self) -> None:
        self._generation += 1
        self._data.clear()
        self._size = 0
