"""The graph store protocol the core talks to. All methods are synchronous (rdflib is); the async core
runs them in a worker thread.

Scopes: a write goes to the graph of exactly the given scope; every read or delete covers all graphs whose
scope has the given fields (``Scope(user_id="u")`` covers u's per-agent and per-run graphs too).

Relation dicts returned by ``search``::

    {"source", "relationship", "destination", "valid_from", "valid_to",   # ISO 8601 strings / None
     "memory_ids": [...], "score": float, "hops": 1 | 2, "statement": IRI}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rdflib import Graph

from ..types import Relation, Scope


@runtime_checkable
class GraphStore(Protocol):
    def add(
        self,
        scope: Scope,
        relations: list[Relation],
        *,
        memory_id: str,
        source_text: str,
        message_ids: list[str] | None = None,
        at: datetime,
    ) -> list[dict[str, Any]]:
        """Store relations with provenance and validity. One dict per relation: source, relationship,
        destination, event ("ADD" new, "UPDATE" new and superseding, "NONE" already current) and
        ``closed`` (the superseded relations, as source/relationship/destination dicts)."""
        ...

    def search(
        self,
        scope: Scope,
        query: str,
        *,
        hops: int = 2,
        as_of: datetime | None = None,
        limit: int = 20,
        include_expired: bool = False,
    ) -> list[dict[str, Any]]:
        """Relations within 1-2 hops of the entities the query names, best first; current only unless
        ``as_of`` or ``include_expired``."""
        ...

    def memory_ids_for(self, scope: Scope, query: str, *, as_of: datetime | None = None) -> dict[str, float]:
        """Memory id -> graph score of the relations the query reaches."""
        ...

    def forget_memory(self, scope: Scope, memory_id: str) -> None:
        """Remove the statements that came only from this memory."""
        ...

    def close_memory(self, scope: Scope, memory_id: str, at: datetime) -> list[dict[str, Any]]:
        """The memory stopped being true at ``at``: end the current statements no memory still true supports;
        returns them as source/relationship/destination dicts. (Optional: a store without it keeps them.)"""
        ...

    def delete_scope(self, scope: Scope) -> None:
        """Drop the scope's named graph(s) entirely."""
        ...

    def graph(self, scope: Scope) -> Graph:
        """The named graph of exactly this scope, for SPARQL by users."""
        ...

    def sparql(
        self, query: str, bindings: dict[str, Any] | None = None, *, scope: Scope | None = None
    ) -> list[dict[str, Any]]:
        """A read-only query (SELECT/ASK/CONSTRUCT/DESCRIBE); user values only through ``bindings``. With a
        scope it must reach only that scope's graphs (``GRAPH ?g`` and ``FROM`` included); ``SERVICE`` and
        data from elsewhere are refused before any request (:class:`memlayer.errors.QueryError`)."""
        ...

    def export(self, fmt: str = "trig", scope: Scope | None = None) -> str:
        """Serialise as "turtle"/"ttl", "trig", "json-ld" (or "nquads")."""
        ...

    def import_(self, data: str, fmt: str = "trig") -> int:
        """Load serialised data; returns the number of triples written."""
        ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...
